/*
 * coder_rans_avx2.c - the rANS coder's loops in AVX2: whole rounds of 8
 * to 64 interleaved states, eight to a vector, coding exactly what the
 * scalar loops of coder_rans.c code (cmp on every plane of the tests),
 * so that a machine without AVX2 reads and writes the same bytes.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "rans.h"

#ifdef Z4_RANS_AVX2
#include <immintrin.h>

/*
 * For each mask of the 8 lanes that take a word, the byte shuffle that
 * gives each of them its word from the 16 bytes at the read position,
 * in both halves of a vector: for the k-th lane set, bytes 2k and
 * 2k + 1, zero-extended; 0 for the lanes not set.
 */
static uint8_t word_shuffle[256][32] __attribute__((aligned(32)));
/*
 * The encoder's inverse: for each output lane k of the 8, the lane whose
 * word goes there, so that the words of the set lanes end up in the top
 * lanes, in lane order.
 */
static uint8_t lane_word[256][8];

static void
word_tables_init(void)
{
	for (unsigned m = 0; m < 256; m++) {
		unsigned c = (unsigned)__builtin_popcount(m);
		memset(word_shuffle[m], 0x80, 32);
		for (unsigned j = 0, k = 0; j < 8; j++)
			if (m >> j & 1) {
				word_shuffle[m][4 * j] = (uint8_t)(2 * k);
				word_shuffle[m][4 * j + 1] =
				    (uint8_t)(2 * k + 1);
				lane_word[m][8 - c + k++] = (uint8_t)j;
			}
	}
}

static void
word_tables(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, word_tables_init);
}

/*
 * Renormalise 8 decoded states y whose lanes below L, need (m as a bit
 * mask), take a word each, read at *p in lane order.
 */
__attribute__((target("avx2"))) static inline __m256i
take_words(__m256i y, __m256i need, unsigned m, const uint8_t **p)
{
	__m256i words = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(
	    _mm_loadu_si128((const __m128i *)*p)),
	    _mm256_load_si256((const __m256i *)word_shuffle[m]));
	*p += 2 * (unsigned)__builtin_popcount(m);
	/* Shifted by 16 where a word comes in, by 0 elsewhere. */
	return _mm256_or_si256(_mm256_sllv_epi32(y, _mm256_and_si256(need,
	    _mm256_set1_epi32(16))), words);
}

/*
 * Decode step of 8 states from packed entries: freq * hi + bias as
 * (freq - 1) * hi + hi + bias, freq - 1 fitting 12 bits.
 */
__attribute__((target("avx2"))) static inline __m256i
step8_packed(__m256i v, __m256i e, __m128i shift)
{
	const __m256i low12 = _mm256_set1_epi32(0xfff);
	__m256i hi = _mm256_srl_epi32(v, shift);
	__m256i f1 = _mm256_and_si256(_mm256_srli_epi32(e, 12), low12);
	return _mm256_add_epi32(_mm256_mullo_epi32(f1, hi),
	    _mm256_add_epi32(hi, _mm256_and_si256(e, low12)));
}

/* The low byte of each of 8 lanes, stored as 8 bytes at dst. */
__attribute__((target("avx2"))) static inline void
store8(uint8_t *dst, __m256i sym)
{
	const __m256i pack = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1,
	    -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8, 12, -1, -1, -1, -1,
	    -1, -1, -1, -1, -1, -1, -1, -1);
	sym = _mm256_shuffle_epi8(sym, pack);
	uint32_t lo = (uint32_t)_mm256_extract_epi32(sym, 0);
	uint32_t hi = (uint32_t)_mm256_extract_epi32(sym, 4);
	memcpy(dst, &lo, 4);
	memcpy(dst + 4, &hi, 4);
}

/* The symbols (top bytes) of 4 vectors of 8 lanes, as 32 bytes at dst. */
__attribute__((target("avx2"))) static inline void
store32(uint8_t *dst, const __m256i *e)
{
	const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
	__m256i ab = _mm256_packus_epi32(_mm256_srli_epi32(e[0], 24),
	    _mm256_srli_epi32(e[1], 24));
	__m256i cd = _mm256_packus_epi32(_mm256_srli_epi32(e[2], 24),
	    _mm256_srli_epi32(e[3], 24));
	/* Packing works within 128-bit halves: dwords of 4 bytes reordered. */
	_mm256_storeu_si256((__m256i *)dst, _mm256_permutevar8x32_epi32(
	    _mm256_packus_epi16(ab, cd), order));
}

/*
 * Decode whole rounds of S = 8V states with AVX2, as V vectors of 8, from a
 * table of B <= 12 (the packed words; the z4 encoder writes no other): the
 * table lookups of all V are made together, so their latencies overlap,
 * then each vector takes its words in state order, which is the order the
 * scalar decoder reads them in.  Stops where the scalar loop must take
 * over (fewer than S bytes, or 2S bytes of words, left); returns the
 * bytes decoded and moves *pp.
 */
__attribute__((target("avx2"))) static inline
__attribute__((always_inline)) size_t
decode_avx2(const struct dec_table *t, uint32_t *x, uint8_t *dst,
    size_t n, const uint8_t **pp, const uint8_t *end, const unsigned V)
{
	const uint8_t *p = *pp;
	const __m256i mask = _mm256_set1_epi32((int)((1u << t->bits) - 1));
	const __m128i shift = _mm_cvtsi32_si128((int)t->bits);
	const uint32_t *pkt = t->packed;
	const __m256i low = _mm256_set1_epi32((int)RANS_L);
	const unsigned S = 8 * V;
	__m256i v[8];
	size_t i = 0;

	for (unsigned q = 0; q < V; q++)
		v[q] = _mm256_loadu_si256((const __m256i *)(x + 8 * q));
	/*
	 * One word a state: symbol, frequency and bias at once.  The 8V
	 * words are loaded one by one, not gathered: on the machines
	 * measured that decodes 1.7 to 2.7 times as fast.  Then the V
	 * vectors' renormalisations: which lanes need a word, and so where
	 * each vector's words start, are known before any is loaded.
	 */
	for (; i + S <= n && (size_t)(end - p) >= 2 * S; i += S) {
		uint32_t w[64] __attribute__((aligned(32)));
		__m256i e[8], y[8], need[8];
		unsigned m[8];
		for (unsigned q = 0; q < V; q++)
			_mm256_store_si256((__m256i *)(w + 8 * q),
			    _mm256_and_si256(v[q], mask));
		for (unsigned k = 0; k < S; k++)
			w[k] = pkt[w[k]];
		for (unsigned q = 0; q < V; q++) {
			e[q] = _mm256_load_si256((const __m256i *)(w + 8 * q));
			y[q] = step8_packed(v[q], e[q], shift);
			need[q] = _mm256_cmpgt_epi32(low, y[q]);
			m[q] = (unsigned)_mm256_movemask_ps(
			    _mm256_castsi256_ps(need[q]));
			if (V < 4)
				store8(dst + i + 8 * q,
				    _mm256_srli_epi32(e[q], 24));
		}
		for (unsigned q = 0; V >= 4 && q < V; q += 4)
			store32(dst + i + 8 * q, e + q);
		for (unsigned q = 0; q < V; q++)
			v[q] = take_words(y[q], need[q], m[q], &p);
	}
	for (unsigned q = 0; q < V; q++)
		_mm256_storeu_si256((__m256i *)(x + 8 * q), v[q]);
	*pp = p;
	return i;
}

/*
 * Whole rounds of S = 8V digrams, as decode_avx2: one 64-bit word a
 * state gives both bytes and the step.  The indices are stored with the
 * middle quarters of each vector swapped, so that, loaded back as two
 * vectors of four words, one shuffle takes the low halves of all eight
 * in lane order and another the bytes.  Returns the digrams decoded.
 */
__attribute__((target("avx2"))) static inline
__attribute__((always_inline)) size_t
digrams_avx2(const struct dec_table *t, uint32_t *x, uint8_t *dst,
    size_t n, const uint8_t **pp, const uint8_t *end, const unsigned V)
{
	const uint8_t *p = *pp;
	const __m256i mask = _mm256_set1_epi32((int)((1u << t->bits) - 1));
	const __m128i shift = _mm_cvtsi32_si128((int)t->bits);
	const __m256i low14 = _mm256_set1_epi32(0x3fff);
	const __m256i low = _mm256_set1_epi32((int)RANS_L);
	const uint64_t *d64 = t->d64;
	const unsigned S = 8 * V;
	__m256i v[8];
	size_t i = 0;

	for (unsigned q = 0; q < V; q++)
		v[q] = _mm256_loadu_si256((const __m256i *)(x + 8 * q));
	for (; i + S <= n && (size_t)(end - p) >= 2 * S; i += S) {
		uint32_t w[64] __attribute__((aligned(32)));
		uint64_t e64[64] __attribute__((aligned(32)));
		__m256i e[8], y[8], need[8], two[8];
		unsigned m[8];
		for (unsigned q = 0; q < V; q++)
			_mm256_store_si256((__m256i *)(w + 8 * q),
			    _mm256_permute4x64_epi64(_mm256_and_si256(v[q],
			    mask), 0xd8));
		for (unsigned k = 0; k < S; k++)
			e64[k] = d64[w[k]];
		for (unsigned q = 0; q < V; q++) {
			__m256 a = _mm256_castsi256_ps(_mm256_load_si256(
			    (const __m256i *)(e64 + 8 * q)));
			__m256 b = _mm256_castsi256_ps(_mm256_load_si256(
			    (const __m256i *)(e64 + 8 * q + 4)));
			e[q] = _mm256_castps_si256(_mm256_shuffle_ps(a, b,
			    0x88));
			two[q] = _mm256_castps_si256(_mm256_shuffle_ps(a, b,
			    0xdd));
			__m256i hi = _mm256_srl_epi32(v[q], shift);
			__m256i f1 = _mm256_and_si256(_mm256_srli_epi32(e[q],
			    14), low14);
			y[q] = _mm256_add_epi32(_mm256_mullo_epi32(f1, hi),
			    _mm256_add_epi32(hi, _mm256_and_si256(e[q],
			    low14)));
			need[q] = _mm256_cmpgt_epi32(low, y[q]);
			m[q] = (unsigned)_mm256_movemask_ps(
			    _mm256_castsi256_ps(need[q]));
		}
		for (unsigned q = 0; q < V; q++)
			if (q % 2 == 0 && q + 1 < V)
				_mm256_storeu_si256((__m256i *)(dst + 2 * (i +
				    8 * q)), _mm256_permute4x64_epi64(
				    _mm256_packus_epi32(two[q], two[q + 1]),
				    0xd8));
			else if (q % 2 == 0)
				_mm_storeu_si128((__m128i *)(dst + 2 * (i +
				    8 * q)), _mm256_castsi256_si128(
				    _mm256_permute4x64_epi64(
				    _mm256_packus_epi32(two[q], two[q]),
				    0x08)));
		for (unsigned q = 0; q < V; q++)
			v[q] = take_words(y[q], need[q], m[q], &p);
	}
	for (unsigned q = 0; q < V; q++)
		_mm256_storeu_si256((__m256i *)(x + 8 * q), v[q]);
	*pp = p;
	return i;
}

/*
 * Whole rounds of 8, 16, 32 or 64 states (nst), each its own loop, of
 * digrams or bytes as the table says: n and the result count those.
 */
__attribute__((target("avx2"))) size_t
z4_rans_avx2_decode(const struct dec_table *t, uint32_t *x, uint8_t *dst,
    size_t n, const uint8_t **pp, const uint8_t *end, unsigned nst)
{
	unsigned v = nst / 8;
	word_tables();
#define ROUNDS(f) (v == 1 ? f(t, x, dst, n, pp, end, 1) : \
	    v == 2 ? f(t, x, dst, n, pp, end, 2) : \
	    v == 4 ? f(t, x, dst, n, pp, end, 4) : f(t, x, dst, n, pp, end, 8))
	return t->digrams ? ROUNDS(digrams_avx2) : ROUNDS(decode_avx2);
#undef ROUNDS
}

/*
 * Encode whole rounds of 8V states from byte i down to 0 with AVX2, as
 * V vectors of 8 states, the exact arithmetic of enc_put: each
 * symbol's coding constants are one 64-bit word (rcp, then bias,
 * M - freq and shift packed above it; x_max is M - (M - freq) shifted),
 * and the words of the lanes that renormalise are stored below p in lane
 * order, the vectors from the highest states down, which is where the
 * scalar encoder puts them.  Returns the new p.  The words are loaded
 * one by one: the symbols are known ahead, so the loads wait on nothing,
 * and on the machines measured a gather of them was slower than scalar
 * coding while these loads make coding twice as fast.
 */
__attribute__((target("avx2"))) static inline
__attribute__((always_inline)) uint8_t *
encode_avx2(const uint64_t *table, unsigned bits, const uint8_t *src,
    const uint16_t *ix, size_t i, uint32_t *x, uint8_t *p, const unsigned V)
{
	const __m256i m = _mm256_set1_epi32(1 << bits);
	const __m128i up = _mm_cvtsi32_si128(31 - (int)bits);
	const __m256i halves = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
	const __m256i low15 = _mm256_set1_epi32(0x7fff);
	const __m256i low14 = _mm256_set1_epi32(0x3fff);
	const __m256i low16 = _mm256_set1_epi32(0xffff);
	const __m256i top = _mm256_set1_epi32((int)0x80000000u);
	__m256i v[8];

	for (unsigned q = 0; q < V; q++)
		v[q] = _mm256_loadu_si256((const __m256i *)(x + 8 * q));
	for (; i > 0; i -= 8 * V) {
		for (unsigned q = V; q-- > 0;) {
			size_t at = i - 8 * V + 8 * q;
			/* Inserted, not stored and reloaded: no stall. */
#define T(k) (long long)table[ix ? ix[at + k] : src[at + k]]
			__m256i lo = _mm256_setr_epi64x(T(0), T(1), T(2), T(3));
			__m256i hi = _mm256_setr_epi64x(T(4), T(5), T(6), T(7));
#undef T
			lo = _mm256_permutevar8x32_epi32(lo, halves);
			hi = _mm256_permutevar8x32_epi32(hi, halves);
			__m256i rcp = _mm256_permute2x128_si256(lo, hi, 0x20);
			__m256i meta = _mm256_permute2x128_si256(lo, hi, 0x31);
			__m256i bias = _mm256_and_si256(meta, low15);
			__m256i cmpl = _mm256_and_si256(
			    _mm256_srli_epi32(meta, 15), low14);
			__m256i shift = _mm256_or_si256(_mm256_slli_epi32(
			    _mm256_srli_epi32(meta, 29), 1),
			    _mm256_srli_epi32(rcp, 31));
			rcp = _mm256_or_si256(rcp, top);
			__m256i xmax = _mm256_sll_epi32(_mm256_sub_epi32(m,
			    cmpl), up);
			__m256i xs = v[q];
			__m256i need = _mm256_cmpeq_epi32(
			    _mm256_max_epu32(xs, xmax), xs);
			unsigned mask = (unsigned)_mm256_movemask_ps(
			    _mm256_castsi256_ps(need));
			__m256i w = _mm256_permutevar8x32_epi32(
			    _mm256_and_si256(xs, low16), _mm256_cvtepu8_epi32(
			    _mm_loadl_epi64((const __m128i *)lane_word[mask])));
			w = _mm256_permute4x64_epi64(_mm256_packus_epi32(w, w),
			    0x08);
			_mm_storeu_si128((__m128i *)(p - 16),
			    _mm256_castsi256_si128(w));
			p -= 2 * (unsigned)__builtin_popcount(mask);
			xs = _mm256_blendv_epi8(xs, _mm256_srli_epi32(xs, 16),
			    need);
			__m256i even = _mm256_srli_epi64(_mm256_mul_epu32(xs,
			    rcp), 32);
			__m256i odd = _mm256_mul_epu32(
			    _mm256_srli_epi64(xs, 32),
			    _mm256_srli_epi64(rcp, 32));
			__m256i qv = _mm256_srlv_epi32(_mm256_blend_epi32(even,
			    odd, 0xaa), shift);
			v[q] = _mm256_add_epi32(_mm256_add_epi32(xs, bias),
			    _mm256_mullo_epi32(qv, cmpl));
		}
	}
	for (unsigned q = 0; q < V; q++)
		_mm256_storeu_si256((__m256i *)(x + 8 * q), v[q]);
	return p;
}

/*
 * Whole rounds of 8, 16, 32 or 64 states (nst) from symbol i down to 0:
 * the symbols are the bytes at src, or the digram indices at ix.
 */
__attribute__((target("avx2"))) uint8_t *
z4_rans_avx2_encode(const struct enc_sym *e, unsigned nsym, unsigned bits,
    const uint8_t *src, const uint16_t *ix, size_t i, uint32_t *x,
    uint8_t *p, unsigned nst)
{
	uint64_t *table = malloc(nsym * sizeof *table);
	if (table == NULL)
		return NULL;
	word_tables();
	/*
	 * A symbol's constants in one word, for M up to 2^14: the
	 * reciprocal's top bit is always set, so bit 31 holds the low bit of
	 * the shift (at most 13), and above are the bias (< 2^15), M - freq
	 * (< 2^14) and the rest of the shift.
	 */
	for (unsigned s = 0; s < nsym; s++)
		table[s] = (e[s].rcp & 0x7fffffffu) |
		    (uint64_t)(e[s].shift & 1) << 31 |
		    (uint64_t)e[s].bias << 32 | (uint64_t)e[s].cmpl << 47 |
		    (uint64_t)(e[s].shift >> 1) << 61;
	p = nst == 8 ? encode_avx2(table, bits, src, ix, i, x, p, 1) :
	    nst == 16 ? encode_avx2(table, bits, src, ix, i, x, p, 2) :
	    nst == 32 ? encode_avx2(table, bits, src, ix, i, x, p, 4) :
	    encode_avx2(table, bits, src, ix, i, x, p, 8);
	free(table);
	return p;
}

__attribute__((target("avx2"))) size_t
z4_rans_avx2_index(const uint8_t *src, size_t np, unsigned lo, unsigned k1,
    uint16_t *ix)
{
	const __m256i wide = _mm256_set1_epi16((short)k1);
	const __m256i base = _mm256_set1_epi16((short)(lo * (k1 + 1)));
	const __m256i low8 = _mm256_set1_epi16(0xff);
	size_t j = 0;

	for (; j + 16 <= np; j += 16) {
		__m256i v = _mm256_loadu_si256((const __m256i *)(src + 2 * j));
		__m256i a = _mm256_and_si256(v, low8);
		__m256i b = _mm256_srli_epi16(v, 8);
		_mm256_storeu_si256((__m256i *)(ix + j), _mm256_sub_epi16(
		    _mm256_add_epi16(_mm256_mullo_epi16(a, wide), b), base));
	}
	return j;
}
#else
/* ISO C wants a declaration in every translation unit. */
typedef int z4_rans_avx2_unused;
#endif

/*
 * coder_packed.c - a plane whose bytes use only some of their bits, kept
 * as those bits alone.
 *
 * The planes transform aligns a float's live bits to the top of whole
 * bytes, so when their count is not a multiple of 8 the lowest plane has
 * bits that are zero in every byte: 7 of 8 bits live in the low plane of
 * a bf16 chunk whose unused top exponent bit is squeezed out.  Storing
 * that plane wastes a bit a byte, and rANS spends a table and its states
 * to win it back and a hundredth of a bit more; packing the live bits
 * gets it all at memory speed.
 *
 * Coded plane: one Mode byte, bits 0-2 B - 1 (B = 1..7 bits kept a
 * byte), bits 3-5 S (the zero bits below them, S + B <= 8), bits 6-7
 * zero; then the field (byte >> S) of every byte in B bits, least
 * significant bit first, padded with zero bits to a whole byte.
 */
#include "internal.h"

#define MODE(b, s) (((unsigned)(b) - 1) | (unsigned)(s) << 3)

static size_t
packed_size(size_t n, unsigned b)
{
	/* n is at most 2^26: no overflow. */
	return 1 + (n * b + 7) / 8;
}

/*
 * Eight bytes make B whole coded bytes, so both loops go a group of
 * eight at a time; with SSE2, two groups at once, the fields joined in
 * three steps (pairs into 16-bit lanes, then 32, then 64).  A vector
 * group reads or writes 8 bytes where it uses B, so the vector loops stop
 * while 8 bytes of slack are left and the scalar loop ends the plane.
 */
static unsigned
pack_tail(uint8_t *dst, const uint8_t *src, size_t n, unsigned b,
    unsigned s)
{
	unsigned seen = 0;

	for (size_t i = 0; i < n; i += 8, dst += b) {
		uint64_t w = 0;
		unsigned k;
		for (k = 0; k < 8 && i + k < n; k++) {
			w |= (uint64_t)(src[i + k] >> s) << (b * k);
			seen |= src[i + k];
		}
		for (unsigned j = 0; j < (k * b + 7) / 8; j++)
			dst[j] = (uint8_t)(w >> 8 * j);
	}
	return seen;
}

static void
unpack_tail(uint8_t *dst, const uint8_t *src, size_t n, unsigned b,
    unsigned s)
{
	uint64_t mask = (1u << b) - 1;

	for (size_t i = 0; i < n; i += 8, src += b) {
		uint64_t w = 0;
		unsigned k = n - i < 8 ? (unsigned)(n - i) : 8;
		for (unsigned j = 0; j < (k * b + 7) / 8; j++)
			w |= (uint64_t)src[j] << 8 * j;
		for (unsigned j = 0; j < k; j++)
			dst[i + j] = (uint8_t)((w >> (b * j) & mask) << s);
	}
}

#ifdef __SSE2__
#include <emmintrin.h>

/* The shift counts both directions use: S, and B, 2B, 4B. */
struct counts {
	__m128i sh, b1, b2, b4;
};

static struct counts
counts(unsigned b, unsigned s)
{
	return (struct counts){
		_mm_cvtsi32_si128((int)s), _mm_cvtsi32_si128((int)b),
		_mm_cvtsi32_si128((int)(2 * b)),
		_mm_cvtsi32_si128((int)(4 * b)),
	};
}

/* The OR of the 16 bytes of v, in the low byte of the result. */
static unsigned
or_bytes(__m128i v)
{
	v = _mm_or_si128(v, _mm_srli_si128(v, 8));
	v = _mm_or_si128(v, _mm_srli_si128(v, 4));
	v = _mm_or_si128(v, _mm_srli_si128(v, 2));
	v = _mm_or_si128(v, _mm_srli_si128(v, 1));
	return (unsigned)_mm_cvtsi128_si32(v) & 0xff;
}

static size_t
pack_sse2(uint8_t *dst, const uint8_t *src, size_t n, unsigned b,
    unsigned s, unsigned *seen)
{
	const struct counts c = counts(b, s);
	const __m128i lo8 = _mm_set1_epi16(0xff);
	const __m128i lo16 = _mm_set1_epi32(0xffff);
	const __m128i lo32 = _mm_set1_epi64x(0xffffffff);
	__m128i all = _mm_setzero_si128();
	size_t i = 0, out = (n * b + 7) / 8;

	for (; i + 16 <= n && i / 8 * b + b + 8 <= out; i += 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(src + i));
		all = _mm_or_si128(all, x);
		/* Each byte shifted down by s: no bits cross, they are 0. */
		x = _mm_srl_epi16(x, c.sh);
		x = _mm_or_si128(_mm_and_si128(x, _mm_srl_epi16(lo8, c.sh)),
		    _mm_sll_epi16(_mm_srli_epi16(x, 8), c.b1));
		x = _mm_or_si128(_mm_and_si128(x, lo16),
		    _mm_sll_epi32(_mm_srli_epi32(x, 16), c.b2));
		x = _mm_or_si128(_mm_and_si128(x, lo32),
		    _mm_sll_epi64(_mm_srli_epi64(x, 32), c.b4));
		uint8_t *d = dst + i / 8 * b;
		_mm_storel_epi64((__m128i *)d, x);
		_mm_storel_epi64((__m128i *)(d + b), _mm_unpackhi_epi64(x, x));
	}
	*seen |= or_bytes(all);
	return i;
}

static size_t
unpack_sse2(uint8_t *dst, const uint8_t *src, size_t n, unsigned b,
    unsigned s)
{
	const struct counts c = counts(b, s);
	const __m128i m1 = _mm_set1_epi16((short)((1u << b) - 1));
	const __m128i m2 = _mm_set1_epi32((int)((1u << 2 * b) - 1));
	const __m128i m4 = _mm_set1_epi64x((long long)((1ull << 4 * b) - 1));
	const __m128i m8 = _mm_set1_epi64x((long long)((1ull << 8 * b) - 1));
	size_t i = 0, out = (n * b + 7) / 8;

	for (; i + 16 <= n && i / 8 * b + b + 8 <= out; i += 16) {
		const uint8_t *p = src + i / 8 * b;
		__m128i x = _mm_unpacklo_epi64(
		    _mm_loadl_epi64((const __m128i *)p),
		    _mm_loadl_epi64((const __m128i *)(p + b)));
		x = _mm_and_si128(x, m8);
		x = _mm_or_si128(_mm_and_si128(x, m4),
		    _mm_slli_epi64(_mm_srl_epi64(x, c.b4), 32));
		x = _mm_or_si128(_mm_and_si128(x, m2),
		    _mm_slli_epi32(_mm_srl_epi32(x, c.b2), 16));
		x = _mm_or_si128(_mm_and_si128(x, m1),
		    _mm_slli_epi16(_mm_srl_epi16(x, c.b1), 8));
		/* Fields are below 2^(8-s): shifting up crosses no byte. */
		_mm_storeu_si128((__m128i *)(dst + i), _mm_sll_epi16(x, c.sh));
	}
	return i;
}
#endif

#if defined(__SSE2__) && defined(__x86_64__) && \
    (defined(__GNUC__) || defined(__clang__))
#define PACKED_AVX2 1
#include <immintrin.h>

/*
 * The SSE2 loops on four groups of eight at once, the same steps in both
 * 128-bit halves, stopping while 3B + 8 bytes of slack are left.
 */
__attribute__((target("avx2"))) static size_t
pack_avx2(uint8_t *dst, const uint8_t *src, size_t n, unsigned b,
    unsigned s, unsigned *seen)
{
	const struct counts c = counts(b, s);
	const __m256i lo8 = _mm256_srl_epi16(_mm256_set1_epi16(0xff), c.sh);
	const __m256i lo16 = _mm256_set1_epi32(0xffff);
	const __m256i lo32 = _mm256_set1_epi64x(0xffffffff);
	__m256i all = _mm256_setzero_si256();
	size_t i = 0, out = (n * b + 7) / 8;

	for (; i + 32 <= n && i / 8 * b + 3 * b + 8 <= out; i += 32) {
		__m256i x = _mm256_loadu_si256((const __m256i *)(src + i));
		all = _mm256_or_si256(all, x);
		x = _mm256_srl_epi16(x, c.sh);
		x = _mm256_or_si256(_mm256_and_si256(x, lo8),
		    _mm256_sll_epi16(_mm256_srli_epi16(x, 8), c.b1));
		x = _mm256_or_si256(_mm256_and_si256(x, lo16),
		    _mm256_sll_epi32(_mm256_srli_epi32(x, 16), c.b2));
		x = _mm256_or_si256(_mm256_and_si256(x, lo32),
		    _mm256_sll_epi64(_mm256_srli_epi64(x, 32), c.b4));
		__m128i l = _mm256_castsi256_si128(x);
		__m128i h = _mm256_extracti128_si256(x, 1);
		uint8_t *d = dst + i / 8 * b;
		/* In address order: each store's slack is the next's field. */
		_mm_storel_epi64((__m128i *)d, l);
		_mm_storel_epi64((__m128i *)(d + b), _mm_unpackhi_epi64(l, l));
		_mm_storel_epi64((__m128i *)(d + 2 * b), h);
		_mm_storel_epi64((__m128i *)(d + 3 * b),
		    _mm_unpackhi_epi64(h, h));
	}
	*seen |= or_bytes(_mm_or_si128(_mm256_castsi256_si128(all),
	    _mm256_extracti128_si256(all, 1)));
	return i;
}

__attribute__((target("avx2"))) static size_t
unpack_avx2(uint8_t *dst, const uint8_t *src, size_t n, unsigned b,
    unsigned s)
{
	const struct counts c = counts(b, s);
	const __m256i m1 = _mm256_set1_epi16((short)((1u << b) - 1));
	const __m256i m2 = _mm256_set1_epi32((int)((1u << 2 * b) - 1));
	const __m256i m4 = _mm256_set1_epi64x((long long)((1ull << 4 * b) -
	    1));
	const __m256i m8 = _mm256_set1_epi64x((long long)((1ull << 8 * b) -
	    1));
	size_t i = 0, out = (n * b + 7) / 8;

	for (; i + 32 <= n && i / 8 * b + 3 * b + 8 <= out; i += 32) {
		const uint8_t *p = src + i / 8 * b;
		__m128i l = _mm_unpacklo_epi64(
		    _mm_loadl_epi64((const __m128i *)p),
		    _mm_loadl_epi64((const __m128i *)(p + b)));
		__m128i h = _mm_unpacklo_epi64(
		    _mm_loadl_epi64((const __m128i *)(p + 2 * b)),
		    _mm_loadl_epi64((const __m128i *)(p + 3 * b)));
		__m256i x = _mm256_inserti128_si256(_mm256_castsi128_si256(l),
		    h, 1);
		x = _mm256_and_si256(x, m8);
		x = _mm256_or_si256(_mm256_and_si256(x, m4),
		    _mm256_slli_epi64(_mm256_srl_epi64(x, c.b4), 32));
		x = _mm256_or_si256(_mm256_and_si256(x, m2),
		    _mm256_slli_epi32(_mm256_srl_epi32(x, c.b2), 16));
		x = _mm256_or_si256(_mm256_and_si256(x, m1),
		    _mm256_slli_epi16(_mm256_srl_epi16(x, c.b1), 8));
		_mm256_storeu_si256((__m256i *)(dst + i),
		    _mm256_sll_epi16(x, c.sh));
	}
	return i;
}
#endif

/*
 * With AVX-512 VBMI, 64 bytes in four instructions: a byte permutation
 * gives each 64-bit lane the 8 coded bytes its group starts in, one
 * multishift takes each field from its bit offset into a byte, and a
 * mask and a shift finish.  A group reads 64 bytes where it uses 8B.
 */
__attribute__((target("avx512f,avx512bw,avx512vbmi"))) static size_t
unpack_avx512(uint8_t *dst, const uint8_t *src, size_t n, unsigned b,
    unsigned s)
{
	uint8_t spread[64], offset[64];
	for (unsigned g = 0; g < 8; g++)
		for (unsigned j = 0; j < 8; j++) {
			spread[8 * g + j] = (uint8_t)(g * b + j);
			offset[8 * g + j] = (uint8_t)(j * b);
		}
	const __m512i to_lanes = _mm512_loadu_si512(spread);
	const __m512i fields = _mm512_loadu_si512(offset);
	const __m512i mask = _mm512_set1_epi8((char)((1u << b) - 1));
	const __m128i sh = _mm_cvtsi32_si128((int)s);
	size_t i = 0, out = (n * b + 7) / 8;

	for (; i + 64 <= n && i / 8 * b + 64 <= out; i += 64) {
		__m512i x = _mm512_permutexvar_epi8(to_lanes,
		    _mm512_loadu_si512(src + i / 8 * b));
		x = _mm512_and_si512(_mm512_multishift_epi64_epi8(fields, x),
		    mask);
		_mm512_storeu_si512(dst + i, _mm512_sll_epi16(x, sh));
	}
	return i;
}

/*
 * Each loop goes as far as it can and leaves the rest to the next: AVX2
 * where the CPU has it, then SSE2, then bytes.  All write the same bits.
 * Returns the OR of the n bytes, which packing reads anyway.
 */
static unsigned
pack(uint8_t *dst, const uint8_t *src, size_t n, unsigned b, unsigned s)
{
	unsigned seen = 0;
	size_t i = 0;
#ifdef PACKED_AVX2
	if (z4_simd_avx2())
		i = pack_avx2(dst, src, n, b, s, &seen);
#endif
#ifdef __SSE2__
	i += pack_sse2(dst + i / 8 * b, src + i, n - i, b, s, &seen);
#endif
	return seen | pack_tail(dst + i / 8 * b, src + i, n - i, b, s);
}

static void
unpack(uint8_t *dst, const uint8_t *src, size_t n, unsigned b, unsigned s)
{
	size_t i = 0;
#ifdef PACKED_AVX2
	if (z4_simd_avx512())
		i = unpack_avx512(dst, src, n, b, s);
	if (z4_simd_avx2())
		i += unpack_avx2(dst + i, src + i / 8 * b, n - i, b, s);
#endif
#ifdef __SSE2__
	i += unpack_sse2(dst + i, src + i / 8 * b, n - i, b, s);
#endif
	unpack_tail(dst + i, src + i / 8 * b, n - i, b, s);
}

/*
 * B and S for bytes whose OR is all: the span of the bits any of them
 * sets.  Returns 0 when that is all 8 bits, or no bit at all (zstd and
 * rANS code those better).
 */
static unsigned
span_of(unsigned all, unsigned *s)
{
	if (all == 0)
		return 0;
	*s = (unsigned)__builtin_ctz(all);
	unsigned b = 32 - (unsigned)__builtin_clz(all) - *s;
	return b < 8 ? b : 0;
}

/* B and S for the bytes of a plane, from its counts or its bytes. */
static unsigned
live_span(const struct z4_code_in *in, unsigned *s)
{
	unsigned all = 0;

	if (in->count != NULL) {
		for (unsigned v = 1; v < 256; v++)
			if (in->count[v])
				all |= v;
	} else {
		for (size_t i = 0; i < in->n; i++)
			all |= in->src[i];
	}
	return span_of(all, s);
}

/*
 * The OR of a sample of a large plane's bytes: 64 in every 4 KiB.  The
 * plane's own OR has every bit of it, and mostly no other.  Planes from
 * SAMPLE_FROM bytes are sampled; the fuzzing build samples small ones.
 */
#ifndef Z4_PACKED_SAMPLE_FROM
#define Z4_PACKED_SAMPLE_FROM (64u << 10)
#endif
#define SAMPLE_FROM Z4_PACKED_SAMPLE_FROM

static unsigned
sampled_or(const uint8_t *p, size_t n)
{
	unsigned all = 0;
	for (size_t i = 0; i + 64 <= n; i += 4096)
		for (size_t k = i; k < i + 64; k++)
			all |= p[k];
	return all;
}

size_t
z4_packed_size(const struct z4_code_in *in)
{
	unsigned s, b = live_span(in, &s);
	return b ? packed_size(in->n, b) : SIZE_MAX;
}

static int
packed_encode(void **state, uint8_t *dst, size_t cap, size_t *out,
    const struct z4_code_in *in)
{
	unsigned s = 0, b = 0, guess;
	int done = 0;

	(void)state;
	/*
	 * Without counts, a large plane is packed with the span of a sample
	 * of its bytes, and packing finds the OR of all of them: where that
	 * spans other bits, the plane is packed again with them.  A sample
	 * with all 8 bits settles it: nothing to pack.
	 */
	if (in->count == NULL && in->n >= SAMPLE_FROM &&
	    (guess = sampled_or(in->src, in->n)) != 0) {
		if ((b = span_of(guess, &s)) == 0) {
			*out = SIZE_MAX;
			return 0;
		}
		if (packed_size(in->n, b) > cap)
			return Z4_E_USAGE;
		unsigned s2 = 0, b2 = span_of(pack(dst + 1, in->src, in->n, b,
		    s), &s2);
		done = b2 == b && s2 == s;
		b = b2;
		s = s2;
	} else {
		b = live_span(in, &s);
	}
	if (b == 0) {
		/* Nothing to pack: a size no plane can beat. */
		*out = SIZE_MAX;
		return 0;
	}
	if (packed_size(in->n, b) > cap)
		return Z4_E_USAGE;
	if (!done)
		pack(dst + 1, in->src, in->n, b, s);
	dst[0] = (uint8_t)MODE(b, s);
	*out = packed_size(in->n, b);
	return 0;
}

int
z4_packed_begin(size_t n, const uint8_t *src, size_t cn, unsigned *b,
    unsigned *s)
{
	if (n == 0 || cn == 0)
		return Z4_E_DECODE;	/* an empty plane is only ever stored */
	*b = (src[0] & 7) + 1;
	*s = src[0] >> 3 & 7;
	if (src[0] >> 6 || *b == 8 || *b + *s > 8 || cn != packed_size(n, *b))
		return Z4_E_DECODE;
	/* The padding must be zero: one coding for each plane. */
	unsigned used = (unsigned)(n * *b % 8);
	if (used && src[cn - 1] >> used)
		return Z4_E_DECODE;
	return 0;
}

void
z4_packed_part(uint8_t *dst, const uint8_t *src, size_t i, size_t n,
    unsigned b, unsigned s)
{
	assert(i % 8 == 0);
	unpack(dst, src + 1 + i / 8 * b, n, b, s);
}

static int
packed_decode(void **state, uint8_t *dst, size_t n, const uint8_t *src,
    size_t cn)
{
	unsigned b, s;
	int err;

	(void)state;
	if ((err = z4_packed_begin(n, src, cn, &b, &s)))
		return err;
	z4_packed_part(dst, src, 0, n, b, s);
	return 0;
}

static size_t
packed_bound(size_t n)
{
	return packed_size(n, 8);
}

const struct z4_coder z4_coder_packed = {
	.id = Z4_CODER_PACKED,
	.name = "packed",
	.encode = packed_encode,
	.decode = packed_decode,
	.bound = packed_bound,
};

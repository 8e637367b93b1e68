/*
 * coder_rans.c - an order-0 range-ANS coder for planes whose bytes are
 * skewed but not repetitive (a float's exponents): near the order-0
 * entropy, where a Huffman code loses a few percent on skewed alphabets,
 * and decoding is a table lookup, a multiply and an add per byte.
 *
 * Layout of a coded plane (integers little-endian):
 *   Mode       u8    bits 0-2: B - 10 (B = 10..15, frequencies sum to
 *                    M = 2^B); bit 3: DIGRAMS, the symbols are pairs of
 *                    bytes and their table follows instead (see
 *                    DIGRAMS below); bits 4-6: log2 of S, the number of
 *                    interleaved states (1, 4, 8, 16, 32 or 64; 2 and
 *                    128 are reserved); bit 7: PAIRS, the table is of
 *                    pairs of symbols (see split_pairs)
 *   Symbols    u8    K - 1, K the number of symbols present
 *   Lo, Span   u8 u8 the smallest and largest present, Lo and Lo + Span;
 *                    then, unless all between are present, a bitmap of
 *                    the Span - 1 symbols between (LSB first, padded)
 *   Freqs            u8 k (bits 0-3, 0..15; bit 4 ROOTS), then Rice
 *                    codes (LSB first, padded to a byte) of freq - 1 for
 *                    each present symbol but the last, whose frequency is
 *                    what is left of M: the first with parameter k, each
 *                    other with the bit length of the frequency before
 *                    it, less one.  With ROOTS, square roots of counts
 *                    instead (see roots_freqs)
 *   States     S x u32, each in [2^15, 2^31): the decoder's first states
 *   Words      u16...: renormalisation words, read in order
 * Byte i is coded with state i mod S.  A state lives in [L, 2^31) with
 * L = 2^15 and takes a 16-bit word whenever it falls below L.  A decoder
 * must end with every state at L and every word read.
 *
 * Tables are paid for per plane, so they are kept small: the symbols of
 * a plane lie mostly in one run (the exponents in use), and neighbouring
 * frequencies are alike, so each one's Rice parameter follows from the
 * one before.  The encoder picks B and the first parameter that make
 * table and data smallest together, and fewer states for small planes.
 * Many states are for speed: a decoder can run them as independent
 * chains, in SIMD lanes, so that one state's table lookup is under way
 * while the next is worked on: coder_rans_avx2.c has those loops, and
 * the scalar ones here code the same bytes.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "internal.h"
#include "rans.h"

#define SMAX Z4_RANS_STATES_MAX
#define RICE_ESCAPE 20		/* a quotient this large is sent in 16 bits */
#define ROOTS 0x10		/* Rice_K bit 4: Freqs are square roots */
#define ROOT_MAX 8192		/* of the largest count, 2^26 */

/* Bits, least significant first. */
struct bitw {
	uint8_t *p;
	size_t n;		/* bits written */
};

static void
put_bits(struct bitw *w, uint32_t v, unsigned k)
{
	for (unsigned i = 0; i < k; i++, w->n++) {
		if (w->n % 8 == 0)
			w->p[w->n / 8] = 0;
		w->p[w->n / 8] |= (uint8_t)((v >> i & 1) << w->n % 8);
	}
}

static unsigned
rice_bits(uint32_t v, unsigned k)
{
	uint32_t q = v >> k;
	return q >= RICE_ESCAPE ? RICE_ESCAPE + 16 : q + 1 + k;
}

static void
put_rice(struct bitw *w, uint32_t v, unsigned k)
{
	uint32_t q = v >> k;
	if (q >= RICE_ESCAPE) {
		put_bits(w, (1u << RICE_ESCAPE) - 1, RICE_ESCAPE);
		put_bits(w, v, 16);
		return;
	}
	put_bits(w, (1u << q) - 1, q + 1);
	put_bits(w, v, k);
}

/*
 * Scale the counts of symbols lo to end - 1, adding up to n, to
 * frequencies summing to m, none of them 0 where the count is not; the
 * frequencies of other symbols are left alone.
 */
static void
normalise_span(const uint32_t *count, unsigned lo, unsigned end, uint64_t n,
    uint32_t m, uint32_t *freq)
{
	uint32_t sum = 0;
	unsigned top = lo;

	for (unsigned s = lo; s < end; s++) {
		freq[s] = 0;
		if (!count[s])
			continue;
		uint64_t f = ((uint64_t)count[s] * m + n / 2) / n;
		freq[s] = f ? (uint32_t)f : 1;
		sum += freq[s];
		if (count[s] > count[top])
			top = s;
	}
	/*
	 * Rounding leaves the sum a little off.  A shortfall goes to the
	 * most frequent symbol; an excess is taken from the largest
	 * frequencies, never below 1.
	 */
	if (sum <= m) {
		freq[top] += m - sum;
		return;
	}
	while (sum > m) {
		unsigned big = top;
		for (unsigned s = lo; s < end; s++)
			if (freq[s] > freq[big])
				big = s;
		uint32_t take = (freq[big] - 1) / 8 + 1;
		if (take > sum - m)
			take = sum - m;
		freq[big] -= take;
		sum -= take;
	}
}

/* The same for all size symbols. */
static void
normalise(const uint32_t *count, unsigned size, uint64_t n, uint32_t m,
    uint32_t *freq)
{
	normalise_span(count, 0, size, n, m, freq);
}

/* The Rice parameter of a frequency, from the frequency before it. */
static unsigned
next_rice(uint32_t prev)
{
	return 31 - (unsigned)__builtin_clz(prev);
}

/*
 * The cheapest parameter for the first frequency of a table of size
 * symbols, nsym of them present; *bits gets the cost of the Rice_K byte
 * and of all the frequencies coded.
 */
static unsigned
best_rice(const uint32_t *freq, unsigned size, unsigned nsym, double *bits)
{
	unsigned first = 0, k = 0, seen = 0;
	uint32_t prev = 0;
	double b = 8;

	for (unsigned s = 0; s < size && seen + 1 < nsym; s++) {
		if (!freq[s])
			continue;
		if (seen++ == 0) {
			for (unsigned j = 1; j < 16; j++)
				if (rice_bits(freq[s] - 1, j) <
				    rice_bits(freq[s] - 1, first))
					first = j;
			k = first;
		} else {
			k = next_rice(prev);
		}
		b += rice_bits(freq[s] - 1, k);
		prev = freq[s];
	}
	*bits = b;
	return first;
}

/*
 * Lo and Span of the symbols present, and the bytes of Lo, Span and
 * Present: 2, and the bitmap of the symbols between, unless all are.
 */
static size_t
present_size(const uint32_t *count, unsigned nsym, unsigned *lo,
    unsigned *span)
{
	unsigned hi = 0;

	*lo = 256;
	for (unsigned s = 0; s < 256; s++)
		if (count[s]) {
			*lo = *lo < s ? *lo : s;
			hi = s;
		}
	*span = hi - *lo;
	return 2 + (nsym == *span + 1 ? 0 : (*span - 1 + 7) / 8);
}

/*
 * Symbols, Lo, Span and Present for the nsym symbols that count has, at
 * dst; returns the bytes written.
 */
static size_t
put_present(uint8_t *dst, const uint32_t *count, unsigned nsym)
{
	unsigned lo, span;
	size_t size = present_size(count, nsym, &lo, &span);

	dst[0] = (uint8_t)(nsym - 1);
	dst[1] = (uint8_t)lo;
	dst[2] = (uint8_t)span;
	if (size > 2) {
		memset(dst + 3, 0, size - 2);
		for (unsigned s = lo + 1; s < lo + span; s++)
			if (count[s])
				dst[3 + (s - lo - 1) / 8] |=
				    (uint8_t)(1u << (s - lo - 1) % 8);
	}
	return 1 + size;
}

/*
 * Rice_K, k, then Freqs: the frequencies of the nsym symbols of size
 * present in freq, but the last, at dst; returns the bytes written.
 */
static size_t
put_freqs(uint8_t *dst, const uint32_t *freq, unsigned size, unsigned nsym,
    unsigned k)
{
	struct bitw w = { dst + 1, 0 };

	dst[0] = (uint8_t)k;
	for (unsigned s = 0, seen = 0; s < size && seen + 1 < nsym; s++)
		if (freq[s]) {
			put_rice(&w, freq[s] - 1, k);
			k = next_rice(freq[s]);
			seen++;
		}
	return 1 + (w.n + 7) / 8;
}

/*
 * ROOTS: a table may give, instead of frequencies, the square root of
 * each present symbol's count, rounded; the decoder squares them and
 * scales them to 2^B as normalise() scales counts.  A count's own noise
 * is about its square root, so rounding that costs the data next to
 * nothing (about 0.2 bits a symbol), and neighbouring roots differ by
 * little: each is coded as its difference from the one before.  On the
 * exponent planes of gpt_base_step200_f32 the tables take 40% less.
 */
/* A root as Freqs sends it: the first less 1, others the zigzag of r - prev. */
static uint32_t
root_code(uint32_t r, uint32_t prev)
{
	if (prev == 0)
		return r - 1;
	return r >= prev ? 2 * (r - prev) : 2 * (prev - r) - 1;
}

static size_t
put_roots(uint8_t *dst, const uint32_t *root, unsigned size, unsigned k)
{
	struct bitw w = { dst + 1, 0 };
	uint32_t prev = 0;

	dst[0] = (uint8_t)(k | ROOTS);
	for (unsigned s = 0; s < size; s++)
		if (root[s]) {
			put_rice(&w, root_code(root[s], prev), k);
			prev = root[s];
		}
	return 1 + (w.n + 7) / 8;
}

/*
 * The frequencies, summing to m, that the roots of a table give, of the
 * symbols lo to end - 1, where all its roots are.
 */
static void
roots_freqs(const uint32_t *root, unsigned lo, unsigned end, uint32_t m,
    uint32_t *freq)
{
	uint32_t count[256];
	uint64_t n = 0;

	for (unsigned s = lo; s < end; s++)
		n += count[s] = root[s] * root[s];
	normalise_span(count, lo, end, n, m, freq);
}

/*
 * PAIRS: the table gives the frequency of each pair of symbols 2j and
 * 2j + 1, and the frequencies of the two follow from those of the pairs
 * on either side.  A plane of a float's exponent with its first two
 * mantissa bits below it (FOLD, then PLANES) has pairs that are
 * half-octaves, and the second mantissa bit splits one in two: where the
 * values thin out, the lower half holds more.  The density is taken as a
 * straight line through the middles of the pairs on either side; then
 * the lower half holds 1/2 - (F_up - 2 F_down) / (G F) of a pair of
 * frequency F, G 14 for an even pair (whose lower neighbour is half as
 * wide) and 40 for an odd one (whose upper neighbour is twice as wide).
 * In 1/256, kept within [4, 252], and in integers, so that every decoder
 * gets the same table.  Pairs 0 and 1 (exponent 0) split evenly; a pair
 * of frequency 1 gives it all to its even symbol.
 */
static void
split_pairs(const uint32_t *pair, uint32_t *freq)
{
	for (unsigned j = 0; j < 128; j++) {
		uint32_t f = pair[j], f0 = f;
		if (f >= 2) {
			int64_t p = 128;
			if (j >= 2) {
				int64_t down = pair[j - 1];
				int64_t up = j < 127 ? pair[j + 1] : 0;
				int64_t g = j & 1 ? 40 : 14;
				p -= 256 * (up - 2 * down) / (g * f);
				p = p < 4 ? 4 : p > 252 ? 252 : p;
			}
			f0 = (uint32_t)(f * (uint64_t)p >> 8);
			f0 = f0 < 1 ? 1 : f0 > f - 1 ? f - 1 : f0;
		}
		freq[2 * j] = f0;
		freq[2 * j + 1] = f - f0;
	}
}

/*
 * A pair of frequency 1 gives nothing to its odd symbol: where that one
 * is present, the pair gets 2, taken from the largest pair.
 */
static void
widen_pairs(uint32_t *pair, const uint32_t *count)
{
	for (unsigned j = 0; j < 128; j++) {
		if (pair[j] != 1 || count[2 * j + 1] == 0)
			continue;
		unsigned big = 0;
		for (unsigned i = 1; i < 128; i++)
			big = pair[i] > pair[big] ? i : big;
		if (pair[big] <= 2)
			return;		/* no room: the table stays unsplittable */
		pair[big]--;
		pair[j]++;
	}
}

static void
enc_init(struct enc_sym *e, uint32_t start, uint32_t freq, unsigned bits)
{
	e->x_max = ((RANS_L >> bits) << 16) * freq;
	e->cmpl = (uint16_t)((1u << bits) - freq);
	if (freq < 2) {
		/* q = x exactly: x + bias + x * (M - 1) = x * M + start. */
		e->rcp = ~0u;
		e->shift = 0;
		e->bias = start + (1u << bits) - 1;
	} else {
		unsigned sh = 0;
		while (freq > (1u << sh))
			sh++;
		e->rcp = (uint32_t)(((1ull << (sh + 31)) + freq - 1) / freq);
		e->shift = (uint8_t)(sh - 1);
		e->bias = start;
	}
}

/*
 * Code one byte with state *x, renormalising first: the word is always
 * stored below p, and p moves over it only when it is needed, so there
 * is no branch for the data to mispredict.
 */
static inline __attribute__((always_inline)) uint8_t *
enc_put(const struct enc_sym *e, unsigned sym, uint32_t *x, uint8_t *p)
{
	const struct enc_sym *s = &e[sym];
	uint32_t need = *x >= s->x_max;
	z4_put16(p - 2, (uint16_t)*x);
	p -= 2 * need;
	*x = need ? *x >> 16 : *x;
	uint32_t q = (uint32_t)(((uint64_t)*x * s->rcp) >> 32) >> s->shift;
	*x += s->bias + q * s->cmpl;
	return p;
}

static size_t
rans_bound(size_t n)
{
	return 2 + 32 + 1 + 256 * 5 + 4 * SMAX + 2 * n + 16;
}

/*
 * States for a plane of n bytes: more only where they pay for speed.
 * Each costs 4 bytes, so levels 7 to 9 keep one for small planes.  From
 * 256 KiB, 64: eight vectors of lookups in flight decode an exponent
 * plane in 0.61 ns a byte on the machine measured, against 0.72 with
 * four (and 0.68 with sixteen, which no longer fit in registers).
 */
static unsigned
state_count(size_t n, int level)
{
	if (z4_small_plane(level, n))
		return 1;
	return n < 4096 ? 1 : n < 65536 ? 4 : n < Z4_SMALL_PLANE ? 8 : 64;
}

/*
 * Code n symbols, the bytes at src or else the digram indices at ix,
 * with nst states and the table freq of nsym symbols at 2^bits, after
 * the h bytes of table at dst: the words go backwards from the end of
 * dst's cap bytes, then move to follow the states.  *out gets the size.
 */
static int
code_symbols(uint8_t *dst, size_t h, size_t cap, size_t *out,
    const uint32_t *freq, unsigned nsym, unsigned bits, const uint8_t *src,
    const uint16_t *ix, size_t n, unsigned nst)
{
	struct enc_sym *e = calloc(nsym, sizeof *e);
	if (e == NULL)
		return Z4_E_NOMEM;
	for (unsigned s = 0, start = 0; s < nsym; s++)
		if (freq[s]) {
			enc_init(&e[s], start, freq[s], bits);
			start += freq[s];
		}
	uint8_t *end = dst + cap, *p = end;
	uint32_t x[SMAX];
	for (unsigned j = 0; j < nst; j++)
		x[j] = RANS_L;
	/*
	 * The symbols past the last whole round of nst first, then whole
	 * rounds from the end, each state a constant index so that the
	 * compiler keeps the states in registers.
	 */
	size_t i = n, last = nst - 1;	/* nst is a power of 2 */
#define SYM(k) (ix ? ix[k] : src[k])
	while (i & last)
		--i, p = enc_put(e, SYM(i), &x[i & last], p);
#ifdef Z4_RANS_AVX2
	if (nst >= 8 && bits <= 14 && z4_simd_avx2()) {
		if ((p = z4_rans_avx2_encode(e, nsym, bits, src, ix, i, x, p,
		    nst)) == NULL) {
			free(e);
			return Z4_E_NOMEM;
		}
		i = 0;
	}
#endif
	if (nst == 8) {
		for (; i > 0; i -= 8)
			for (unsigned j = 8; j-- > 0;)
				p = enc_put(e, SYM(i - 8 + j), &x[j], p);
	} else if (nst == 32) {
		for (; i > 0; i -= 32)
			for (unsigned j = 32; j-- > 0;)
				p = enc_put(e, SYM(i - 32 + j), &x[j], p);
	} else {
		while (i-- > 0)
			p = enc_put(e, SYM(i), &x[i & last], p);
	}
#undef SYM
	free(e);
	for (unsigned j = 0; j < nst; j++)
		z4_put32(dst + h + 4 * j, x[j]);
	h += 4 * nst;
	size_t words = (size_t)(end - p);
	memmove(dst + h, p, words);
	*out = h + words;
	return 0;
}

/*
 * DIGRAMS: the symbols are the plane's bytes two at a time, byte 2j and
 * 2j + 1 making digram j, so that a decoder makes half as many steps,
 * each a single table lookup that gives both bytes.  Of the K1 byte
 * values present, at most DIGRAM_BYTES, value a has rank r(a) in
 * increasing order, and the digram (a, b) is symbol r(a) K1 + r(b) of
 * K1^2: so a few bytes far from the rest (a zero among a tensor's
 * exponents) cost a little table, not a table of every value between.
 * The table costs more than one of bytes, so it pays on large planes
 * only; on a float's exponents it also takes in how neighbours go
 * together.  The precision is 2^14: the decoder's table of 128 KiB stays
 * in the second-level cache, and 2^13, 3% faster to decode, coded
 * exponent planes 0.8% larger than bytes where 2^14 costs 0.2%.
 *
 * After Mode: Symbols, Lo, Span and Present as for bytes, giving the K1
 * bytes; K - 1 u16 (K digrams present); a bitmap of the K1^2 symbols
 * (LSB first, padded) unless all are present; Freqs as above for the
 * symbols present; the last byte where the plane's size is odd; States;
 * Words.  Digram j is coded with state j mod S.
 */

/*
 * Each digram's index into ix, pos[a] q + pos[b] from the positions of
 * its bytes among q, and how many of each into count (q^2 of them):
 * four histograms, so that runs of one digram do not wait on each
 * other's increments.  lo is the byte at position 0 where every
 * position is the byte less lo, else -1.
 */
static void
count_digrams(const uint8_t *src, size_t np, const uint8_t *pos,
    unsigned q, int lo, uint16_t *ix, uint32_t *count)
{
	uint16_t row[256];
	uint32_t *h[4];
	size_t j = 0;

	for (unsigned a = 0; a < 256; a++)
		row[a] = (uint16_t)(pos[a] * q);
	for (unsigned r = 0; r < 4; r++)
		h[r] = count + r * q * q;
#ifdef Z4_RANS_AVX2
	if (lo >= 0 && z4_simd_avx2()) {
		j = z4_rans_avx2_index(src, np, (unsigned)lo, q, ix);
		for (size_t i = 0; i + 4 <= j; i += 4)
			for (unsigned r = 0; r < 4; r++)
				h[r][ix[i + r]]++;
	}
#endif
	for (; j + 4 <= np; j += 4)
		for (unsigned r = 0; r < 4; r++) {
			ix[j + r] = (uint16_t)(row[src[2 * (j + r)]] +
			    pos[src[2 * (j + r) + 1]]);
			h[r][ix[j + r]]++;
		}
	for (; j < np; j++) {
		ix[j] = (uint16_t)(row[src[2 * j]] + pos[src[2 * j + 1]]);
		h[0][ix[j]]++;
	}
	for (unsigned i = 0; i < q * q; i++)
		count[i] += h[1][i] + h[2][i] + h[3][i];
}

/*
 * Code in as digrams with nst states if that pays: below level 7, if it
 * costs at most 1% more than bytes (single, in bits), for the speed; at
 * 7 and above, if it costs less.  *done says whether it did.
 */
static int
try_digrams(uint8_t *dst, size_t cap, size_t *out,
    const struct z4_code_in *in, const uint32_t *count, unsigned nst,
    double single, int *done)
{
	const uint8_t *src = in->src;
	size_t n = in->n, np = n / 2;
	uint8_t rank[256] = { 0 }, pos[256] = { 0 };
	unsigned k1 = 0, lo = 256, hi = 0;
	int err = 0;

	*done = 0;
	/* count covers every byte of src, so every index is below size. */
	for (unsigned s = 0; s < 256; s++)
		if (count[s]) {
			rank[s] = (uint8_t)k1++;
			lo = lo < s ? lo : s;
			hi = s;
		}
	if (np == 0 || k1 > DIGRAM_BYTES)
		return 0;
	/*
	 * Pairs are counted and coded by their place among q^2: the bytes
	 * less Lo where those span at most DIGRAM_BYTES values, which SIMD
	 * arithmetic finds, else their ranks.  Either way the pairs present
	 * come in the order of their symbols, so the coding is the same.
	 */
	unsigned q = hi - lo + 1 <= DIGRAM_BYTES ? hi - lo + 1 : k1;
	for (unsigned s = 0; s < 256; s++)
		pos[s] = (uint8_t)(q == k1 ? rank[s] : s - lo);
	unsigned size = q * q, symbols = k1 * k1;
	uint16_t *ix = malloc(np * sizeof *ix);
	uint32_t *dc = calloc(6 * size, sizeof *dc);
	if (ix == NULL || dc == NULL) {
		err = Z4_E_NOMEM;
		goto done;
	}
	uint32_t *freq = dc + 4 * size, *common = dc + 5 * size;
	count_digrams(src, np, pos, q, q == k1 && hi - lo + 1 != k1 ? -1 :
	    (int)lo, ix, dc);
	/*
	 * Digrams too rare for a slot of their own get one each, and the
	 * others share what is left in proportion, rather than the most
	 * frequent paying for the rare ones' rounding.
	 */
	const unsigned bits = DIGRAM_BITS;
	unsigned nsym = 0, rare = 0;
	size_t left = np;
	for (unsigned i = 0; i < size; i++) {
		int is_rare = dc[i] && (uint64_t)dc[i] << bits < np;
		nsym += dc[i] != 0;
		rare += is_rare;
		left -= is_rare ? dc[i] : 0;
		common[i] = is_rare ? 0 : dc[i];
	}
	if (rare > 0 && left > 0 && rare < 1u << (bits - 1)) {
		normalise(common, size, left, (1u << bits) - rare, freq);
		for (unsigned i = 0; i < size; i++)
			freq[i] += dc[i] && !common[i];
	} else {
		normalise(dc, size, np, 1u << bits, freq);
	}
	double tbits, cost = 0;
	for (unsigned i = 0; i < size; i++)
		if (dc[i])
			cost += dc[i] * (bits - log2(freq[i]));
	unsigned k = best_rice(freq, size, nsym, &tbits), span;
	size_t head = 1 + 1 + present_size(count, k1, &lo, &span) + 2 +
	    (nsym == symbols ? 0 : (symbols + 7) / 8) + n % 2;
	cost += tbits + 8.0 * (double)head;
	if (in->level < 7 ? cost > 1.01 * single : cost >= single)
		goto done;
	/* Each digram takes a word at most: table, states and words fit. */
	if (head + (size_t)ceil(tbits / 8) + 4 * nst + 2 * np + 16 > cap)
		goto done;
	size_t h = 0;
	dst[h++] = (uint8_t)((bits - 10) | 8 | __builtin_ctz(nst) << 4);
	h += put_present(dst + h, count, k1);
	z4_put16(dst + h, (uint16_t)(nsym - 1));
	h += 2;
	if (nsym < symbols) {
		memset(dst + h, 0, (symbols + 7) / 8);
		for (unsigned i = 0; i < size; i++) {
			unsigned a = q == k1 ? i / q : rank[lo + i / q];
			unsigned b = q == k1 ? i % q : rank[lo + i % q];
			unsigned d = a * k1 + b;
			if (dc[i])
				dst[h + d / 8] |= (uint8_t)(1u << d % 8);
		}
		h += (symbols + 7) / 8;
	}
	h += put_freqs(dst + h, freq, size, nsym, k);
	if (n % 2)
		dst[h++] = src[n - 1];
	err = code_symbols(dst, h, cap, out, freq, size, bits, NULL, ix, np,
	    nst);
	*done = err == 0;
done:
	free(ix);
	free(dc);
	return err;
}

/*
 * A plane's counts, and the symbols, bytes or pairs, that may be present:
 * lo to end - 1 of each.  The loops that try tables keep to them.
 */
struct span {
	const uint32_t *count;
	unsigned lo, end;		/* bytes */
	unsigned plo, pend;		/* pairs */
};

/* A table the encoder may send, and what it costs with the data. */
struct choice {
	double bits;		/* table and data, estimated */
	unsigned b, k, pairs, roots;
	uint32_t table[256];	/* what Freqs gives: frequencies or roots */
	uint32_t freq[256];	/* of each byte, to code with */
};

/*
 * log2 of the frequencies a table at 2^12 or less can have: the search
 * weighs tens of tables a plane, and a plane of a small tensor costs
 * less to code than to weigh them with log2() each time.  The values are
 * log2()'s own, so the choice is the same.
 */
#define LOG2_TABLE (1u << 12)
static double log2_of[LOG2_TABLE + 1];
static pthread_once_t log2_once = PTHREAD_ONCE_INIT;

static void
log2_init(void)
{
	for (unsigned v = 1; v <= LOG2_TABLE; v++)
		log2_of[v] = log2(v);
}

static inline double
log2_freq(uint32_t f)
{
	return f <= LOG2_TABLE ? log2_of[f] : log2(f);
}

/*
 * Make table f (of pairs, or of bytes), sent as sent, the choice if it
 * codes the plane's counts in fewer bits than the choice so far; tbits
 * is what the table costs.
 */
static void
consider(struct choice *best, const struct span *sp, const uint32_t *sent,
    const uint32_t *f, unsigned b, unsigned pairs, unsigned roots,
    unsigned k, double tbits)
{
	const uint32_t *count = sp->count;
	uint32_t fp[256];
	const uint32_t *use = f;
	double total = tbits;

	if (pairs) {
		split_pairs(f, fp);
		use = fp;
	}
	for (unsigned s = sp->lo; s < sp->end && total < INFINITY; s++)
		if (count[s])
			total += use[s] ? count[s] * (b - log2_freq(use[s])) :
			    INFINITY;
	if (total >= best->bits)
		return;
	best->bits = total;
	best->b = b;
	best->k = k;
	best->pairs = pairs;
	best->roots = roots;
	memcpy(best->table, sent, sizeof best->table);
	memcpy(best->freq, use, sizeof best->freq);
}

/*
 * The frequencies at m that roots give into f.  A pair whose odd byte
 * occurs (in count) must get 2 or more, so with pairs its root grows
 * until it does, in fixed, a copy, and the table to send becomes that;
 * 0 if it cannot grow enough.
 */
static int
roots_fit(const uint32_t **root, uint32_t *fixed, const struct span *sp,
    unsigned pairs, uint32_t m, uint32_t *f)
{
	unsigned lo = pairs ? sp->plo : sp->lo, end = pairs ? sp->pend : sp->end;
	roots_freqs(*root, lo, end, m, f);
	for (unsigned j = lo; pairs && j < end; j++)
		while (f[j] < 2 && sp->count[2 * j + 1]) {
			if (*root != fixed)
				*root = memcpy(fixed, *root, 256 * sizeof *fixed);
			if (fixed[j] >= ROOT_MAX / 2)
				return 0;
			fixed[j] *= 2;
			roots_freqs(fixed, lo, end, m, f);
		}
	return 1;
}

/*
 * The cheapest Rice parameter for roots, near the bit length of their
 * mean coded value; *bits gets their cost.
 */
static unsigned
best_roots_k(const uint32_t *root, unsigned lo, unsigned end, double *bits)
{
	uint32_t code[256], prev = 0;
	uint64_t sum = 0;
	unsigned n = 0, best = 0;

	for (unsigned s = lo; s < end; s++)
		if (root[s]) {
			sum += code[n++] = root_code(root[s], prev);
			prev = root[s];
		}
	unsigned mid = 32 - (unsigned)__builtin_clz((uint32_t)(sum / n) + 1);
	*bits = INFINITY;
	for (unsigned k = mid > 1 ? mid - 2 : 0; k <= mid && k < 16; k++) {
		double b = 8;	/* Rice_K */
		for (unsigned i = 0; i < n; i++)
			b += rice_bits(code[i], k);
		if (b < *bits) {
			*bits = b;
			best = k;
		}
	}
	return best;
}

static int
rans_encode(void **state, uint8_t *dst, size_t cap, size_t *out,
    const struct z4_code_in *in)
{
	const uint8_t *src = in->src;
	size_t n = in->n;
	uint32_t own[256] = { 0 }, pair[256] = { 0 }, f[256], root[256];
	uint32_t fixed[256];
	const uint32_t *count = in->count;
	/* Finer tables than the SIMD decoder's where speed matters least. */
	int small = z4_small_plane(in->level, n);
	unsigned maxb = small ? 15 : 12;
	/*
	 * Roots cost the same at any precision, and the finest comes
	 * nearest them but for a few bytes: only small planes, where the
	 * time is little, try them at every precision.
	 */
	unsigned root_b = small ? 10 : maxb;
	struct choice best = { .bits = INFINITY };

	(void)state;
	if (cap < rans_bound(n) || n == 0)
		return Z4_E_USAGE;
	pthread_once(&log2_once, log2_init);	/* for consider() */
	if (count == NULL) {
		for (size_t i = 0; i < n; i++)
			own[src[i]]++;
		count = own;
	}
	unsigned nsyms[2] = { 0, 0 };	/* present: symbols, pairs */
	struct span sp = { count, 256, 0, 0, 0 };
	for (unsigned s = 0; s < 256; s++)
		pair[s / 2] += count[s];
	for (unsigned s = 0; s < 256; s++) {
		nsyms[0] += count[s] != 0;
		nsyms[1] += pair[s] != 0;
		if (count[s]) {
			sp.lo = sp.lo < s ? sp.lo : s;
			sp.end = s + 1;
		}
	}
	sp.plo = sp.lo / 2;
	sp.pend = (sp.end + 1) / 2;
	/*
	 * The precision, whether the table gives pairs, and whether it
	 * gives frequencies or roots, that make table and data smallest
	 * together.
	 */
	for (unsigned as_pairs = 0; as_pairs < 2; as_pairs++) {
		const uint32_t *c = as_pairs ? pair : count;
		unsigned nsym = nsyms[as_pairs], lo, span, k;
		unsigned slo = as_pairs ? sp.plo : sp.lo;
		unsigned send = as_pairs ? sp.pend : sp.end;
		double head = 8.0 * present_size(c, nsym, &lo, &span), tbits;
		double sq[256];
		memset(f, 0, sizeof f);
		memset(root, 0, sizeof root);
		for (unsigned b = 10; b <= maxb; b++) {
			normalise_span(c, slo, send, n, 1u << b, f);
			if (as_pairs)
				widen_pairs(f, count);
			k = best_rice(f, 256, nsym, &tbits);
			consider(&best, &sp, f, f, b, as_pairs, 0, k,
			    head + tbits);
		}
		/*
		 * The decoder scales the roots' squares to 2^B, so roots
		 * may be scaled down: coarser, they cost fewer bits.
		 */
		for (unsigned s = slo; s < send; s++)
			sq[s] = sqrt((double)c[s]);
		for (double sc = 1; sc > 0.2; sc *= M_SQRT1_2) {
			for (unsigned s = slo; s < send; s++) {
				root[s] = (uint32_t)(sc * sq[s] + 0.5);
				root[s] += c[s] && !root[s];
			}
			k = best_roots_k(root, slo, send, &tbits);
			for (unsigned b = root_b; b <= maxb; b++) {
				const uint32_t *use = root;
				if (!roots_fit(&use, fixed, &sp, as_pairs,
				    1u << b, f))
					continue;
				unsigned kk = k;
				double tb = tbits;
				if (use != root)
					kk = best_roots_k(use, slo, send, &tb);
				consider(&best, &sp, use, f, b, as_pairs, 1,
				    kk, head + tb);
			}
		}
	}
	unsigned nsym = 0;
	for (unsigned s = 0; s < 256; s++)
		nsym += best.table[s] != 0;
	unsigned nst = state_count(n, in->level);
	if (nst == SMAX) {
		int done, err = try_digrams(dst, cap, out, in, count, nst,
		    best.bits, &done);
		if (err || done)
			return err;
	}
	unsigned lg = (unsigned)__builtin_ctz(nst);
	size_t h = 0;
	dst[h++] = (uint8_t)((best.b - 10) | lg << 4 | best.pairs << 7);
	h += put_present(dst + h, best.table, nsym);
	h += best.roots ? put_roots(dst + h, best.table, 256, best.k) :
	    put_freqs(dst + h, best.table, 256, nsym, best.k);
	return code_symbols(dst, h, cap, out, best.freq, 256, best.b, src,
	    NULL, n, nst);
}

struct bitr {
	const uint8_t *p;
	size_t n, len;		/* bits read, bits available */
};

static uint32_t
get_bits(struct bitr *r, unsigned k, int *ok)
{
	uint32_t v = 0;
	if (k > r->len - r->n) {
		*ok = 0;
		return 0;
	}
	for (unsigned i = 0; i < k; i++, r->n++)
		v |= (uint32_t)(r->p[r->n / 8] >> r->n % 8 & 1) << i;
	return v;
}

static uint32_t
get_rice(struct bitr *r, unsigned k, int *ok)
{
	unsigned q = 0;
	while (*ok && q < RICE_ESCAPE && get_bits(r, 1, ok))
		q++;
	if (q == RICE_ESCAPE)
		return get_bits(r, 16, ok);
	return (uint32_t)q << k | get_bits(r, k, ok);
}

/*
 * The bits set in a bitmap of nbits bits padded to whole bytes, or -1
 * if a padding bit is set.
 */
static int
bitmap_count(const uint8_t *bitmap, unsigned nbits)
{
	int count = 0;

	for (unsigned i = 0; i < (nbits + 7) / 8 * 8; i++) {
		unsigned bit = bitmap[i / 8] >> i % 8 & 1;
		if (bit && i >= nbits)
			return -1;
		count += bit;
	}
	return count;
}

/*
 * ROOTS Freqs: the root of each of the nsym symbols present, bytes or
 * pairs, the first as root - 1 and the others as the zigzag of their
 * difference from the one before, Rice codes with parameter k; then the
 * frequencies they give, adding up to m.
 */
static int
read_roots(struct bitr *r, const uint8_t *present, unsigned k, uint32_t m,
    uint32_t *freq)
{
	uint32_t root[256], prev = 0;
	int ok = 1;

	for (unsigned s = 0; s < 256; s++) {
		root[s] = 0;
		if (!(present[s / 8] >> s % 8 & 1))
			continue;
		uint32_t v = get_rice(r, k, &ok);
		if (!ok)
			return Z4_E_DECODE;
		if (prev == 0)
			root[s] = v + 1;
		else if (v & 1)
			root[s] = (v + 1) / 2 < prev ? prev - (v + 1) / 2 : 0;
		else
			root[s] = prev + v / 2;
		if (root[s] == 0 || root[s] > ROOT_MAX)
			return Z4_E_DECODE;
		prev = root[s];
	}
	roots_freqs(root, 0, 256, m, freq);
	return 0;
}

/*
 * Rice_K and Freqs: the frequencies of the nsym symbols of size that the
 * bitmap present has (all of them where it is NULL) into freq, 0 for the
 * others, adding up to 2^bits.  A table of bytes or pairs (roots_ok,
 * size 256) may give roots instead.
 */
static int
read_freqs(struct z4_cursor *c, const uint8_t *present, unsigned size,
    unsigned nsym, unsigned bits, int roots_ok, uint32_t *freq)
{
	unsigned k = z4_cur8(c), seen = 0;
	uint32_t m = 1u << bits, sum = 0;
	int ok = 1;

	if (!c->ok || (k & ~(unsigned)ROOTS) > 15 || (k & ROOTS && !roots_ok))
		return Z4_E_DECODE;
	struct bitr r = { c->p + c->pos, 0, 8 * (c->len - c->pos) };
	if (k & ROOTS) {
		int err = read_roots(&r, present, k & 15, m, freq);
		if (err)
			return err;
	}
	for (unsigned s = 0; s < size && !(k & ROOTS); s++) {
		freq[s] = 0;
		if (present && !(present[s / 8] >> s % 8 & 1))
			continue;
		uint32_t f;
		if (++seen < nsym) {
			f = get_rice(&r, k, &ok) + 1;
			if (!ok || f >= m - sum)
				return Z4_E_DECODE;
			k = next_rice(f);
		} else {
			f = m - sum;
		}
		freq[s] = f;
		sum += f;
	}
	/* The padding must be zero: one coding for each table. */
	if (r.n % 8 && r.p[r.n / 8] >> r.n % 8)
		return Z4_E_DECODE;
	z4_cur_bytes(c, (r.n + 7) / 8);
	return c->ok ? 0 : Z4_E_DECODE;
}

/*
 * Symbols, Lo, Span and Present: the bitmap of the symbols present into
 * present (32 bytes, cleared first) and their number into *nsym.  A
 * symbol above limit is rejected.
 */
static int
read_present(struct z4_cursor *c, unsigned limit, uint8_t *present,
    unsigned *nsym)
{
	unsigned k = z4_cur8(c) + 1, lo = z4_cur8(c), span = z4_cur8(c);

	memset(present, 0, 32);
	if (!c->ok || lo + span > limit || k > span + 1 ||
	    (k == 1) != (span == 0))
		return Z4_E_DECODE;
	/* Lo and Lo + Span are present, and those between in the bitmap. */
	present[lo / 8] |= (uint8_t)(1u << lo % 8);
	present[(lo + span) / 8] |= (uint8_t)(1u << (lo + span) % 8);
	if (k < span + 1) {
		const uint8_t *bitmap = z4_cur_bytes(c, (span - 1 + 7) / 8);
		if (bitmap == NULL || bitmap_count(bitmap, span - 1) !=
		    (int)k - 2)
			return Z4_E_DECODE;
		for (unsigned j = 0; j < span - 1; j++)
			if (bitmap[j / 8] >> j % 8 & 1)
				present[(lo + 1 + j) / 8] |=
				    (uint8_t)(1u << (lo + 1 + j) % 8);
	} else {
		for (unsigned s = lo + 1; s < lo + span; s++)
			present[s / 8] |= (uint8_t)(1u << s % 8);
	}
	*nsym = k;
	return 0;
}

/*
 * The rest of a table of digrams (mode read) for a plane of n bytes.
 */
static int
read_digrams(struct z4_cursor *c, struct dec_table *t, unsigned mode,
    size_t n)
{
	uint8_t present[32], byte[256];
	const uint8_t *bitmap = NULL;
	uint32_t *freq = t->fb;		/* digrams do not use it */
	unsigned k1 = 0, nsym;
	int err;

	t->digrams = 1;
	if (mode & 0x80 || t->bits > DIGRAM_BITS)
		return Z4_E_DECODE;
	if ((err = read_present(c, 255, present, &k1)))
		return err;
	for (unsigned s = 0, r = 0; s < 256; s++)
		if (present[s / 8] >> s % 8 & 1)
			byte[r++] = (uint8_t)s;
	unsigned size = k1 * k1;
	nsym = z4_cur16(c) + 1;
	if (!c->ok || k1 > DIGRAM_BYTES || nsym > size)
		return Z4_E_DECODE;
	if (nsym < size && ((bitmap = z4_cur_bytes(c, (size + 7) / 8)) ==
	    NULL || bitmap_count(bitmap, size) != (int)nsym))
		return Z4_E_DECODE;
	if ((err = read_freqs(c, bitmap, size, nsym, t->bits, 0, freq)))
		return err;
	for (unsigned i = 0, start = 0; i < size; i++) {
		uint64_t both = (uint64_t)(byte[i / k1] | byte[i % k1] << 8) <<
		    32;
		for (uint32_t j = 0; j < freq[i]; j++)
			t->d64[start + j] = both | (freq[i] - 1) << 14 | j;
		start += freq[i];
	}
	if (n % 2)
		t->last = (uint8_t)z4_cur8(c);
	return c->ok ? 0 : Z4_E_DECODE;
}

static int
read_table(struct z4_cursor *c, struct dec_table *t, unsigned *nstate,
    size_t n)
{
	unsigned mode = z4_cur8(c);

	t->bits = 10 + (mode & 7);
	t->digrams = 0;
	*nstate = 1u << (mode >> 4 & 7);
	if (*nstate == 2 || *nstate > SMAX)
		return Z4_E_DECODE;
	if (mode & 8)
		return read_digrams(c, t, mode, n);
	unsigned nsym, pairs = mode >> 7;
	uint8_t present[32];
	uint32_t table[256], freq[256];
	int err;

	if (t->bits > 15)
		return Z4_E_DECODE;
	if ((err = read_present(c, pairs ? 127 : 255, present, &nsym)) ||
	    (err = read_freqs(c, present, 256, nsym, t->bits, 1, table)))
		return err;
	if (pairs)
		split_pairs(table, freq);
	else
		memcpy(freq, table, sizeof freq);
	/* Only the AVX2 decoder, for 8 states or more, reads packed. */
	int pack = t->bits <= 12 && *nstate >= 8;
	uint32_t start = 0;
	for (unsigned s = 0; s < 256; s++) {
		uint32_t f = freq[s];
		for (uint32_t i = 0; i < f; i++) {
			t->sym[start + i] = (uint8_t)s;
			t->fb[start + i] = f << 16 | i;
		}
		for (uint32_t i = 0; i < f && pack; i++)
			t->packed[start + i] = s << 24 | (f - 1) << 12 | i;
		start += f;
	}
	return 0;
}

/* A word into state *x if it fell below L, read with a bounds check. */
static inline int
renorm(uint32_t *x, const uint8_t **p, const uint8_t *end)
{
	if (*x < RANS_L) {
		if (end - *p < 2)
			return 1;
		*x = *x << 16 | z4_get16(*p);
		*p += 2;
	}
	return 0;
}

/* One symbol with state *x, its word read with a bounds check. */
static inline int
one_symbol(const struct dec_table *t, uint32_t *x, uint8_t *dst,
    const uint8_t **p, const uint8_t *end)
{
	uint32_t slot = *x & ((1u << t->bits) - 1), fb = t->fb[slot];
	*dst = t->sym[slot];
	*x = (fb >> 16) * (*x >> t->bits) + (fb & 0xffff);
	return renorm(x, p, end);
}

/* One digram with state *x, as one_symbol: both bytes to dst. */
static inline int
one_digram(const struct dec_table *t, uint32_t *x, uint8_t *dst,
    const uint8_t **p, const uint8_t *end)
{
	uint64_t e = t->d64[*x & ((1u << t->bits) - 1)];
	dst[0] = (uint8_t)(e >> 32);
	dst[1] = (uint8_t)(e >> 40);
	*x = ((uint32_t)(e >> 14 & 0x3fff) + 1) * (*x >> t->bits) +
	    (uint32_t)(e & 0x3fff);
	return renorm(x, p, end);
}

/*
 * Decode n symbols with S states, the first of them symbol base of the
 * plane (whole rounds start at a multiple of S).  Always inlined with S a
 * constant, so each state count gets its own unrolled loop.  While 2S
 * bytes of words remain, no bounds check is needed in a round of S
 * bytes; renormalisation is branch-free, since whether a state needs a
 * word is data and a mispredicted branch costs more than the select.
 * Returns 0, or Z4_E_DECODE where the words run out.
 */
static inline __attribute__((always_inline)) int
run_s(const struct dec_table *t, uint32_t *x, const unsigned S,
    uint8_t *dst, size_t n, size_t base, const uint8_t **pp,
    const uint8_t *end)
{
	const unsigned bits = t->bits;
	const uint32_t mask = (1u << bits) - 1;
	const uint8_t *p = *pp;
	size_t i = 0;

	for (; i < n && (base + i) % S; i++)
		if (one_symbol(t, &x[(base + i) & (S - 1)], dst + i, &p, end))
			return Z4_E_DECODE;
	for (; i + S <= n && (size_t)(end - p) >= 2 * S; i += S) {
		for (unsigned j = 0; j < S; j++) {
			uint32_t slot = x[j] & mask, fb = t->fb[slot];
			dst[i + j] = t->sym[slot];
			uint32_t y = (fb >> 16) * (x[j] >> bits) + (fb & 0xffff);
			uint32_t need = y < RANS_L;
			uint32_t w = z4_get16(p);
			x[j] = need ? y << 16 | w : y;
			p += 2 * need;
		}
	}
	for (; i < n; i++)
		if (one_symbol(t, &x[(base + i) & (S - 1)], dst + i, &p, end))
			return Z4_E_DECODE;
	*pp = p;
	return 0;
}

int
z4_rans_begin(void **state, struct z4_rans_run *r, size_t n,
    const uint8_t *src, size_t cn)
{
	struct z4_cursor c;
	struct dec_table *t = *state;
	int err;

	if (t == NULL && (t = *state = malloc(sizeof *t)) == NULL)
		return Z4_E_NOMEM;
	z4_cursor_init(&c, src, cn);
	if ((err = read_table(&c, t, &r->nst, n)))
		return err;
	for (unsigned j = 0; j < r->nst; j++) {
		r->x[j] = z4_cur32(&c);
		if (r->x[j] < RANS_L || r->x[j] >= 1u << 31)
			return Z4_E_DECODE;
	}
	if (!c.ok || n == 0)
		return Z4_E_DECODE;
	r->table = t;
	r->n = n;
	r->p = src + c.pos;
	r->end = src + cn;
	r->done = 0;
	return 0;
}

/*
 * The next n bytes of a plane of digrams: whole digrams, but for the odd
 * byte that ends a plane of odd size.
 */
static int
next_digrams(struct z4_rans_run *r, uint8_t *dst, size_t n)
{
	const struct dec_table *t = r->table;
	size_t np = n / 2, first = r->done / 2, j = 0;

	if (r->done % 2 || (n % 2 && r->done + n != r->n))
		return Z4_E_DECODE;
#ifdef Z4_RANS_AVX2
	if (r->nst >= 8 && first % r->nst == 0 && z4_simd_avx2())
		j = z4_rans_avx2_decode(t, r->x, dst, np, &r->p, r->end,
		    r->nst);
#endif
	/* State counts are powers of 2: a mask, not a division a step. */
	for (; j < np; j++)
		if (one_digram(t, &r->x[(first + j) & (r->nst - 1)],
		    dst + 2 * j, &r->p, r->end))
			return Z4_E_DECODE;
	if (n % 2)
		dst[n - 1] = t->last;
	r->done += n;
	return 0;
}

int
z4_rans_next(struct z4_rans_run *r, uint8_t *dst, size_t n)
{
	const struct dec_table *t = r->table;
	size_t done = 0;

	if (t->digrams)
		return next_digrams(r, dst, n);

#ifdef Z4_RANS_AVX2
	/* Whole rounds in AVX2, from a round's first state. */
	if (r->nst >= 8 && t->bits <= 12 && r->done % r->nst == 0 &&
	    z4_simd_avx2())
		done = z4_rans_avx2_decode(t, r->x, dst, n, &r->p, r->end,
		    r->nst);
#endif
	size_t base = r->done + done;
	int err;
	switch (r->nst) {
	case 1: err = run_s(t, r->x, 1, dst + done, n - done, base, &r->p,
	    r->end); break;
	case 4: err = run_s(t, r->x, 4, dst + done, n - done, base, &r->p,
	    r->end); break;
	case 8: err = run_s(t, r->x, 8, dst + done, n - done, base, &r->p,
	    r->end); break;
	case 16: err = run_s(t, r->x, 16, dst + done, n - done, base, &r->p,
	    r->end); break;
	case 32: err = run_s(t, r->x, 32, dst + done, n - done, base, &r->p,
	    r->end); break;
	default: err = run_s(t, r->x, 64, dst + done, n - done, base, &r->p,
	    r->end); break;
	}
	r->done += n;
	return err;
}

int
z4_rans_end(const struct z4_rans_run *r)
{
	/* The encoder's states started at L, and every word was read. */
	for (unsigned j = 0; j < r->nst; j++)
		if (r->x[j] != RANS_L)
			return Z4_E_DECODE;
	return r->p == r->end ? 0 : Z4_E_DECODE;
}

static int
rans_decode(void **state, uint8_t *dst, size_t n, const uint8_t *src,
    size_t cn)
{
	struct z4_rans_run r;
	int err;

	if ((err = z4_rans_begin(state, &r, n, src, cn)) ||
	    (err = z4_rans_next(&r, dst, n)))
		return err;
	return z4_rans_end(&r);
}

static void
rans_free(void *state)
{
	free(state);
}

const struct z4_coder z4_coder_rans = {
	.id = Z4_CODER_RANS,
	.name = "rans",
	.encode = rans_encode,
	.decode = rans_decode,
	.bound = rans_bound,
	.free_state = rans_free,
};

/*
 * xform_planes.c - split elements into byte planes of their live bits.
 *
 * Each element (W bytes, little-endian) is rotated left by R bits, so a
 * float's sign moves below its mantissa and its exponent lands in the top
 * bits; then the bits that are zero in every element of the chunk (the
 * dead low mantissa bits of an fp32 that holds bf16 or fp16 values) are
 * squeezed out, the live bits are aligned to the top of a whole number of
 * bytes, and byte k of every element goes to plane k.  For bf16 that is
 * one plane of exponents and one of sign and mantissa; for a bf16-origin
 * fp32 it is the same two planes, the 16 dead bits gone.
 *
 * Parameters: W (1, 2, 4 or 8), R (0 .. 8W-1), T (0 .. W-1), then the
 * live mask, W bytes little-endian, as bits of the rotated element.
 * Planes: one per byte of the packed live bits, lowest first, each
 * holding one byte per element; then, when T is not 0, one plane with
 * the T bytes that follow the last whole element.
 */
#define XXH_STATIC_LINKING_ONLY
#include "hash.h"

#include "internal.h"

#ifdef __SSE2__
#include <immintrin.h>
#endif

/* A run of live bits: where it sits in the element, where it goes. */
struct run {
	unsigned from, width, to;
};

struct layout {
	unsigned w, r, nplane, nrun;
	uint64_t mask;
	unsigned pad;			/* zero bits below the packed bits */
	struct run runs[32];
};

static uint64_t
rotl(uint64_t v, unsigned r, unsigned bits)
{
	uint64_t all = bits == 64 ? ~0ull : (1ull << bits) - 1;
	if (r == 0)
		return v & all;
	return ((v << r) | (v >> (bits - r))) & all;
}

/* Derive runs and plane count from W, R and the mask. */
static int
layout_init(struct layout *l, unsigned w, unsigned r, uint64_t mask)
{
	unsigned bits = 8 * w, live = 0, b = 0;

	if ((w != 1 && w != 2 && w != 4 && w != 8) || r >= bits ||
	    (bits < 64 && mask >> bits) || mask == 0)
		return Z4_E_CORRUPT;
	l->w = w;
	l->r = r;
	l->mask = mask;
	l->nrun = 0;
	while (b < bits) {
		if (!(mask >> b & 1)) {
			b++;
			continue;
		}
		unsigned start = b;
		while (b < bits && (mask >> b & 1))
			b++;
		l->runs[l->nrun++] = (struct run){ start, b - start, live };
		live += b - start;
	}
	l->nplane = (live + 7) / 8;
	l->pad = 8 * l->nplane - live;
	for (unsigned i = 0; i < l->nrun; i++)
		l->runs[i].to += l->pad;
	return 0;
}

static uint64_t
pack(const struct layout *l, uint64_t v)
{
	if (l->nrun == 1 && l->runs[0].from == 0 && l->pad == 0)
		return v;
	uint64_t out = 0;
	for (unsigned i = 0; i < l->nrun; i++) {
		const struct run *u = &l->runs[i];
		uint64_t m = u->width == 64 ? ~0ull : (1ull << u->width) - 1;
		out |= (v >> u->from & m) << u->to;
	}
	return out;
}

static uint64_t
unpack(const struct layout *l, uint64_t p)
{
	if (l->nrun == 1 && l->runs[0].from == 0 && l->pad == 0)
		return p;
	uint64_t v = 0;
	for (unsigned i = 0; i < l->nrun; i++) {
		const struct run *u = &l->runs[i];
		uint64_t m = u->width == 64 ? ~0ull : (1ull << u->width) - 1;
		v |= (p >> u->to & m) << u->from;
	}
	return v;
}

/*
 * Whether the live bits are one run filling every plane, so that the
 * packed element is the rotated one shifted down by where the run starts
 * and up by the padding: floats whose only dead bits are top exponent
 * bits, the common case, or the sign bit, as in a tensor of no negative
 * values (variances, norms' gains) or an XOR of two checkpoints' floats
 * that never change sign.
 */
static int
one_run(const struct layout *l)
{
	return l->nrun == 1 && l->nplane == l->w;
}

/*
 * The shift counts of a one-run layout, as SSE2 takes them: rotate left
 * by r (or right by it, with the counts swapped), then down by from, up
 * by pad.  A count of the element's width or more gives 0, so r = 0
 * needs no case of its own.
 */
struct shifts {
	unsigned r, unr, from, pad;
};

static struct shifts
one_run_shifts(const struct layout *l)
{
	return (struct shifts){ l->r, 8 * l->w - l->r, l->runs[0].from,
	    l->pad };
}

#ifdef __SSE2__
/*
 * Shifts of the 16-bit (W 2) or 32-bit (W 4) lanes of v by the count c:
 * the SSE2 loops below are written once for both widths, W a constant
 * where they are inlined.
 */
static inline __attribute__((always_inline)) __m128i
srl_w(__m128i v, __m128i c, const unsigned W)
{
	return W == 2 ? _mm_srl_epi16(v, c) : _mm_srl_epi32(v, c);
}

static inline __attribute__((always_inline)) __m128i
sll_w(__m128i v, __m128i c, const unsigned W)
{
	return W == 2 ? _mm_sll_epi16(v, c) : _mm_sll_epi32(v, c);
}

/* The packed form of the W-byte elements v of a one-run layout. */
static inline __attribute__((always_inline)) __m128i
pack_one_run(__m128i v, __m128i r, __m128i unr, __m128i from, __m128i pad,
    const unsigned W)
{
	v = _mm_or_si128(sll_w(v, r, W), srl_w(v, unr, W));
	return sll_w(srl_w(v, from, W), pad, W);
}

/* The inverse of pack_one_run. */
static inline __attribute__((always_inline)) __m128i
unpack_one_run(__m128i v, __m128i r, __m128i unr, __m128i from, __m128i pad,
    const unsigned W)
{
	v = sll_w(srl_w(v, pad, W), from, W);
	return _mm_or_si128(srl_w(v, r, W), sll_w(v, unr, W));
}
#endif

/*
 * BF16 and F16 split as the one-run layout l has it, the OR of the
 * elements made on the way: the fast path of the split, and, with every
 * bit live but the padding, a first guess at the layout.
 */
static unsigned
split16_or(const struct layout *l, const uint8_t *src, size_t n,
    uint8_t *lo, uint8_t *hi)
{
	const struct shifts c = one_run_shifts(l);
	unsigned acc = 0;
	size_t i = 0;
#ifdef __SSE2__
	const __m128i r = _mm_cvtsi32_si128((int)c.r);
	const __m128i unr = _mm_cvtsi32_si128((int)c.unr);
	const __m128i from = _mm_cvtsi32_si128((int)c.from);
	const __m128i pad = _mm_cvtsi32_si128((int)c.pad);
	const __m128i low8 = _mm_set1_epi16(0xff);
	__m128i or = _mm_setzero_si128();
	for (; i + 16 <= n; i += 16) {
		__m128i a = _mm_loadu_si128((const __m128i *)(src + 2 * i));
		__m128i b = _mm_loadu_si128((const __m128i *)(src + 2 * i +
		    16));
		or = _mm_or_si128(or, _mm_or_si128(a, b));
		a = pack_one_run(a, r, unr, from, pad, 2);
		b = pack_one_run(b, r, unr, from, pad, 2);
		_mm_storeu_si128((__m128i *)(lo + i), _mm_packus_epi16(
		    _mm_and_si128(a, low8), _mm_and_si128(b, low8)));
		_mm_storeu_si128((__m128i *)(hi + i), _mm_packus_epi16(
		    _mm_srli_epi16(a, 8), _mm_srli_epi16(b, 8)));
	}
	uint16_t lanes[8];
	_mm_storeu_si128((__m128i *)lanes, or);
	for (unsigned k = 0; k < 8; k++)
		acc |= lanes[k];
#endif
	for (; i < n; i++) {
		uint16_t v = (uint16_t)(src[2 * i] | src[2 * i + 1] << 8);
		acc |= v;
		v = (uint16_t)((uint16_t)rotl(v, c.r, 16) >> c.from << c.pad);
		lo[i] = (uint8_t)v;
		hi[i] = (uint8_t)(v >> 8);
	}
	return acc;
}

/* F32 the same way: four planes of a 4-byte element. */
static uint32_t
split32_or(const struct layout *l, const uint8_t *src, size_t n,
    uint8_t *const *out)
{
	const struct shifts c = one_run_shifts(l);
	uint32_t acc = 0;
	size_t i = 0;
#ifdef __SSE2__
	const __m128i r = _mm_cvtsi32_si128((int)c.r);
	const __m128i unr = _mm_cvtsi32_si128((int)c.unr);
	const __m128i from = _mm_cvtsi32_si128((int)c.from);
	const __m128i pad = _mm_cvtsi32_si128((int)c.pad);
	const __m128i low8 = _mm_set1_epi32(0xff);
	__m128i or = _mm_setzero_si128();
	for (; i + 16 <= n; i += 16) {
		__m128i x[4];
		for (unsigned j = 0; j < 4; j++) {
			x[j] = _mm_loadu_si128((const __m128i *)(src + 4 * i +
			    16 * j));
			or = _mm_or_si128(or, x[j]);
			x[j] = pack_one_run(x[j], r, unr, from, pad, 4);
		}
		/* Byte k of each element, below 256: packing saturates none. */
		for (unsigned k = 0; k < 4; k++) {
			__m128i b[4];
			for (unsigned j = 0; j < 4; j++)
				b[j] = _mm_and_si128(_mm_srli_epi32(x[j],
				    (int)(8 * k)), low8);
			_mm_storeu_si128((__m128i *)(out[k] + i),
			    _mm_packus_epi16(_mm_packs_epi32(b[0], b[1]),
			    _mm_packs_epi32(b[2], b[3])));
		}
	}
	uint32_t lanes[4];
	_mm_storeu_si128((__m128i *)lanes, or);
	acc = lanes[0] | lanes[1] | lanes[2] | lanes[3];
#endif
	for (; i < n; i++) {
		uint32_t v = z4_get32(src + 4 * i);
		acc |= v;
		v = (uint32_t)rotl(v, c.r, 32) >> c.from << c.pad;
		for (unsigned k = 0; k < 4; k++)
			out[k][i] = (uint8_t)(v >> 8 * k);
	}
	return acc;
}

#ifdef __SSE2__
/*
 * Any layout of a 2- or 4-byte element, eight or four elements to a
 * vector: the rotation and each run of live bits are a shift and a mask,
 * the same for every lane, so a chunk whose low mantissa bits are dead
 * (an f32 of bf16 or fp16 values, a bf16 of MX-format values) splits and
 * merges as fast as one without.
 */
struct lanes {
	__m128i rot, unrot;		/* shift counts: R and 8W - R */
	__m128i from[32], to[32], mask[32];
};

static void
lanes_init(struct lanes *s, const struct layout *l)
{
	s->rot = _mm_cvtsi32_si128((int)l->r);
	s->unrot = _mm_cvtsi32_si128(8 * (int)l->w - (int)l->r);
	for (unsigned i = 0; i < l->nrun; i++) {
		const struct run *u = &l->runs[i];
		uint32_t m = u->width == 32 ? ~0u : (1u << u->width) - 1;
		s->from[i] = _mm_cvtsi32_si128((int)u->from);
		s->to[i] = _mm_cvtsi32_si128((int)u->to);
		s->mask[i] = l->w == 2 ? _mm_set1_epi16((short)m) :
		    _mm_set1_epi32((int)m);
	}
}

/* The W-byte elements v rotated, their NR runs of live bits packed. */
static inline __attribute__((always_inline)) __m128i
pack_runs(__m128i v, const struct lanes *s, const unsigned NR,
    const unsigned W)
{
	__m128i x = _mm_setzero_si128();
	v = _mm_or_si128(sll_w(v, s->rot, W), srl_w(v, s->unrot, W));
	for (unsigned k = 0; k < NR; k++)
		x = _mm_or_si128(x, sll_w(_mm_and_si128(srl_w(v, s->from[k],
		    W), s->mask[k]), s->to[k], W));
	return x;
}

/* The inverse of pack_runs. */
static inline __attribute__((always_inline)) __m128i
unpack_runs(__m128i p, const struct lanes *s, const unsigned NR,
    const unsigned W)
{
	__m128i v = _mm_setzero_si128();
	for (unsigned k = 0; k < NR; k++)
		v = _mm_or_si128(v, sll_w(_mm_and_si128(srl_w(p, s->to[k], W),
		    s->mask[k]), s->from[k], W));
	return _mm_or_si128(srl_w(v, s->rot, W), sll_w(v, s->unrot, W));
}

/*
 * The elements at src into the planes, 16 at a time; returns how many.
 * Inlined with NR, the number of runs, a constant where it is small.
 */
static inline __attribute__((always_inline)) size_t
split4_runs(const struct layout *l, const uint8_t *src, size_t n,
    uint8_t *const *planes, const unsigned NR)
{
	const __m128i low8 = _mm_set1_epi32(0xff);
	struct lanes s;
	size_t i = 0;

	lanes_init(&s, l);
	for (; i + 16 <= n; i += 16) {
		const uint8_t *in = src + 4 * i;
		__m128i x[4];
		for (unsigned j = 0; j < 4; j++)
			x[j] = pack_runs(_mm_loadu_si128((const __m128i *)(in +
			    16 * j)), &s, NR, 4);
		/* Byte k of each element, below 256: no packing saturates. */
		for (unsigned k = 0; k < l->nplane; k++) {
			__m128i by = _mm_cvtsi32_si128((int)(8 * k)), b[4];
			for (unsigned j = 0; j < 4; j++)
				b[j] = _mm_and_si128(_mm_srl_epi32(x[j], by),
				    low8);
			_mm_storeu_si128((__m128i *)(planes[k] + i),
			    _mm_packus_epi16(_mm_packs_epi32(b[0], b[1]),
			    _mm_packs_epi32(b[2], b[3])));
		}
	}
	return i;
}

/* The inverse, 16 elements at a time; returns how many it merged. */
static inline __attribute__((always_inline)) size_t
merge4_runs(const struct layout *l, uint8_t *dst, size_t n,
    const uint8_t *const *planes, const unsigned NR)
{
	const __m128i zero = _mm_setzero_si128();
	struct lanes s;
	size_t i = 0;

	lanes_init(&s, l);
	for (; i + 16 <= n; i += 16) {
		__m128i p[4] = { zero, zero, zero, zero };
		for (unsigned k = 0; k < l->nplane; k++) {
			__m128i by = _mm_cvtsi32_si128((int)(8 * k));
			__m128i b = _mm_loadu_si128(
			    (const __m128i *)(planes[k] + i));
			__m128i lo = _mm_unpacklo_epi8(b, zero);
			__m128i hi = _mm_unpackhi_epi8(b, zero);
			__m128i w[4] = { _mm_unpacklo_epi16(lo, zero),
			    _mm_unpackhi_epi16(lo, zero),
			    _mm_unpacklo_epi16(hi, zero),
			    _mm_unpackhi_epi16(hi, zero) };
			for (unsigned j = 0; j < 4; j++)
				p[j] = _mm_or_si128(p[j], _mm_sll_epi32(w[j],
				    by));
		}
		for (unsigned j = 0; j < 4; j++)
			_mm_storeu_si128((__m128i *)(dst + 4 * i + 16 * j),
			    unpack_runs(p[j], &s, NR, 4));
	}
	return i;
}

/* split4_runs for 2-byte elements, 16 at a time, into 1 or 2 planes. */
static inline __attribute__((always_inline)) size_t
split2_runs(const struct layout *l, const uint8_t *src, size_t n,
    uint8_t *const *planes, const unsigned NR)
{
	const __m128i low8 = _mm_set1_epi16(0xff);
	struct lanes s;
	size_t i = 0;

	lanes_init(&s, l);
	for (; i + 16 <= n; i += 16) {
		__m128i x[2];
		for (unsigned j = 0; j < 2; j++)
			x[j] = pack_runs(_mm_loadu_si128((const __m128i *)(src +
			    2 * i + 16 * j)), &s, NR, 2);
		_mm_storeu_si128((__m128i *)(planes[0] + i), _mm_packus_epi16(
		    _mm_and_si128(x[0], low8), _mm_and_si128(x[1], low8)));
		if (l->nplane == 2)
			_mm_storeu_si128((__m128i *)(planes[1] + i),
			    _mm_packus_epi16(_mm_srli_epi16(x[0], 8),
			    _mm_srli_epi16(x[1], 8)));
	}
	return i;
}

/* merge4_runs for 2-byte elements, 16 at a time. */
static inline __attribute__((always_inline)) size_t
merge2_runs(const struct layout *l, uint8_t *dst, size_t n,
    const uint8_t *const *planes, const unsigned NR)
{
	const __m128i zero = _mm_setzero_si128();
	struct lanes s;
	size_t i = 0;

	lanes_init(&s, l);
	for (; i + 16 <= n; i += 16) {
		__m128i lo = _mm_loadu_si128((const __m128i *)(planes[0] + i));
		__m128i hi = l->nplane == 2 ? _mm_loadu_si128(
		    (const __m128i *)(planes[1] + i)) : zero;
		__m128i p[2] = { _mm_unpacklo_epi8(lo, hi),
		    _mm_unpackhi_epi8(lo, hi) };
		for (unsigned j = 0; j < 2; j++)
			_mm_storeu_si128((__m128i *)(dst + 2 * i + 16 * j),
			    unpack_runs(p[j], &s, NR, 2));
	}
	return i;
}

/*
 * The runs loops of l's width (2 or 4), the number of runs a constant
 * where it is small, so that the loop over them unrolls.
 */
#define BY_RUNS(f, ...) (l->nrun == 1 ? f(__VA_ARGS__, 1) : \
	l->nrun == 2 ? f(__VA_ARGS__, 2) : l->nrun == 3 ? f(__VA_ARGS__, 3) : \
	f(__VA_ARGS__, l->nrun))

static size_t
split_sse2(const struct layout *l, const uint8_t *src, size_t n,
    uint8_t *const *planes)
{
	return l->w == 2 ? BY_RUNS(split2_runs, l, src, n, planes) :
	    BY_RUNS(split4_runs, l, src, n, planes);
}

static size_t
merge_sse2(const struct layout *l, uint8_t *dst, size_t n,
    const uint8_t *const *planes)
{
	return l->w == 2 ? BY_RUNS(merge2_runs, l, dst, n, planes) :
	    BY_RUNS(merge4_runs, l, dst, n, planes);
}
#undef BY_RUNS
#endif

/* The kernel, forward: n elements at src into nplane planes. */
static void
split(const struct layout *l, const uint8_t *src, size_t n,
    uint8_t *const *planes)
{
	unsigned bits = 8 * l->w;

	/* Elements whose live bits are one run: rotated, shifted. */
	if (l->w == 2 && one_run(l)) {
		split16_or(l, src, n, planes[0], planes[1]);
		return;
	}
	if (l->w == 4 && one_run(l)) {
		split32_or(l, src, n, planes);
		return;
	}
	if (l->w == 8 && one_run(l)) {
		const struct shifts c = one_run_shifts(l);
		for (size_t i = 0; i < n; i++) {
			uint64_t v = rotl(z4_get64(src + 8 * i), c.r, 64) >>
			    c.from << c.pad;
			for (unsigned k = 0; k < 8; k++)
				planes[k][i] = (uint8_t)(v >> 8 * k);
		}
		return;
	}
	size_t i = 0;
#ifdef __SSE2__
	if (l->w == 2 || l->w == 4)
		i = split_sse2(l, src, n, planes);
#endif
	for (; i < n; i++) {
		uint64_t v = pack(l, rotl(z4_getn(src + i * l->w, l->w), l->r,
		    bits));
		for (unsigned k = 0; k < l->nplane; k++)
			planes[k][i] = (uint8_t)(v >> 8 * k);
	}
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PLANES_AVX2 1
/*
 * The elements of 16 packed 2-byte ones of a one-run layout.  FLOAT is
 * the layout of floats whose only dead bits are on top (from 0, rotated
 * by 1), nearly every BF16 and F16 chunk: its shifts are immediates,
 * two fewer a vector on the decoder's hottest loop.
 */
__attribute__((target("avx2"))) static inline
__attribute__((always_inline)) __m256i
unpack16_avx2(__m256i v, __m128i r, __m128i unr, __m128i from, __m128i pad,
    const int FLOAT)
{
	v = _mm256_srl_epi16(v, pad);
	if (FLOAT)
		return _mm256_or_si256(_mm256_srli_epi16(v, 1),
		    _mm256_slli_epi16(v, 15));
	v = _mm256_sll_epi16(v, from);
	return _mm256_or_si256(_mm256_srl_epi16(v, r), _mm256_sll_epi16(v,
	    unr));
}

/* merge's 2-byte one-run loop, 32 elements at a time. */
__attribute__((target("avx2"))) static inline
__attribute__((always_inline)) size_t
merge2_avx2_loop(uint8_t *out, const uint8_t *lo, const uint8_t *hi,
    size_t n, struct shifts c, const int FLOAT)
{
	const __m128i r = _mm_cvtsi32_si128((int)c.r);
	const __m128i unr = _mm_cvtsi32_si128((int)c.unr);
	const __m128i from = _mm_cvtsi32_si128((int)c.from);
	const __m128i pad = _mm_cvtsi32_si128((int)c.pad);
	size_t i = 0;

	for (; i + 32 <= n; i += 32) {
		__m256i a = _mm256_loadu_si256((const __m256i *)(lo + i));
		__m256i b = _mm256_loadu_si256((const __m256i *)(hi + i));
		__m256i x = unpack16_avx2(_mm256_unpacklo_epi8(a, b), r, unr,
		    from, pad, FLOAT);
		__m256i y = unpack16_avx2(_mm256_unpackhi_epi8(a, b), r, unr,
		    from, pad, FLOAT);
		/* Unpacking pairs within 128-bit halves: put them in order. */
		_mm256_storeu_si256((__m256i *)(out + 2 * i),
		    _mm256_permute2x128_si256(x, y, 0x20));
		_mm256_storeu_si256((__m256i *)(out + 2 * i + 32),
		    _mm256_permute2x128_si256(x, y, 0x31));
	}
	return i;
}

__attribute__((target("avx2"))) static size_t
merge2_avx2(uint8_t *out, const uint8_t *lo, const uint8_t *hi, size_t n,
    struct shifts c)
{
	return c.from == 0 && c.r == 1 ?
	    merge2_avx2_loop(out, lo, hi, n, c, 1) :
	    merge2_avx2_loop(out, lo, hi, n, c, 0);
}
#endif

/* The kernel, inverse. */
static void
merge(const struct layout *l, uint8_t *dst, size_t n,
    const uint8_t *const *planes)
{
	unsigned bits = 8 * l->w;
	const struct shifts c = one_run_shifts(l);
#ifdef __SSE2__
	const __m128i r = _mm_cvtsi32_si128((int)c.r);
	const __m128i unr = _mm_cvtsi32_si128((int)c.unr);
	const __m128i from = _mm_cvtsi32_si128((int)c.from);
	const __m128i pad = _mm_cvtsi32_si128((int)c.pad);
#endif

	if (l->w == 2 && one_run(l)) {
		const uint8_t *restrict lo = planes[0], *restrict hi = planes[1];
		uint8_t *restrict out = dst;
		size_t i = 0;
#ifdef PLANES_AVX2
		if (z4_simd_avx2())
			i = merge2_avx2(out, lo, hi, n, c);
#endif
#ifdef __SSE2__
		/* Bytes paired into 16-bit lanes, unpacked, rotated right. */
		for (; i + 16 <= n; i += 16) {
			__m128i a = _mm_loadu_si128((const __m128i *)(lo + i));
			__m128i b = _mm_loadu_si128((const __m128i *)(hi + i));
			_mm_storeu_si128((__m128i *)(out + 2 * i),
			    unpack_one_run(_mm_unpacklo_epi8(a, b), r, unr,
			    from, pad, 2));
			_mm_storeu_si128((__m128i *)(out + 2 * i + 16),
			    unpack_one_run(_mm_unpackhi_epi8(a, b), r, unr,
			    from, pad, 2));
		}
#endif
		for (; i < n; i++) {
			uint16_t v = (uint16_t)((lo[i] | hi[i] << 8) >> c.pad <<
			    c.from);
			v = (uint16_t)rotl(v, c.unr % 16, 16);
			out[2 * i] = (uint8_t)v;
			out[2 * i + 1] = (uint8_t)(v >> 8);
		}
		return;
	}
	if (l->w == 4 && one_run(l)) {
		size_t i = 0;
#ifdef __SSE2__
		/* Bytes joined into 32-bit lanes, unpacked, rotated right. */
		for (; i + 16 <= n; i += 16) {
			__m128i b[4], e[4];
			for (unsigned k = 0; k < 4; k++)
				b[k] = _mm_loadu_si128(
				    (const __m128i *)(planes[k] + i));
			__m128i lo01 = _mm_unpacklo_epi8(b[0], b[1]);
			__m128i hi01 = _mm_unpackhi_epi8(b[0], b[1]);
			__m128i lo23 = _mm_unpacklo_epi8(b[2], b[3]);
			__m128i hi23 = _mm_unpackhi_epi8(b[2], b[3]);
			e[0] = _mm_unpacklo_epi16(lo01, lo23);
			e[1] = _mm_unpackhi_epi16(lo01, lo23);
			e[2] = _mm_unpacklo_epi16(hi01, hi23);
			e[3] = _mm_unpackhi_epi16(hi01, hi23);
			for (unsigned k = 0; k < 4; k++)
				_mm_storeu_si128((__m128i *)(dst + 4 * i +
				    16 * k), unpack_one_run(e[k], r, unr, from, pad,
				    4));
		}
#endif
		for (; i < n; i++) {
			uint32_t v = ((uint32_t)planes[0][i] |
			    (uint32_t)planes[1][i] << 8 |
			    (uint32_t)planes[2][i] << 16 |
			    (uint32_t)planes[3][i] << 24) >> c.pad << c.from;
			z4_put32(dst + 4 * i, (uint32_t)rotl(v, c.unr % 32, 32));
		}
		return;
	}
	if (l->w == 8 && one_run(l)) {
		for (size_t i = 0; i < n; i++) {
			uint64_t v = 0;
			for (unsigned k = 0; k < 8; k++)
				v |= (uint64_t)planes[k][i] << 8 * k;
			v = v >> c.pad << c.from;
			z4_put64(dst + 8 * i, rotl(v, c.unr % 64, 64));
		}
		return;
	}
	size_t i = 0;
#ifdef __SSE2__
	if (l->w == 2 || l->w == 4)
		i = merge_sse2(l, dst, n, planes);
#endif
	for (; i < n; i++) {
		uint64_t p = 0;
		for (unsigned k = 0; k < l->nplane; k++)
			p |= (uint64_t)planes[k][i] << 8 * k;
		uint64_t v = rotl(unpack(l, p), bits - l->r == bits ? 0 :
		    bits - l->r, bits);
		for (unsigned k = 0; k < l->w; k++)
			dst[i * l->w + k] = (uint8_t)(v >> 8 * k);
	}
}

static int
parse_params(const struct z4_xform_step *s, struct layout *l, unsigned *tail)
{
	if (s->param_size < 3 || s->param[0] > 8 ||
	    s->param_size != 3u + s->param[0])
		return Z4_E_CORRUPT;
	*tail = s->param[2];
	uint64_t mask = z4_getn(s->param + 3, s->param[0]);
	int err = layout_init(l, s->param[0], s->param[1], mask);
	return err ? err : *tail >= l->w ? Z4_E_CORRUPT : 0;
}

static unsigned
planes_inputs(const struct z4_xform_step *s)
{
	struct layout l;
	unsigned tail;
	return parse_params(s, &l, &tail) ? 0 : l.nplane + (tail != 0);
}

static int
planes_decode(struct z4_frame *f, const struct z4_xform_step *s,
    unsigned first, struct z4_plane *out)
{
	const uint8_t *in[Z4_PLANE_MAX];
	struct layout l;
	unsigned tail;
	int err;

	if ((err = parse_params(s, &l, &tail)))
		return err;
	size_t n = f->plane[first].raw_size;
	for (unsigned k = 0; k < l.nplane; k++) {
		if (f->plane[first + k].raw_size != n)
			return Z4_E_CORRUPT;
		in[k] = f->plane[first + k].raw;
	}
	if (tail && f->plane[first + l.nplane].raw_size != tail)
		return Z4_E_CORRUPT;
	/* n is at most Z4_CHUNK_MAX: no overflow, a bounded allocation. */
	out->raw_size = n * l.w + tail;
	if (out->raw_size > Z4_CHUNK_MAX)
		return Z4_E_LIMIT;
	if ((err = z4_plane_reserve_raw(out, out->raw_size)))
		return err;
	merge(&l, out->rbuf, n, in);
	if (tail)
		memcpy(out->rbuf + n * l.w, f->plane[first + l.nplane].raw,
		    tail);
	out->raw = out->rbuf;
	return 0;
}

/*
 * Elements a part of z4_planes_fused: a multiple of every state count
 * and of 8, and small enough that the parts of the planes, some KiB
 * each, and the bytes merged from them stay in the first-level cache.
 */
#define FUSED_PART 4096

/*
 * A part's decoded bytes, checked, to their place in the frame: past the
 * caches where the place is aligned.  Another thread reads them next
 * (the stream's checksum, the write), so plain stores would first fetch
 * each line, most likely from that thread's core, only to overwrite it:
 * decoding 256 MiB of BF16 on one thread took 10% longer so.
 */
static void
stream_out(uint8_t *dst, const uint8_t *src, size_t n)
{
	size_t i = 0;
#ifdef __SSE2__
	if (((uintptr_t)dst & 15) == 0)
		for (; i + 64 <= n; i += 64)
			for (unsigned k = 0; k < 64; k += 16)
				_mm_stream_si128((__m128i *)(dst + i + k),
				    _mm_load_si128((const __m128i *)(src + i +
				    k)));
#endif
	memcpy(dst + i, src + i, n - i);
}

int
z4_planes_fused(struct z4_frame *f, uint64_t raw_checksum)
{
	struct z4_rans_run run;
	struct layout l;
	unsigned tail, rans = 0, b[8], sh[8];
	int err, fold_err = 0;

	const struct z4_xform_step *fold = f->nxform == 2 &&
	    f->xform[0].id == Z4_XF_FOLD ? &f->xform[0] : NULL;
	if (f->nxform != 1 + (fold != NULL))
		return 1;
	const struct z4_xform_step *planes = &f->xform[f->nxform - 1];
	struct z4_fold_field ff;
	if (planes->id != Z4_XF_PLANES ||
	    parse_params(planes, &l, &tail) || tail != 0 ||
	    f->nplane != l.nplane || l.nplane > 8 ||
	    (fold && (z4_fold_parse(fold, &ff) || ff.w != l.w)))
		return 1;
	size_t n = f->plane[0].raw_size;
	if (n * l.w != f->raw_size)
		return 1;
	for (unsigned k = 0; k < l.nplane; k++) {
		const struct z4_plane *p = &f->plane[k];
		if (p->raw_size != n || (p->coder != Z4_CODER_STORED &&
		    p->coder != Z4_CODER_RANS && p->coder != Z4_CODER_PACKED))
			return 1;
		rans += p->coder == Z4_CODER_RANS;
	}
	if (rans > 1)
		return 1;	/* one rANS table per frame */
	for (unsigned k = 0; k < l.nplane; k++) {
		const struct z4_plane *p = &f->plane[k];
		if (p->coder == Z4_CODER_PACKED)
			err = z4_packed_begin(n, p->coded, p->coded_size, &b[k],
			    &sh[k]);
		else if (p->coder == Z4_CODER_RANS)
			err = z4_rans_begin(&f->coder_state[Z4_CODER_RANS],
			    &run, n, p->coded, p->coded_size);
		else
			err = 0;
		if (err)
			return err;
	}
	uint8_t part[8][FUSED_PART];
	uint8_t out[8 * FUSED_PART] __attribute__((aligned(16)));
	XXH3_state_t st;
	XXH3_64bits_reset(&st);
	for (size_t i = 0; i < n; i += FUSED_PART) {
		size_t m = n - i < FUSED_PART ? n - i : FUSED_PART;
		const uint8_t *in[8];
		for (unsigned k = 0; k < l.nplane; k++) {
			const struct z4_plane *p = &f->plane[k];
			in[k] = part[k];
			if (p->coder == Z4_CODER_STORED)
				in[k] = p->coded + i;
			else if (p->coder == Z4_CODER_PACKED)
				z4_packed_part(part[k], p->coded, i, m, b[k],
				    sh[k]);
			else if ((err = z4_rans_next(&run, part[k], m)))
				return err;
		}
		merge(&l, out, m, in);
		/* FOLD's error comes after the planes', as undone in turn. */
		if (fold && !fold_err)
			fold_err = z4_fold_part(&ff, out, out, m * l.w);
		XXH3_64bits_update(&st, out, m * l.w);
		stream_out(f->raw + i * l.w, out, m * l.w);
	}
#ifdef __SSE2__
	_mm_sfence();	/* the streamed stores done before any other thread */
#endif
	if (rans && (err = z4_rans_end(&run)))
		return err;
	if (fold_err)
		return fold_err;
	return XXH3_64bits_digest(&st) == raw_checksum ? 0 : Z4_E_CHECKSUM;
}

/*
 * The rotation for a dtype: floats move their sign below the mantissa;
 * integers and opaque bytes stay as they are.  *keep gets a float's
 * exponent bits (the top ones after rotation), which small chunks keep
 * live even when unused, so the exponent stays a byte of its own.
 */
static unsigned
rotation(unsigned dtype, uint64_t *keep)
{
	unsigned e;

	switch (dtype) {
	case Z4_DT_F16: e = 5; break;
	case Z4_DT_BF16: case Z4_DT_F32: e = 8; break;
	case Z4_DT_F64: e = 11; break;
	default:
		*keep = 0;
		return 0;
	}
	unsigned bits = 8 * z4_dtype_width(dtype);
	*keep = ((1ull << e) - 1) << (bits - e);
	return 1;
}

/* The OR of every element: its zero bits are zero everywhere. */
static uint64_t
or_all(const uint8_t *p, size_t n, unsigned w)
{
	uint64_t acc = 0;
	size_t i = 0;

	if (w == 2) {
		unsigned a = 0;
		for (; i < n; i++)
			a |= z4_get16(p + 2 * i);
		return a;
	}
	if (w == 4) {
		uint32_t a = 0;
		for (; i < n; i++)
			a |= z4_get32(p + 4 * i);
		return a;
	}
	for (; i < n; i++)
		acc |= z4_getn(p + i * w, w);
	return acc;
}

/*
 * Lay the planes of live mask live out in the frame: parameters, and
 * buffers for the planes, whose addresses go to out.
 */
static int
lay_out(struct z4_frame *f, struct z4_xform_step *s, unsigned first,
    struct layout *l, unsigned w, unsigned r, uint64_t live, size_t n,
    size_t tail, uint8_t **out)
{
	int err;

	if ((err = layout_init(l, w, r, live)))
		return err;
	if (first + l->nplane + (tail != 0) > Z4_PLANE_MAX)
		return 1;
	s->param_size = 3 + w;
	s->param[0] = (uint8_t)w;
	s->param[1] = (uint8_t)r;
	s->param[2] = (uint8_t)tail;
	for (unsigned k = 0; k < w; k++)
		s->param[3 + k] = (uint8_t)(live >> 8 * k);
	f->nplane = first + l->nplane + (tail != 0);
	for (unsigned k = first; k < f->nplane; k++) {
		struct z4_plane *p = &f->plane[k];
		p->raw_size = k < first + l->nplane ? n : tail;
		if ((err = z4_plane_reserve_raw(p, p->raw_size)))
			return err;
		p->raw = out[k - first] = p->rbuf;
	}
	return 0;
}

/*
 * A 2- or 4-byte chunk split as l lays it out, every bit live but the
 * padding, the OR of its elements made on the way.  When the bytes split
 * are the frame's own and its checksum is still to be made, that is made
 * in the same pass, a block at a time while the block is in cache: a
 * chunk of 4 MiB read once instead of twice.
 */
static uint64_t
split_or_sum(struct z4_frame *f, const uint8_t *src, size_t size,
    const struct layout *l, uint8_t *const *out)
{
	enum { BLOCK = 8192 };	/* elements */
	size_t n = size / l->w;
	uint64_t all = 0;
	int sum = src == f->raw && size == f->raw_size && !f->sample_of &&
	    !f->sums_ready;
	XXH3_state_t st;

	XXH3_64bits_reset(&st);
	for (size_t i = 0; i < n; i += BLOCK) {
		size_t m = n - i < BLOCK ? n - i : BLOCK;
		if (l->w == 2) {
			all |= split16_or(l, src + 2 * i, m, out[0] + i,
			    out[1] + i);
		} else {
			uint8_t *o[4] = { out[0] + i, out[1] + i, out[2] + i,
			    out[3] + i };
			all |= split32_or(l, src + 4 * i, m, o);
		}
		if (sum)
			XXH3_64bits_update(&st, src + l->w * i, l->w * m);
	}
	if (sum) {
		XXH3_64bits_update(&st, src + l->w * n, size - l->w * n);
		f->raw_sum = XXH3_64bits_digest(&st);
		f->sums_ready = 1;
	}
	return all;
}

static int
encode_live(struct z4_frame *f, struct z4_xform_step *s,
    const uint8_t *src, size_t size, unsigned first, int tight)
{
	unsigned w = z4_dtype_width(f->tensor.dtype);
	uint64_t live;
	unsigned r = rotation(f->tensor.dtype, &live), bits = 8 * w;
	size_t n = size / w, tail = size % w;
	struct layout l;
	uint8_t *out[Z4_PLANE_MAX];
	int err;

	if (w < 2 || n == 0)
		return 1;
	/*
	 * Tight: weights under 2 in magnitude never set the top exponent
	 * bit, and in a large chunk it is squeezed out like any dead bit.
	 * The top plane then takes the mantissa's first bit with the
	 * exponent, coded jointly, and the low plane's padding bit goes
	 * when PACKED codes it: gpt_base_step300_bf16 1,141,975 ->
	 * 1,136,815 bytes, its fp16-origin F32 form 1,464,701 ->
	 * 1,459,485.  A small chunk would pay more for the larger table
	 * of its top plane than it gains.
	 */
	if (tight && n >= Z4_TIGHT_MIN)
		live = 0;
	/*
	 * A 2- or 4-byte float chunk is split at once as its usual layout
	 * has it, every bit live or all but the top exponent bit, the OR of
	 * its elements made in the same pass: one read of the chunk, not
	 * two.  Only when the OR shows another layout is it split again.
	 */
	int split_done = 0;
	if ((w == 2 || w == 4) && r == 1) {
		uint64_t all = (1ull << bits) - 1;
		uint64_t guess = live ? all : all >> 1;
		if ((err = lay_out(f, s, first, &l, w, r, guess, n, tail, out)))
			return err;
		live |= rotl(split_or_sum(f, src, size, &l, out), r, bits);
		split_done = live == guess;
	} else {
		live |= rotl(or_all(src, n, w), r, bits);
	}
	if (!split_done) {
		if (live == 0)
			live = 1;	/* all zero: keep one plane of zeros */
		if ((err = lay_out(f, s, first, &l, w, r, live, n, tail, out)))
			return err;
		split(&l, src, n, out);
	}
	if (tail)
		memcpy(out[l.nplane], src + n * w, tail);
	return 0;
}

static int
planes_encode(struct z4_frame *f, struct z4_xform_step *s,
    const uint8_t *src, size_t size, unsigned first)
{
	return encode_live(f, s, src, size, first, 0);
}

static int
tight_encode(struct z4_frame *f, struct z4_xform_step *s,
    const uint8_t *src, size_t size, unsigned first)
{
	return encode_live(f, s, src, size, first, 1);
}

/* One transform; two rows for the encoder, which picks the layout. */
const struct z4_xform z4_xform_planes = {
	.id = Z4_XF_PLANES,
	.name = "planes",
	.inputs = planes_inputs,
	.encode = planes_encode,
	.decode = planes_decode,
};

const struct z4_xform z4_xform_planes_tight = {
	.id = Z4_XF_PLANES,
	.name = "planes",
	.inputs = planes_inputs,
	.encode = tight_encode,
	.decode = planes_decode,
};

/*
 * xform_grid.c - values that lie on an integer grid with one scale per
 * group of elements: INT8 weights with a scale per output row, or INT4
 * with a scale per group of 64 or 128 inputs, dequantised into F32, BF16
 * or F16.
 *
 * Each element is the product of a small integer k and its group's scale
 * s, computed in IEEE single precision and, for BF16 and F16, rounded to
 * nearest even.  The encoder looks for such an (s, k) for every group and
 * keeps the transform only if every element comes back bit for bit;
 * anything else (a NaN, a value off the grid) leaves the chunk to other
 * chains.
 *
 * Parameters: Dtype (F32, BF16 or F16), Scale (0: fp32 bits, 1: fp16 bits),
 * G (u32, elements per group, from the start of the chunk; the last
 * group may be shorter).  Planes: the scales, one per group (4 or 2
 * bytes, little-endian); the integers k, one signed byte per element,
 * -127 .. 127, with -128 standing for -0.0 (a negative weight rounded to
 * zero keeps its sign).  The chunk must be a whole number of elements.
 */
#include <math.h>

#include "internal.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define GRID_KMAX 127

static float
f32_of(uint32_t u)
{
	float f;
	memcpy(&f, &u, 4);
	return f;
}

static uint32_t
bits_of(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

/*
 * fp16 bits to float; every fp16 value is exact in float.  Bits, not
 * ldexpf(): the grid's search converts every element many times.
 */
static float
f16_to_f32(unsigned h)
{
	uint32_t e = h >> 10 & 31, m = h & 1023;
	uint32_t sign = (uint32_t)(h & 0x8000) << 16;
	if (e == 0)		/* subnormal: m * 2^-24, exact */
		return f32_of(bits_of((float)m * 0x1p-24f) | sign);
	return f32_of(sign | (e == 31 ? 0x7f800000 | m << 13 :
	    (e + 112) << 23 | m << 13));
}

/* float to fp16 bits, when exact; returns -1 otherwise. */
static long
f32_to_f16_exact(float f)
{
	long sign = signbit(f) ? 0x8000 : 0;
	float a = fabsf(f);
	int e;

	if (!isfinite(a) || a > 65504.0f)
		return -1;
	if (a == 0)
		return sign;
	/*
	 * The normal fp16 range, from the bits: a float exponent of 113
	 * (2^-14) or more, and no mantissa bit below fp16's ten.
	 */
	uint32_t u = bits_of(a);
	if (u >> 23 >= 113) {
		if (u & 0x1fff)
			return -1;
		return sign | (long)((u >> 23) - 112) << 10 | (long)(u >> 13 &
		    0x3ff);
	}
	frexpf(a, &e);			/* a in [2^(e-1), 2^e) */
	if (e >= -13) {
		float mant = ldexpf(a, 11 - e);	/* in [1024, 2048) */
		if (mant != floorf(mant))
			return -1;
		return sign | (long)(e + 14) << 10 | ((long)mant - 1024);
	}
	float mant = ldexpf(a, 24);	/* subnormal: a = m * 2^-24 */
	if (mant != floorf(mant) || mant >= 1024)
		return -1;
	return sign | (long)mant;
}

/* 2^n as a float, for n from -126 to 127. */
static float
pow2(int n)
{
	return f32_of((uint32_t)(n + 127) << 23);
}

/*
 * The fp16 value d steps of 11 significant bits from a positive float:
 * its exponent e as frexpf() gives it, 13 at the least, and the scaling
 * by powers of 2 exact, so the same as with ldexpf() for the finite a
 * below 2^17 that come here (larger ones never fit fp16).
 */
static float
f16_near(float a, int d)
{
	int e = (int)(bits_of(a) >> 23) - 126;
	if (e < -13)
		e = -13;
	if (e > 17)
		return INFINITY;
	return (rintf(a * pow2(11 - e)) + (float)d) * pow2(e - 11);
}

/* A float rounded to bf16, nearest even (NaNs are never on a grid). */
static unsigned
bf16_of(float f)
{
	uint32_t u = bits_of(f);
	u += 0x7fff + (u >> 16 & 1);
	return u >> 16;
}

/*
 * A finite float rounded to fp16, nearest even, as a conversion does:
 * past the largest fp16 (65504) by half a step or more, infinity; below
 * 2^-14, a multiple of 2^-24, which the scaling by 2^24 leaves exact
 * for rintf() to round.
 */
static unsigned
f16_of(float f)
{
	uint32_t u = bits_of(f), sign = u >> 16 & 0x8000, a = u & 0x7fffffff;
	if (a >= 0x477ff000)		/* 65520 */
		return sign | 0x7c00;
	if (a >= 0x38800000) {		/* 2^-14: normal */
		a += 0xfff + (a >> 13 & 1);
		return sign | (a - 0x38000000) >> 13;
	}
	return sign | (uint32_t)rintf(f32_of(a) * 0x1p24f);
}

/* The stored bits of k * s in dtype; k = -128 is -0.0. */
static uint32_t
product(int k, float s, unsigned dtype)
{
	float v = k == -128 ? -0.0f : (float)k * s;
	return dtype == Z4_DT_F32 ? bits_of(v) : dtype == Z4_DT_BF16 ?
	    bf16_of(v) : f16_of(v);
}

static float
value(uint32_t bits, unsigned dtype)
{
	return dtype == Z4_DT_F32 ? f32_of(bits) : dtype == Z4_DT_BF16 ?
	    f32_of(bits << 16) : f16_to_f32(bits);
}

struct grid {
	unsigned dtype, w, scale_fmt;
	uint32_t g;
};

static int
parse_params(const struct z4_xform_step *s, struct grid *p)
{
	if (s->param_size != 6)
		return Z4_E_CORRUPT;
	p->dtype = s->param[0];
	p->scale_fmt = s->param[1];
	p->g = z4_get32(s->param + 2);
	if ((p->dtype != Z4_DT_F32 && p->dtype != Z4_DT_BF16 &&
	    p->dtype != Z4_DT_F16) || p->scale_fmt > 1 || p->g == 0 ||
	    p->g > Z4_CHUNK_MAX)
		return Z4_E_CORRUPT;
	p->w = z4_dtype_width(p->dtype);
	return 0;
}

static unsigned
grid_inputs(const struct z4_xform_step *s)
{
	struct grid p;
	return parse_params(s, &p) ? 0 : 2;
}

static uint32_t
load_elem(const uint8_t *p, unsigned w)
{
	return w == 4 ? z4_get32(p) : z4_get16(p);
}

static void
store_elem(uint8_t *p, uint32_t v, unsigned w)
{
	if (w == 4)
		z4_put32(p, v);
	else
		z4_put16(p, (uint16_t)v);
}

#ifdef __SSE2__
/*
 * product() of elements a to b, four at a time, into out: the same
 * single-precision product and rounding to BF16.  Returns where it
 * stopped, less than 4 before b.
 */
static size_t
products4(uint8_t *out, const int8_t *k, size_t a, size_t b, float scale,
    unsigned dtype)
{
	const __m128 s = _mm_set1_ps(scale);
	const __m128i neg = _mm_set1_epi32(-128);
	const __m128i sign = _mm_set1_epi32((int)0x80000000u);
	const __m128i bias = _mm_set1_epi32(0x7fff), one = _mm_set1_epi32(1);
	size_t i = a;

	for (; i + 4 <= b; i += 4) {
		int32_t four;
		memcpy(&four, k + i, 4);
		__m128i x = _mm_cvtsi32_si128(four);
		/* Sign-extended to 32 bits: the byte at the top, shifted down. */
		x = _mm_srai_epi32(_mm_unpacklo_epi16(_mm_setzero_si128(),
		    _mm_unpacklo_epi8(_mm_setzero_si128(), x)), 24);
		__m128i z = _mm_cmpeq_epi32(x, neg);	/* -128: -0.0 */
		__m128i u = _mm_castps_si128(_mm_mul_ps(_mm_cvtepi32_ps(x), s));
		u = _mm_or_si128(_mm_andnot_si128(z, u), _mm_and_si128(z, sign));
		if (dtype == Z4_DT_F32) {
			_mm_storeu_si128((__m128i *)(out + 4 * i), u);
			continue;
		}
		u = _mm_add_epi32(u, _mm_add_epi32(bias, _mm_and_si128(
		    _mm_srli_epi32(u, 16), one)));
		/* The top halves, sign-extended, pack without saturating. */
		u = _mm_srai_epi32(u, 16);
		_mm_storel_epi64((__m128i *)(out + 2 * i),
		    _mm_packs_epi32(u, u));
	}
	return i;
}
#endif

static int
grid_decode(struct z4_frame *f, const struct z4_xform_step *s,
    unsigned first, struct z4_plane *out)
{
	struct grid p;
	int err;

	if ((err = parse_params(s, &p)))
		return err;
	const struct z4_plane *sc = &f->plane[first], *kp = &f->plane[first + 1];
	size_t n = kp->raw_size, groups = n / p.g + (n % p.g != 0);
	unsigned sw = p.scale_fmt ? 2 : 4;
	if (sc->raw_size != groups * sw)
		return Z4_E_CORRUPT;
	out->raw_size = n * p.w;
	if (out->raw_size > Z4_CHUNK_MAX)
		return Z4_E_LIMIT;
	if ((err = z4_plane_reserve_raw(out, out->raw_size)))
		return err;
	for (size_t g = 0; g < groups; g++) {
		float scale = sw == 4 ? f32_of(z4_get32(sc->raw + 4 * g)) :
		    f16_to_f32(z4_get16(sc->raw + 2 * g));
		/* A NaN or infinite scale would make bytes that vary by CPU. */
		if (!isfinite(scale))
			return Z4_E_CORRUPT;
		size_t end = (g + 1) * p.g < n ? (g + 1) * p.g : n;
		size_t i = g * p.g;
#ifdef __SSE2__
		if (p.dtype != Z4_DT_F16)
			i = products4(out->rbuf, (const int8_t *)kp->raw, i,
			    end, scale, p.dtype);
#endif
		for (; i < end; i++)
			store_elem(out->rbuf + i * p.w,
			    product((int8_t)kp->raw[i], scale, p.dtype), p.w);
	}
	out->raw = out->rbuf;
	return 0;
}

#ifdef __SSE2__
/*
 * fits() four elements at a time from a, with the same arithmetic: the
 * quotient by s, rounded to nearest even as rintf() does (the default
 * rounding mode), the product in single precision, rounded to BF16 the
 * same way.  Returns where it stopped: b less a remainder under 4, or
 * SIZE_MAX at an element off the grid.
 */
static size_t
fits4(const uint8_t *src, size_t a, size_t b, float s, unsigned dtype,
    unsigned w, int8_t *k)
{
	const __m128i expo = _mm_set1_epi32(0x7f800000);
	const __m128i sign = _mm_set1_epi32((int)0x80000000u);
	const __m128i kmax = _mm_set1_epi32(GRID_KMAX);
	const __m128i kneg = _mm_set1_epi32(-128);
	const __m128i bias = _mm_set1_epi32(0x7fff), one = _mm_set1_epi32(1);
	const __m128 sv = _mm_set1_ps(s);
	size_t i = a;

	for (; i + 4 <= b; i += 4) {
		__m128i bits;
		if (w == 4)
			bits = _mm_loadu_si128((const __m128i *)(src + 4 * i));
		else
			bits = _mm_unpacklo_epi16(_mm_setzero_si128(),
			    _mm_loadl_epi64((const __m128i *)(src + 2 * i)));
		/* A NaN or an infinity is never on a grid. */
		__m128i bad = _mm_cmpeq_epi32(_mm_and_si128(bits, expo), expo);
		__m128i q = _mm_cvtps_epi32(_mm_div_ps(_mm_castsi128_ps(bits),
		    sv));
		/* |q| <= 127; the out-of-range result 0x80000000 is not. */
		__m128i mag = _mm_sub_epi32(_mm_xor_si128(q,
		    _mm_srai_epi32(q, 31)), _mm_srai_epi32(q, 31));
		bad = _mm_or_si128(bad, _mm_cmpgt_epi32(mag, kmax));
		bad = _mm_or_si128(bad, _mm_cmplt_epi32(mag,
		    _mm_setzero_si128()));
		/* A zero quotient of a negative value is -128, -0.0. */
		__m128i negz = _mm_and_si128(_mm_cmpeq_epi32(q,
		    _mm_setzero_si128()), _mm_cmpeq_epi32(_mm_and_si128(bits,
		    sign), sign));
		__m128 prod = _mm_mul_ps(_mm_cvtepi32_ps(q), sv);
		__m128i u = _mm_or_si128(_mm_andnot_si128(negz,
		    _mm_castps_si128(prod)), _mm_and_si128(negz, sign));
		if (dtype == Z4_DT_BF16) {
			u = _mm_add_epi32(u, _mm_add_epi32(bias, _mm_and_si128(
			    _mm_srli_epi32(u, 16), one)));
			u = _mm_slli_epi32(_mm_srli_epi32(u, 16), 16);
		}
		bad = _mm_or_si128(bad, _mm_xor_si128(_mm_cmpeq_epi32(u, bits),
		    _mm_set1_epi32(-1)));
		if (_mm_movemask_epi8(bad))
			return SIZE_MAX;
		q = _mm_or_si128(_mm_andnot_si128(negz, q),
		    _mm_and_si128(negz, kneg));
		q = _mm_packs_epi16(_mm_packs_epi32(q, q), q);
		uint32_t four = (uint32_t)_mm_cvtsi128_si32(q);
		memcpy(k + i, &four, 4);
	}
	return i;
}
#endif

/* Does scale s put every element of the group on the grid? */
static int
fits(const uint8_t *src, size_t a, size_t b, float s, unsigned dtype,
    unsigned w, int8_t *k)
{
#ifdef __SSE2__
	if (dtype != Z4_DT_F16 &&
	    (a = fits4(src, a, b, s, dtype, w, k)) == SIZE_MAX)
		return 0;
#endif
	for (size_t i = a; i < b; i++) {
		uint32_t bits = load_elem(src + i * w, w);
		float v = value(bits, dtype);
		if (!isfinite(v))
			return 0;
		float q = rintf(v / s);
		if (!(fabsf(q) <= GRID_KMAX))
			return 0;
		int ki = q == 0 && signbit(v) ? -128 : (int)q;
		if (product(ki, s, dtype) != bits)
			return 0;
		k[i] = (int8_t)ki;
	}
	return 1;
}

/*
 * Whether the group fits a scale near amax / top: the float nearest and
 * its neighbours.  BF16 keeps 8 significant bits and an fp16 scale has
 * 11, so the scale may lie several fp16 steps from the estimate.
 */
/*
 * Half the distance from the magnitude of 2-byte element bits (not 0) to
 * its neighbours below and above: the reals between round to it.
 */
static void
half_steps(uint32_t bits, unsigned dtype, double *below, double *above)
{
	uint32_t mag = bits & 0x7fff;
	double x = value(mag, dtype), up = value(mag + 1, dtype);
	*below = (x - value(mag - 1, dtype)) / 2;
	*above = isfinite(up) ? (up - x) / 2 : *below;
}

/*
 * The scales in [*lo, *hi] whose products with some integer round to each
 * 2-byte element x from a to b: the interval narrowed with each element
 * whose own interval over it, (x - below) / s to (x + above) / s, holds
 * one integer k of 1 or more.  An element that allows two is passed
 * over, and zeros are left to fits().  Returns 0 once the interval is
 * empty, or at an element that is no number or needs a k past 127.
 */
static int
narrow_scales(const uint8_t *src, size_t a, size_t b, const struct grid *p,
    double *lo, double *hi)
{
	for (size_t i = a; i < b; i++) {
		uint32_t bits = load_elem(src + i * p->w, p->w);
		double x = fabs((double)value(bits, p->dtype)), below, above;
		if (!isfinite(x))
			return 0;
		if (x == 0)
			continue;
		half_steps(bits, p->dtype, &below, &above);
		double kl = ceil((x - below) / *hi), kh = floor((x + above) / *lo);
		kl = kl < 1 ? 1 : kl;
		if (kl > kh || kl > GRID_KMAX)
			return 0;
		if (kl < kh)
			continue;
		double l = (x - below) / kl, h = (x + above) / kl;
		*lo = l > *lo ? l : *lo;
		*hi = h < *hi ? h : *hi;
		if (!(*lo <= *hi))
			return 0;
	}
	return 1;
}

/*
 * try_top for 2-byte elements from binary32 scales.  The largest element,
 * amax, is taken as top times the scale: the reals that round to it, over
 * top, are the scales it allows, an interval 2^-8 / top wide for BF16 and
 * 2^-11 / top for F16.  Each element narrows it further, with the one
 * integer that its own interval over the scale's holds; one that holds
 * two is passed over, and looked at again once the others have narrowed
 * the scale.  Rounding k s first to binary32 can move a product across
 * the edge of an interval, so the interval is where to look, not the
 * answer: its middle and a few scales across it are checked with fits().
 */
static int
try_interval(const uint8_t *src, size_t a, size_t b, const struct grid *p,
    int8_t *k, float *scale, float amax, int top)
{
	/* amax is an element's magnitude, exact in its dtype: 1 * amax. */
	uint32_t top_bits = product(1, amax, p->dtype);
	double below, above, lo, hi;
	half_steps(top_bits, p->dtype, &below, &above);
	lo = (amax - below) / top;
	hi = (amax + above) / top;
	for (int round = 0; round < 3; round++) {
		double was_lo = lo, was_hi = hi;
		if (!narrow_scales(src, a, b, p, &lo, &hi))
			return 0;
		if (lo == was_lo && hi == was_hi)
			break;
	}
	enum { ACROSS = 8 };
	for (int j = 0; j <= ACROSS; j++) {
		/* The middle first, then from one end to the other. */
		double at = j == 0 ? 0.5 : (double)(j - 1) / (ACROSS - 1);
		float s = (float)(lo + at * (hi - lo));
		if (s > 0 && isfinite(s) && fits(src, a, b, s, p->dtype, p->w,
		    k)) {
			*scale = s;
			return 1;
		}
	}
	return 0;
}

static int
try_top(const uint8_t *src, size_t a, size_t b, const struct grid *p,
    int8_t *k, float *scale, float amax, int top)
{
	if (p->w == 2 && p->scale_fmt == 0)
		return try_interval(src, a, b, p, k, scale, amax, top);
	float s0 = amax / (float)top;
	int span = p->scale_fmt == 1 ? 8 : 2;
	/* amax is an element's magnitude, exact in its dtype: 1 * amax. */
	uint32_t top_bits = product(1, amax, p->dtype);
	for (int d = -span; d <= span; d++) {
		float s = p->scale_fmt == 1 ? f16_near(s0, d) :
		    f32_of(bits_of(s0) + (uint32_t)d);
		if (p->scale_fmt == 1 && f32_to_f16_exact(s) < 0)
			continue;
		/*
		 * The largest magnitude first, as fits() would take it: most
		 * scales that are off fail there, before a pass over the
		 * group.
		 */
		float q = rintf(amax / s);
		if (!(q <= GRID_KMAX) || product((int)q, s, p->dtype) != top_bits)
			continue;
		if (s > 0 && isfinite(s) && fits(src, a, b, s, p->dtype, p->w,
		    k)) {
			*scale = s;
			return 1;
		}
	}
	return 0;
}

#ifdef __SSE2__
/*
 * The largest magnitude of the F32 or BF16 elements a to b into *amax
 * and the least but 0 into *amin, four at a time; returns where it
 * stopped, less than 4 before b, or SIZE_MAX at a NaN or an infinity.
 */
static size_t
extremes4(const uint8_t *src, size_t a, size_t b, unsigned w, float *amax,
    float *amin)
{
	const __m128i expo = _mm_set1_epi32(0x7f800000);
	const __m128i abs = _mm_set1_epi32(0x7fffffff);
	__m128 hi = _mm_setzero_ps(), lo = _mm_set1_ps(INFINITY);
	__m128i bad = _mm_setzero_si128();
	size_t i = a;
	for (; i + 4 <= b; i += 4) {
		__m128i bits = w == 4 ?
		    _mm_loadu_si128((const __m128i *)(src + 4 * i)) :
		    _mm_unpacklo_epi16(_mm_setzero_si128(),
		    _mm_loadl_epi64((const __m128i *)(src + 2 * i)));
		bits = _mm_and_si128(bits, abs);
		bad = _mm_or_si128(bad, _mm_cmpeq_epi32(_mm_and_si128(bits,
		    expo), expo));
		__m128 v = _mm_castsi128_ps(bits);
		__m128i zero = _mm_cmpeq_epi32(bits, _mm_setzero_si128());
		hi = _mm_max_ps(hi, v);
		lo = _mm_min_ps(lo, _mm_castsi128_ps(_mm_or_si128(
		    _mm_andnot_si128(zero, bits), _mm_and_si128(zero,
		    expo))));
	}
	if (_mm_movemask_epi8(bad))
		return SIZE_MAX;
	float his[4], los[4];
	_mm_storeu_ps(his, hi);
	_mm_storeu_ps(los, lo);
	for (unsigned j = 0; j < 4; j++) {
		*amax = his[j] > *amax ? his[j] : *amax;
		*amin = los[j] < *amin ? los[j] : *amin;
	}
	return i;
}
#endif

/* The least magnitude of the dtype that is a normal number. */
static float
smallest_normal(unsigned dtype)
{
	return dtype == Z4_DT_F16 ? 0x1p-14f : 0x1p-126f;
}

/*
 * Whether top can be the integer of the largest magnitude amax when amin,
 * the least but 0, is a normal number: then amin / amax is kmin / top to
 * within the rounding of both, 2^-8 each at most, for some integer kmin
 * of 1 or more.  Most tops fail at once, without a scale tried.
 */
static int
plausible_top(float amax, float amin, int top, unsigned dtype)
{
	if (amin < smallest_normal(dtype))
		return 1;
	double q = (double)amin * top / amax, k = rint(q);
	return fabs(q - (k < 1 ? 1 : k)) <= q * 0x1p-6 + 1e-9;
}

/*
 * A scale for one group, from its largest magnitude taken as top times
 * the scale.  Any scale that puts every element on the grid will do, as
 * fits() checks each one; the search only decides how soon one is found.
 * The first top tried is the one the smallest magnitude gives, taken as
 * the scale itself (a group of 64 or more integers nearly always holds a
 * 1 or a -1), then the top that fitted the group before, then the common
 * largest integers, then every other one from the smallest.
 */
static int
find_scale(const uint8_t *src, size_t a, size_t b, const struct grid *p,
    int8_t *k, float *scale, int *last_top)
{
	float amax = 0, amin = INFINITY;
	size_t i = a;
#ifdef __SSE2__
	/* F32 and BF16 have the bits of a float: four at a time. */
	if (p->dtype != Z4_DT_F16 &&
	    (i = extremes4(src, a, b, p->w, &amax, &amin)) == SIZE_MAX)
		return 0;
#endif
	for (; i < b; i++) {
		float v = fabsf(value(load_elem(src + i * p->w, p->w),
		    p->dtype));
		if (!isfinite(v))
			return 0;
		amax = v > amax ? v : amax;
		amin = v > 0 && v < amin ? v : amin;
	}
	if (amax == 0) {
		/* Zeros: any scale, and -0.0 keeps its own integer. */
		*scale = 1;
		return fits(src, a, b, 1, p->dtype, p->w, k);
	}
	/*
	 * Every element not 0 is k s rounded, k from 1 to GRID_KMAX, to a
	 * relative error of at most 2^-8 where it is a normal number: no
	 * scale fits a group whose magnitudes span more than that.  Most
	 * groups of trained weights do, and are passed over at once.
	 */
	if (amin >= smallest_normal(p->dtype) && amax > 129 * amin)
		return 0;
	float guess = rintf(amax / amin);
	int first[2] = { guess >= 1 && guess <= GRID_KMAX ? (int)guess : 0,
	    *last_top };
	for (unsigned j = 0; j < 2; j++) {
		if (first[j] >= 1 &&
		    plausible_top(amax, amin, first[j], p->dtype) &&
		    try_top(src, a, b, p, k, scale, amax, first[j])) {
			*last_top = first[j];
			return 1;
		}
	}
	/*
	 * Binary32 scales for 2-byte elements cost a pass or more over the
	 * group a try, and come from INT8 weights scaled by their largest:
	 * the common tops only.
	 */
	static const int common[] = { 127, 15, 7, 8, 1 };
	int tries = p->w == 2 && p->scale_fmt == 0 ? 5 : 5 + GRID_KMAX;
	for (int t = 0; t < tries; t++) {
		int top = t < 5 ? common[t] : t - 4;
		if (t >= 5 && (top == 127 || top == 15 || top == 7 || top == 8 ||
		    top == 1))
			continue;
		if (plausible_top(amax, amin, top, p->dtype) &&
		    try_top(src, a, b, p, k, scale, amax, top)) {
			*last_top = top;
			return 1;
		}
	}
	return 0;
}

/*
 * A scale for every group of the n elements at src, into plane first,
 * and the integers into the plane after it, both made the planes' raw
 * bytes; 1 if some group has none.
 */
static int
all_scales(struct z4_frame *f, const struct grid *p, const uint8_t *src,
    size_t n, unsigned first)
{
	size_t groups = n / p->g + (n % p->g != 0);
	unsigned sw = p->scale_fmt ? 2 : 4;
	struct z4_plane *sc = &f->plane[first], *kp = &f->plane[first + 1];
	int err, last_top = 0;

	if ((err = z4_plane_reserve_raw(sc, groups * sw)) ||
	    (err = z4_plane_reserve_raw(kp, n)))
		return err;
	for (size_t i = 0; i < groups; i++) {
		size_t a = i * p->g, b = a + p->g < n ? a + p->g : n;
		float s;
		if (!find_scale(src, a, b, p, (int8_t *)kp->rbuf, &s,
		    &last_top))
			return 1;
		if (sw == 4)
			z4_put32(sc->rbuf + 4 * i, bits_of(s));
		else
			z4_put16(sc->rbuf + 2 * i,
			    (uint16_t)f32_to_f16_exact(s));
	}
	sc->raw = sc->rbuf;
	sc->raw_size = groups * sw;
	kp->raw = kp->rbuf;
	kp->raw_size = n;
	return 0;
}

static int
grid_encode(struct z4_frame *f, struct z4_xform_step *st, const uint8_t *src,
    size_t size, unsigned first, uint32_t g)
{
	struct grid p = { .dtype = f->tensor.dtype, .g = g };
	int err;

	if ((p.dtype != Z4_DT_F32 && p.dtype != Z4_DT_BF16 &&
	    p.dtype != Z4_DT_F16) || g == 0 || first + 2 > Z4_PLANE_MAX)
		return 1;
	p.w = z4_dtype_width(p.dtype);
	if (size % p.w)
		return 1;
	/*
	 * 2-byte grids come from fp16 scales (GPTQ, AWQ), or else from fp32
	 * ones (INT8 per channel, dequantised in single precision and then
	 * rounded); F32 grids from fp32.
	 */
	p.scale_fmt = p.w == 2;
	size_t n = size / p.w;
	if ((err = all_scales(f, &p, src, n, first)) == 1 && p.w == 2) {
		p.scale_fmt = 0;
		err = all_scales(f, &p, src, n, first);
	}
	if (err)
		return err;
	f->nplane = first + 2;
	st->param_size = 6;
	st->param[0] = (uint8_t)p.dtype;
	st->param[1] = (uint8_t)p.scale_fmt;
	z4_put32(st->param + 2, g);
	return 0;
}

/* Groups of a whole row of the tensor: a scale per output channel. */
static int
grid_row_encode(struct z4_frame *f, struct z4_xform_step *st,
    const uint8_t *src, size_t size, unsigned first)
{
	const struct z4_tensor *t = &f->tensor;
	if (t->ndim < 2 || t->shape[t->ndim - 1] > UINT32_MAX)
		return 1;
	return grid_encode(f, st, src, size, first,
	    (uint32_t)t->shape[t->ndim - 1]);
}

/* Groups of 128 consecutive inputs, GPTQ's and AWQ's default. */
static int
grid_128_encode(struct z4_frame *f, struct z4_xform_step *st,
    const uint8_t *src, size_t size, unsigned first)
{
	return grid_encode(f, st, src, size, first, 128);
}

/* Groups of 64, the other common GPTQ and AWQ size. */
static int
grid_64_encode(struct z4_frame *f, struct z4_xform_step *st,
    const uint8_t *src, size_t size, unsigned first)
{
	return grid_encode(f, st, src, size, first, 64);
}

/*
 * Groups of 32, the blocks of the MX formats: MXFP4 values (E2M1, twice
 * an integer up to 12) and MXINT8 ones times a power of two per block.
 */
static int
grid_32_encode(struct z4_frame *f, struct z4_xform_step *st,
    const uint8_t *src, size_t size, unsigned first)
{
	return grid_encode(f, st, src, size, first, 32);
}

const struct z4_xform z4_xform_grid_row = {
	.id = Z4_XF_GRID,
	.name = "grid",
	.inputs = grid_inputs,
	.encode = grid_row_encode,
	.decode = grid_decode,
};

const struct z4_xform z4_xform_grid_128 = {
	.id = Z4_XF_GRID,
	.name = "grid",
	.inputs = grid_inputs,
	.encode = grid_128_encode,
	.decode = grid_decode,
};

const struct z4_xform z4_xform_grid_64 = {
	.id = Z4_XF_GRID,
	.name = "grid",
	.inputs = grid_inputs,
	.encode = grid_64_encode,
	.decode = grid_decode,
};

const struct z4_xform z4_xform_grid_32 = {
	.id = Z4_XF_GRID,
	.name = "grid",
	.inputs = grid_inputs,
	.encode = grid_32_encode,
	.decode = grid_decode,
};

/*
 * xform_fold.c - one exponent bit that the bits below it tell.
 *
 * A trained weight is 0 or at least 2^-62 in magnitude and below 2: its
 * 8-bit exponent is 0 or 65 to 127, so bit 6 of it is set exactly when
 * one of bits 0 to 5 is.  Cleared, it is a dead bit, and the planes
 * transform drops it: the top plane then has room for the exponent's
 * low 6 bits with the first two mantissa bits, and the second mantissa
 * bit, whose skew depends on the half-octave, is coded with it (RANS
 * derives the split from the half-octaves around; see PAIRS).
 *
 * Parameters: W (2 or 4), L and P (L < P < 8W): the field is bits L to
 * P of an element, and bit P is set exactly when one of bits L to P - 1
 * is, in every element; the encoder clears it, and the decoder sets it
 * again where one of the bits below is set.  One plane: the elements.
 */
#include "internal.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

struct field {
	unsigned w, low, pos;
	uint32_t below;		/* bits L to P - 1 */
};

static int
field_init(struct field *fl, unsigned w, unsigned low, unsigned pos)
{
	if ((w != 2 && w != 4) || low >= pos || pos >= 8 * w)
		return Z4_E_CORRUPT;
	*fl = (struct field){ w, low, pos, ((1u << (pos - low)) - 1) << low };
	return 0;
}

static int
parse_params(const struct z4_xform_step *s, struct field *fl)
{
	if (s->param_size != 3)
		return Z4_E_CORRUPT;
	return field_init(fl, s->param[0], s->param[1], s->param[2]);
}

static unsigned
fold_inputs(const struct z4_xform_step *s)
{
	struct field fl;
	return parse_params(s, &fl) ? 0 : 1;
}

static inline uint32_t
load(const uint8_t *p, unsigned w)
{
	return w == 2 ? z4_get16(p) : z4_get32(p);
}

static inline void
store(uint8_t *p, uint32_t v, unsigned w)
{
	if (w == 2)
		z4_put16(p, (uint16_t)v);
	else
		z4_put32(p, v);
}

/*
 * Set bit P of the n elements at src where a bit below it is, into dst;
 * returns the OR of the elements read, whose bit P must be 0.
 */
static uint32_t
unfold(const struct field *fl, const uint8_t *src, uint8_t *dst, size_t n)
{
	uint32_t seen = 0, bit = 1u << fl->pos;
	size_t i = 0;
#ifdef __SSE2__
	__m128i acc = _mm_setzero_si128(), zero = _mm_setzero_si128();
	if (fl->w == 2) {
		const __m128i below = _mm_set1_epi16((short)fl->below);
		const __m128i set = _mm_set1_epi16((short)bit);
		for (; i + 8 <= n; i += 8) {
			__m128i v = _mm_loadu_si128((const __m128i *)(src +
			    2 * i));
			__m128i none = _mm_cmpeq_epi16(_mm_and_si128(v, below),
			    zero);
			acc = _mm_or_si128(acc, v);
			_mm_storeu_si128((__m128i *)(dst + 2 * i),
			    _mm_or_si128(v, _mm_andnot_si128(none, set)));
		}
	} else {
		const __m128i below = _mm_set1_epi32((int)fl->below);
		const __m128i set = _mm_set1_epi32((int)bit);
		for (; i + 4 <= n; i += 4) {
			__m128i v = _mm_loadu_si128((const __m128i *)(src +
			    4 * i));
			__m128i none = _mm_cmpeq_epi32(_mm_and_si128(v, below),
			    zero);
			acc = _mm_or_si128(acc, v);
			_mm_storeu_si128((__m128i *)(dst + 4 * i),
			    _mm_or_si128(v, _mm_andnot_si128(none, set)));
		}
	}
	uint32_t lanes[4];
	_mm_storeu_si128((__m128i *)lanes, acc);
	seen = lanes[0] | lanes[1] | lanes[2] | lanes[3];
	if (fl->w == 2)
		seen |= seen >> 16;	/* the elements in the high halves */
#endif
	for (; i < n; i++) {
		uint32_t v = load(src + i * fl->w, fl->w);
		seen |= v;
		store(dst + i * fl->w, v | ((v & fl->below) ? bit : 0), fl->w);
	}
	return seen;
}

/*
 * Clear bit P of the n elements at src into dst; returns whether an
 * element breaks the rule, bit P set other than exactly when a bit below
 * it is.
 */
static int
fold(const struct field *fl, const uint8_t *src, uint8_t *dst, size_t n)
{
	uint32_t bad = 0, bit = 1u << fl->pos;
	size_t i = 0;
#ifdef __SSE2__
	const __m128i zero = _mm_setzero_si128();
	__m128i acc = zero;
	if (fl->w == 2) {
		const __m128i below = _mm_set1_epi16((short)fl->below);
		const __m128i set = _mm_set1_epi16((short)bit);
		for (; i + 8 <= n; i += 8) {
			__m128i v = _mm_loadu_si128((const __m128i *)(src +
			    2 * i));
			__m128i none = _mm_cmpeq_epi16(_mm_and_si128(v, below),
			    zero);
			__m128i off = _mm_cmpeq_epi16(_mm_and_si128(v, set),
			    zero);
			/* Lanes all ones where they disagree. */
			acc = _mm_or_si128(acc, _mm_xor_si128(none, off));
			_mm_storeu_si128((__m128i *)(dst + 2 * i),
			    _mm_andnot_si128(set, v));
		}
	} else {
		const __m128i below = _mm_set1_epi32((int)fl->below);
		const __m128i set = _mm_set1_epi32((int)bit);
		for (; i + 4 <= n; i += 4) {
			__m128i v = _mm_loadu_si128((const __m128i *)(src +
			    4 * i));
			__m128i none = _mm_cmpeq_epi32(_mm_and_si128(v, below),
			    zero);
			__m128i off = _mm_cmpeq_epi32(_mm_and_si128(v, set),
			    zero);
			acc = _mm_or_si128(acc, _mm_xor_si128(none, off));
			_mm_storeu_si128((__m128i *)(dst + 4 * i),
			    _mm_andnot_si128(set, v));
		}
	}
	bad = (uint32_t)_mm_movemask_epi8(acc);
#endif
	for (; i < n; i++) {
		uint32_t v = load(src + i * fl->w, fl->w);
		bad |= !(v & bit) != !(v & fl->below);
		store(dst + i * fl->w, v & ~bit, fl->w);
	}
	return bad != 0;
}

static int
fold_decode(struct z4_frame *f, const struct z4_xform_step *s,
    unsigned first, struct z4_plane *out)
{
	const struct z4_plane *in = &f->plane[first];
	struct field fl;
	int err;

	if ((err = parse_params(s, &fl)))
		return err;
	if (in->raw_size % fl.w)
		return Z4_E_CORRUPT;
	if ((err = z4_plane_reserve_raw(out, in->raw_size)))
		return err;
	if (unfold(&fl, in->raw, out->rbuf, in->raw_size / fl.w) >> fl.pos & 1)
		return Z4_E_CORRUPT;
	out->raw = out->rbuf;
	out->raw_size = in->raw_size;
	return 0;
}

static int
fold_encode(struct z4_frame *f, struct z4_xform_step *s,
    const uint8_t *src, size_t size, unsigned first)
{
	struct field fl;
	int err;

	switch (f->tensor.dtype) {
	case Z4_DT_BF16: field_init(&fl, 2, 7, 13); break;
	case Z4_DT_F16: field_init(&fl, 2, 10, 13); break;
	case Z4_DT_F32: field_init(&fl, 4, 23, 29); break;
	default: return 1;
	}
	size_t n = size / fl.w;
	if (n == 0 || size % fl.w)
		return 1;
	struct z4_plane *p = &f->plane[first];
	if ((err = z4_plane_reserve_raw(p, size)))
		return err;
	if (fold(&fl, src, p->rbuf, n))
		return 1;
	p->raw = p->rbuf;
	p->raw_size = size;
	f->nplane = first + 1;
	s->param_size = 3;
	s->param[0] = (uint8_t)fl.w;
	s->param[1] = (uint8_t)fl.low;
	s->param[2] = (uint8_t)fl.pos;
	return 0;
}

const struct z4_xform z4_xform_fold = {
	.id = Z4_XF_FOLD,
	.name = "fold",
	.inputs = fold_inputs,
	.encode = fold_encode,
	.decode = fold_decode,
};

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

static int
field_init(struct z4_fold_field *fl, unsigned w, unsigned low, unsigned pos)
{
	if ((w != 2 && w != 4) || low >= pos || pos >= 8 * w)
		return Z4_E_CORRUPT;
	*fl = (struct z4_fold_field){ w, low, pos,
	    ((1u << (pos - low)) - 1) << low };
	return 0;
}

int
z4_fold_parse(const struct z4_xform_step *s, struct z4_fold_field *fl)
{
	if (s->param_size != 3)
		return Z4_E_CORRUPT;
	return field_init(fl, s->param[0], s->param[1], s->param[2]);
}

static unsigned
fold_inputs(const struct z4_xform_step *s)
{
	struct z4_fold_field fl;
	return z4_fold_parse(s, &fl) ? 0 : 1;
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

#ifdef __SSE2__
/* Lanes of W bytes: all ones where x is 0; and v in every lane. */
static inline __m128i
lanes_zero(__m128i x, unsigned w)
{
	return w == 2 ? _mm_cmpeq_epi16(x, _mm_setzero_si128()) :
	    _mm_cmpeq_epi32(x, _mm_setzero_si128());
}

static inline __m128i
lanes_of(uint32_t v, unsigned w)
{
	return w == 2 ? _mm_set1_epi16((short)v) : _mm_set1_epi32((int)v);
}
#endif

/*
 * Both ways over the n elements at src, into dst.  Folding clears bit P
 * and fails where it is not set exactly when a bit below it is; restoring
 * sets it where a bit below it is and fails where it is set already.
 * Returns whether an element fails.
 */
static int
fold_pass(const struct z4_fold_field *fl, const uint8_t *src, uint8_t *dst,
    size_t n, int restore)
{
	uint32_t bad = 0, bit = 1u << fl->pos;
	unsigned w = fl->w;
	size_t i = 0;
#ifdef __SSE2__
	const __m128i below = lanes_of(fl->below, w), set = lanes_of(bit, w);
	const __m128i ones = _mm_set1_epi32(-1);
	__m128i acc = _mm_setzero_si128();
	for (; i + 16 / w <= n; i += 16 / w) {
		__m128i v = _mm_loadu_si128((const __m128i *)(src + w * i));
		__m128i none = lanes_zero(_mm_and_si128(v, below), w);
		__m128i off = lanes_zero(_mm_and_si128(v, set), w);
		if (restore) {
			acc = _mm_or_si128(acc, _mm_xor_si128(off, ones));
			v = _mm_or_si128(v, _mm_andnot_si128(none, set));
		} else {
			/* Lanes all ones where the two disagree. */
			acc = _mm_or_si128(acc, _mm_xor_si128(none, off));
			v = _mm_andnot_si128(set, v);
		}
		_mm_storeu_si128((__m128i *)(dst + w * i), v);
	}
	bad = (uint32_t)_mm_movemask_epi8(acc);
#endif
	for (; i < n; i++) {
		uint32_t v = load(src + i * w, w);
		if (restore) {
			bad |= v & bit;
			v |= v & fl->below ? bit : 0;
		} else {
			bad |= !(v & bit) != !(v & fl->below);
			v &= ~bit;
		}
		store(dst + i * w, v, w);
	}
	return bad != 0;
}

static int
fold_decode(struct z4_frame *f, const struct z4_xform_step *s,
    unsigned first, struct z4_plane *out)
{
	const struct z4_plane *in = &f->plane[first];
	struct z4_fold_field fl;
	int err;

	if ((err = z4_fold_parse(s, &fl)) ||
	    (err = z4_plane_reserve_raw(out, in->raw_size)) ||
	    (err = z4_fold_part(&fl, in->raw, out->rbuf, in->raw_size)))
		return err;
	out->raw = out->rbuf;
	out->raw_size = in->raw_size;
	return 0;
}

int
z4_fold_part(const struct z4_fold_field *fl, const uint8_t *src,
    uint8_t *dst, size_t n)
{
	if (n % fl->w || fold_pass(fl, src, dst, n / fl->w, 1))
		return Z4_E_CORRUPT;
	return 0;
}

static int
fold_encode(struct z4_frame *f, struct z4_xform_step *s,
    const uint8_t *src, size_t size, unsigned first)
{
	struct z4_fold_field fl;
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
	if (fold_pass(&fl, src, p->rbuf, n, 0))
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

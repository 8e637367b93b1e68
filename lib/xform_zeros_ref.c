/*
 * xform_zeros_ref.c - the zero mask of a delta, split by what the
 * reference says about each element.
 *
 * Between two checkpoints a bf16 weight moves by its last bits only when
 * the update is large against its value: small weights change far more
 * often than large ones.  So the bits of the mask of changed elements
 * (after DELTA, a zero is an unchanged element) are sorted into four
 * planes by the reference element's exponent against the reference's
 * most common one, and each plane is entropy-coded on its own, at the
 * entropy of its own rate of change.  On a step of RL-like fine-tuning
 * the mask costs a third less than coded whole.
 *
 * Parameters: W (2 or 4: BF16, F16 or F32), T (0 .. W-1), the Dtype.  It
 * must follow DELTA directly; the reference is DELTA's.  Context of
 * element i: its reference exponent e against the most common nonzero
 * exponent e0 of the chunk's reference (ties: the smaller): 0 if the
 * reference element is zero or e < e0 - 2, 1 if e is e0 - 2 or e0 - 1,
 * 2 if e = e0, 3 if e > e0.  Planes: four masks, plane k the bits of
 * the elements of context k in order (bit j mod 8 of byte j / 8 set when
 * that element is not zero, unused bits 0); then, when T is not 0, the T
 * bytes after the last whole element; last the non-zero elements, W
 * bytes each, in order.
 */
#include <stdlib.h>

#include "internal.h"

#define NCTX 4

static int
parse_params(const struct z4_xform_step *s, unsigned *w, unsigned *tail,
    unsigned *dtype)
{
	if (s->param_size != 3)
		return Z4_E_CORRUPT;
	*w = s->param[0];
	*tail = s->param[1];
	*dtype = s->param[2];
	if (*tail >= *w || z4_dtype_width(*dtype) != *w ||
	    (*dtype != Z4_DT_BF16 && *dtype != Z4_DT_F16 &&
	    *dtype != Z4_DT_F32))
		return Z4_E_CORRUPT;
	return 0;
}

static unsigned
zeros_ref_inputs(const struct z4_xform_step *s)
{
	unsigned w, tail, dtype;
	return parse_params(s, &w, &tail, &dtype) ? 0 : NCTX + 1 + (tail != 0);
}

static unsigned
exponent(uint32_t v, unsigned dtype)
{
	switch (dtype) {
	case Z4_DT_BF16: return v >> 7 & 0xff;
	case Z4_DT_F16: return v >> 10 & 0x1f;
	default: return v >> 23 & 0xff;
	}
}

static uint32_t
element(const uint8_t *p, unsigned w)
{
	return w == 2 ? z4_get16(p) : z4_get32(p);
}

/* The context of each of the n reference elements into ctx. */
static void
contexts(const uint8_t *ref, size_t n, unsigned w, unsigned dtype,
    uint8_t *ctx)
{
	uint32_t count[256] = { 0 };
	unsigned e0 = 0;

	for (size_t i = 0; i < n; i++) {
		uint32_t v = element(ref + i * w, w);
		if (v << 1)	/* +0 and -0 are not counted */
			count[exponent(v, dtype)]++;
	}
	for (unsigned e = 1; e < 256; e++)
		if (count[e] > count[e0])
			e0 = e;
	for (size_t i = 0; i < n; i++) {
		uint32_t v = element(ref + i * w, w);
		int d = (int)exponent(v, dtype) - (int)e0;
		ctx[i] = !(v << 1) || d < -2 ? 0 : d < 0 ? 1 : d == 0 ? 2 : 3;
	}
}

static int
zeros_ref_decode(struct z4_frame *f, const struct z4_xform_step *s,
    unsigned first, struct z4_plane *out)
{
	unsigned w, tail, dtype;
	int err;

	if ((err = parse_params(s, &w, &tail, &dtype)))
		return err;
	if (s != &f->xform[1] || f->xform[0].id != Z4_XF_DELTA ||
	    (err = z4_delta_reference(f)))
		return err ? err : Z4_E_CORRUPT;
	size_t n = f->raw_size / w;
	const struct z4_plane *tp = &f->plane[first + NCTX];
	const struct z4_plane *val = &f->plane[first + NCTX + (tail != 0)];
	if (f->raw_size % w != tail || (tail && tp->raw_size != tail))
		return Z4_E_CORRUPT;
	out->raw_size = f->raw_size;
	if ((err = z4_plane_reserve_raw(out, out->raw_size)))
		return err;
	/* The contexts go in the coders' scratch buffer, idle when decoding. */
	if ((err = z4_frame_reserve_scratch(f, n)))
		return err;
	uint8_t *ctx = f->scratch;
	contexts(f->refbuf, n, w, dtype, ctx);
	size_t seen[NCTX] = { 0 }, v = 0;
	for (size_t i = 0; i < n; i++)
		seen[ctx[i]]++;
	for (unsigned k = 0; k < NCTX; k++)
		if (f->plane[first + k].raw_size != (seen[k] + 7) / 8)
			return Z4_E_CORRUPT;
	memset(seen, 0, sizeof seen);
	for (size_t i = 0; i < n; i++) {
		const struct z4_plane *m = &f->plane[first + ctx[i]];
		size_t j = seen[ctx[i]]++;
		if (m->raw[j / 8] >> j % 8 & 1) {
			if (val->raw_size - v < w)
				return Z4_E_CORRUPT;
			memcpy(out->rbuf + i * w, val->raw + v, w);
			v += w;
		} else {
			memset(out->rbuf + i * w, 0, w);
		}
	}
	if (v != val->raw_size)
		return Z4_E_CORRUPT;
	/* Bits past the last element of a mask must be zero. */
	for (unsigned k = 0; k < NCTX; k++) {
		const struct z4_plane *m = &f->plane[first + k];
		if (seen[k] % 8 && m->raw[seen[k] / 8] >> seen[k] % 8)
			return Z4_E_CORRUPT;
	}
	if (tail)
		memcpy(out->rbuf + n * w, tp->raw, tail);
	out->raw = out->rbuf;
	return 0;
}

static int
zeros_ref_encode(struct z4_frame *f, struct z4_xform_step *s,
    const uint8_t *src, size_t size, unsigned first)
{
	unsigned dtype = f->tensor.dtype, w = z4_dtype_width(dtype);
	int err;

	if (f->nxform != 1 || f->xform[0].id != Z4_XF_DELTA || !f->have_ref ||
	    f->ref_size != size || (dtype != Z4_DT_BF16 &&
	    dtype != Z4_DT_F16 && dtype != Z4_DT_F32) || size < w ||
	    first + NCTX + 2 > Z4_PLANE_MAX)
		return 1;
	size_t n = size / w, tail = size % w, counts[NCTX] = { 0 }, nz = 0;
	/* The contexts in the value plane's buffer, before the values. */
	struct z4_plane *val = &f->plane[first + NCTX + (tail != 0)];
	if ((err = z4_plane_reserve_raw(val, size + n)))
		return err;
	uint8_t *ctx = val->rbuf + size;
	contexts(f->refbuf, n, w, dtype, ctx);
	for (size_t i = 0; i < n; i++)
		counts[ctx[i]]++;
	for (unsigned k = 0; k < NCTX; k++) {
		struct z4_plane *m = &f->plane[first + k];
		size_t bytes = (counts[k] + 7) / 8;
		if ((err = z4_plane_reserve_raw(m, bytes ? bytes : 1)))
			return err;
		memset(m->rbuf, 0, bytes);
		m->raw = m->rbuf;
		m->raw_size = bytes;
		counts[k] = 0;
	}
	for (size_t i = 0; i < n; i++) {
		const uint8_t *e = src + i * w;
		size_t j = counts[ctx[i]]++;
		if (element(e, w) != 0) {
			f->plane[first + ctx[i]].rbuf[j / 8] |=
			    (uint8_t)(1u << j % 8);
			memcpy(val->rbuf + nz * w, e, w);
			nz++;
		}
	}
	val->raw = val->rbuf;
	val->raw_size = nz * w;
	if (tail && (err = z4_plane_copy(&f->plane[first + NCTX],
	    src + n * w, tail)))
		return err;
	f->nplane = first + NCTX + 1 + (tail != 0);
	s->param_size = 3;
	s->param[0] = (uint8_t)w;
	s->param[1] = (uint8_t)tail;
	s->param[2] = (uint8_t)dtype;
	return 0;
}

const struct z4_xform z4_xform_zeros_ref = {
	.id = Z4_XF_ZEROS_REF,
	.name = "zeros-ref",
	.inputs = zeros_ref_inputs,
	.encode = zeros_ref_encode,
	.decode = zeros_ref_decode,
};

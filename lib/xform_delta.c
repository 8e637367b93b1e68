/*
 * xform_delta.c - a chunk as its difference from the same bytes of the
 * same-named tensor in a reference checkpoint (the one saved before it).
 *
 * Parameters: Mode (0: XOR of the bytes; 1: the difference of each
 * W-byte little-endian element, modulo 2^(8W), then XOR for any bytes
 * after the last whole element), W (1, 2, 4 or 8), the XXH3-128 of the
 * reference bytes used (16 bytes, canonical), so a decoder given another
 * reference fails instead of making wrong bytes, and Source: 0 for the
 * same range of the same-named tensor of a reference checkpoint given
 * to the decoder (-r), or 1 followed by a u64: the offset, from the
 * start of this stream, of an earlier KEEP frame of the same size whose
 * bytes are the reference (an earlier member of an archive).  One plane
 * in, the residual, as long as the chunk.  It must be the first step of
 * a chain: it needs the frame's tensor name and offset.
 *
 * Between consecutive checkpoints most exponents and the high mantissa
 * bits stay put, so the residual's planes are mostly zeros; where values
 * cross a power of two, the integer difference keeps that small where
 * XOR would not.
 */
#include <stdio.h>
#include <stdlib.h>

#include "hash.h"

#include "internal.h"

enum { DELTA_XOR = 0, DELTA_SUB = 1 };

#define SOURCE_FILE 0
#define SOURCE_FRAME 1

int
z4_delta_check(const struct z4_xform_step *s)
{
	if (s->param_size != 19 && s->param_size != 27)
		return Z4_E_CORRUPT;
	if (s->param[18] > SOURCE_FRAME ||
	    s->param_size != (s->param[18] == SOURCE_FRAME ? 27 : 19))
		return Z4_E_CORRUPT;
	return 0;
}

int
z4_delta_internal(const struct z4_frame *f)
{
	return f->kind == Z4_FRAME_CHUNK && f->nxform > 0 &&
	    z4_xform_is_delta(f->xform[0].id) &&
	    z4_delta_check(&f->xform[0]) == 0 &&
	    f->xform[0].param[18] == SOURCE_FRAME;
}

static int
parse_params(const struct z4_xform_step *s, unsigned *mode, unsigned *w)
{
	if (z4_delta_check(s))
		return Z4_E_CORRUPT;
	*mode = s->param[0];
	*w = s->param[1];
	if (*mode > DELTA_SUB || (*w != 1 && *w != 2 && *w != 4 && *w != 8))
		return Z4_E_CORRUPT;
	return 0;
}

static unsigned
delta_inputs(const struct z4_xform_step *s)
{
	unsigned mode, w;
	return parse_params(s, &mode, &w) ? 0 : 1;
}

/*
 * The kernel: out = a op b, or its inverse, over n bytes.  sign is +1 to
 * add the elements of b to a, -1 to subtract them.
 */
static void
combine(uint8_t *out, const uint8_t *a, const uint8_t *b, size_t n,
    unsigned mode, unsigned w, int sign)
{
	size_t i = 0;

	if (mode == DELTA_SUB) {
		for (; i + w <= n; i += w) {
			unsigned carry = 0;
			for (unsigned k = 0; k < w; k++) {
				/* Byte-wise add or subtract with carry. */
				unsigned x = a[i + k], y = b[i + k];
				unsigned v = sign > 0 ? x + y + carry :
				    x - y - carry;
				carry = sign > 0 ? v >> 8 : (v >> 8) & 1;
				out[i + k] = (uint8_t)v;
			}
		}
	}
	for (; i < n; i++)
		out[i] = a[i] ^ b[i];
}

static void
hash128(const uint8_t *p, size_t n, uint8_t out[16])
{
	XXH128_canonical_t c;
	XXH128_canonicalFromHash(&c, XXH3_128bits(p, n));
	memcpy(out, c.digest, 16);
}

static void
hex(char *dst, const uint8_t *h)
{
	for (int i = 0; i < 16; i++)
		dst += sprintf(dst, "%02x", h[i]);
}

int
z4_delta_reference(struct z4_frame *f)
{
	const struct z4_xform_step *s = &f->xform[0];
	uint8_t got[16];
	size_t n = f->raw_size;
	int err;

	if (f->ref_ready)
		return 0;	/* fetched already while decoding this frame */
	if (f->nxform == 0 || !z4_xform_is_delta(s->id) || z4_delta_check(s) ||
	    f->kind != Z4_FRAME_CHUNK)
		return Z4_E_CORRUPT;
	char want[33];
	hex(want, s->param + 2);
	if ((err = z4_frame_reserve_ref(f, n)))
		return err;
	if (s->param[18] == SOURCE_FRAME) {
		uint64_t at = z4_get64(s->param + 19);
		err = f->source ? f->source->get(f->source->ctx, at, f->refbuf,
		    n) : 0;
		if (err == 0)
			return Z4_E_REF;
	} else {
		err = f->ref ? z4_ref_read(f->ref, &f->tensor,
		    f->chunk_offset, n, f->refbuf) : 0;
	}
	if (err < 0)
		return err;
	if (err == 0) {
		snprintf(f->note, sizeof f->note, "needs a reference with "
		    "tensor '%.120s' (bytes %llu+%zu, checksum %s): use -r",
		    f->tensor.name, (unsigned long long)f->chunk_offset, n, want);
		return Z4_E_REF_MISSING;
	}
	hash128(f->refbuf, n, got);
	if (memcmp(got, s->param + 2, 16) != 0) {
		char have[33];
		hex(have, got);
		snprintf(f->note, sizeof f->note, "reference mismatch for "
		    "tensor '%.120s': expected %s, got %s", f->tensor.name, want,
		    have);
		return Z4_E_REF_MISMATCH;
	}
	f->ref_size = n;
	f->ref_ready = 1;
	return 0;
}

static int
delta_decode(struct z4_frame *f, const struct z4_xform_step *s,
    unsigned first, struct z4_plane *out)
{
	const struct z4_plane *res = &f->plane[first];
	unsigned mode, w;
	int err;

	if ((err = parse_params(s, &mode, &w)))
		return err;
	if (s != &f->xform[0] || f->kind != Z4_FRAME_CHUNK ||
	    res->raw_size != f->raw_size)
		return Z4_E_CORRUPT;
	if ((err = z4_delta_reference(f)) ||
	    (err = z4_plane_reserve_raw(out, res->raw_size)))
		return err;
	combine(out->rbuf, res->raw, f->refbuf, res->raw_size, mode, w, +1);
	out->raw = out->rbuf;
	out->raw_size = res->raw_size;
	return 0;
}

static int
delta_encode(struct z4_frame *f, struct z4_xform_step *s, const uint8_t *src,
    size_t n, unsigned first, unsigned mode)
{
	unsigned w = z4_dtype_width(f->tensor.dtype);
	struct z4_plane *res = &f->plane[first];
	int err;

	if (f->nxform != 0 || f->kind != Z4_FRAME_CHUNK || !f->have_ref ||
	    f->ref_size != n || w == 0)
		return 1;
	if ((err = z4_plane_reserve_raw(res, n ? n : 1)))
		return err;
	combine(res->rbuf, src, f->refbuf, n, mode, w, -1);
	res->raw = res->rbuf;
	res->raw_size = n;
	f->nplane = first + 1;
	s->param[0] = (uint8_t)mode;
	s->param[1] = (uint8_t)w;
	z4_delta_describe(f, s);
	return 0;
}

void
z4_delta_describe(struct z4_frame *f, struct z4_xform_step *s)
{
	/* An earlier frame's offset is known to the writer, which fills it. */
	s->param[18] = f->dref_internal ? SOURCE_FRAME : SOURCE_FILE;
	if (f->dref_internal)
		z4_put64(s->param + 19, 0);
	s->param_size = f->dref_internal ? 27 : 19;
	hash128(f->refbuf, f->ref_size, s->param + 2);
}

static int
xor_encode(struct z4_frame *f, struct z4_xform_step *s, const uint8_t *src,
    size_t n, unsigned first)
{
	return delta_encode(f, s, src, n, first, DELTA_XOR);
}

static int
sub_encode(struct z4_frame *f, struct z4_xform_step *s, const uint8_t *src,
    size_t n, unsigned first)
{
	return delta_encode(f, s, src, n, first, DELTA_SUB);
}

/* One transform; two rows for the encoder, which picks the mode. */
const struct z4_xform z4_xform_delta = {
	.id = Z4_XF_DELTA,
	.name = "delta",
	.inputs = delta_inputs,
	.encode = xor_encode,
	.decode = delta_decode,
};

const struct z4_xform z4_xform_delta_sub = {
	.id = Z4_XF_DELTA,
	.name = "delta",
	.inputs = delta_inputs,
	.encode = sub_encode,
	.decode = delta_decode,
};

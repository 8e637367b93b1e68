/*
 * xform.c - the transform registry: the only list of transforms, indexed
 * by wire ID.  Frames whose chain names an ID missing here are rejected.
 * A transform joins by adding its file and one row here.
 */
#include "internal.h"

static const struct z4_xform *const xforms[256] = {
	[Z4_XF_PLANES] = &z4_xform_planes,
	[Z4_XF_PALETTE] = &z4_xform_palette,
	[Z4_XF_ZEROS] = &z4_xform_zeros,
	[Z4_XF_DELTA] = &z4_xform_delta,
	[Z4_XF_GRID] = &z4_xform_grid_row,
	[Z4_XF_ZEROS_REF] = &z4_xform_zeros_ref,
	[Z4_XF_DELTA_MODEL] = &z4_xform_delta_model,
	[Z4_XF_BYTE_MODEL] = &z4_xform_byte_model,
	[Z4_XF_ROWS] = &z4_xform_rows,
	[Z4_XF_FOLD] = &z4_xform_fold,
	[Z4_XF_OFFSETS] = &z4_xform_offsets,
};

const struct z4_xform *
z4_xform_get(unsigned id)
{
	return id < 256 ? xforms[id] : NULL;
}

const char *
z4_xform_name(unsigned id)
{
	const struct z4_xform *x = z4_xform_get(id);
	return x ? x->name : NULL;
}

int
z4_chain_push(struct z4_frame *f, const struct z4_xform *x)
{
	unsigned first = f->nplane - 1;
	struct z4_plane *p = &f->plane[first];

	if (f->nxform == Z4_XFORM_MAX)
		return 1;
	/* The input moves out of the way of the planes made from it. */
	if (p->raw == p->rbuf && p->rbuf != NULL) {
		uint8_t *t = f->stage.rbuf;
		size_t tcap = f->stage.rcap;
		f->stage.rbuf = p->rbuf;
		f->stage.rcap = p->rcap;
		p->rbuf = t;
		p->rcap = tcap;
	}
	struct z4_xform_step *s = &f->xform[f->nxform];
	int ret = x->encode(f, s, p->raw, p->raw_size, first);
	if (ret != 0)
		return ret;
	s->id = x->id;
	f->nxform++;
	return 0;
}

int
z4_chain_decode(struct z4_frame *f)
{
	struct z4_plane saved[Z4_PLANE_MAX], raw = { 0 };
	unsigned n = f->nplane;
	int err = 0;

	/*
	 * The planes stay as they were read, so the frame can be written
	 * again (z4plane).  A step's output is read only by the next step,
	 * so outputs go to the stage and the raw bytes in turn, the last
	 * one to the raw bytes.
	 */
	memcpy(saved, f->plane, n * sizeof *saved);
	raw.rbuf = f->raw;
	raw.rcap = f->raw_cap;
	for (unsigned i = f->nxform; i-- > 0;) {
		const struct z4_xform_step *s = &f->xform[i];
		const struct z4_xform *x = z4_xform_get(s->id);
		unsigned k = x->inputs(s);
		struct z4_plane *out = i % 2 ? &f->stage : &raw;
		if (k == 0 || k > n) {
			err = Z4_E_CORRUPT;
			break;
		}
		unsigned first = n - k;
		if ((err = x->decode(f, s, first, out)))
			break;
		/* The output takes the place of the planes it came from. */
		f->plane[first].raw = out->raw;
		f->plane[first].raw_size = out->raw_size;
		n = first + 1;
	}
	if (!err && (n != 1 || f->plane[0].raw_size != f->raw_size))
		err = Z4_E_CORRUPT;
	memcpy(f->plane, saved, f->nplane * sizeof *saved);
	f->raw = raw.rbuf;
	f->raw_cap = raw.rcap;
	return err;
}

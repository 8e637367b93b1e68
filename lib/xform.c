/*
 * xform.c - the transform registry: the only list of transforms, indexed
 * by wire ID.  Frames whose chain names an ID missing here are rejected.
 * A transform joins by adding its file and one row here.
 */
#include "internal.h"

static const struct z4_xform *const xforms[256] = {
	[Z4_XF_PLANES] = &z4_xform_planes,
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
	unsigned n = f->nplane;

	for (unsigned i = f->nxform; i-- > 0;) {
		const struct z4_xform_step *s = &f->xform[i];
		const struct z4_xform *x = z4_xform_get(s->id);
		unsigned k = x->inputs(s);
		if (k == 0 || k > n)
			return Z4_E_CORRUPT;
		unsigned first = n - k;
		int err = x->decode(f, s, first, &f->stage);
		if (err)
			return err;
		/* The output takes the place of the planes it came from. */
		struct z4_plane *p = &f->plane[first];
		uint8_t *t = p->rbuf;
		size_t tcap = p->rcap;
		p->rbuf = f->stage.rbuf;
		p->rcap = f->stage.rcap;
		p->raw = p->rbuf;
		p->raw_size = f->stage.raw_size;
		f->stage.rbuf = t;
		f->stage.rcap = tcap;
		n = first + 1;
	}
	if (n != 1 || f->plane[0].raw_size != f->raw_size)
		return Z4_E_CORRUPT;
	/* Hand the bytes over instead of copying them. */
	struct z4_plane *p = &f->plane[0];
	uint8_t *t = f->raw;
	size_t tcap = f->raw_cap;
	f->raw = p->rbuf;
	f->raw_cap = p->rcap;
	p->rbuf = t;
	p->rcap = tcap;
	p->raw = f->raw;
	return 0;
}

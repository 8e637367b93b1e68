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

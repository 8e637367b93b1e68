/*
 * xform.c - the transform registry: the only list of transforms, indexed
 * by wire ID.  Format 0.1 defines none yet; frames whose chain names an
 * ID missing here are rejected.  A transform joins by adding its file and
 * one row: [Z4_XF_NAME] = &z4_xform_name.
 */
#include "internal.h"

static const struct z4_xform *const xforms[256] = {
	NULL,
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

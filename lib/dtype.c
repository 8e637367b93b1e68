/*
 * dtype.c - element types: wire IDs, widths and safetensors names.
 */
#include <strings.h>

#include "internal.h"

static const struct {
	const char *name;
	unsigned width;
} dtypes[Z4_DT_COUNT] = {
	[Z4_DT_OPAQUE] = { "OPAQUE", 1 },
	[Z4_DT_BOOL] = { "BOOL", 1 },
	[Z4_DT_U8] = { "U8", 1 },
	[Z4_DT_I8] = { "I8", 1 },
	[Z4_DT_U16] = { "U16", 2 },
	[Z4_DT_I16] = { "I16", 2 },
	[Z4_DT_F16] = { "F16", 2 },
	[Z4_DT_BF16] = { "BF16", 2 },
	[Z4_DT_U32] = { "U32", 4 },
	[Z4_DT_I32] = { "I32", 4 },
	[Z4_DT_F32] = { "F32", 4 },
	[Z4_DT_U64] = { "U64", 8 },
	[Z4_DT_I64] = { "I64", 8 },
	[Z4_DT_F64] = { "F64", 8 },
	[Z4_DT_F8_E4M3] = { "F8_E4M3", 1 },
	[Z4_DT_F8_E5M2] = { "F8_E5M2", 1 },
};

unsigned
z4_dtype_width(unsigned dtype)
{
	return dtype < Z4_DT_COUNT ? dtypes[dtype].width : 0;
}

const char *
z4_dtype_name(unsigned dtype)
{
	return dtype < Z4_DT_COUNT ? dtypes[dtype].name : NULL;
}

int
z4_dtype_parse(const char *name)
{
	/* OPAQUE is what the parser assigns, not a type a user declares. */
	for (unsigned i = 1; i < Z4_DT_COUNT; i++)
		if (strcasecmp(name, dtypes[i].name) == 0)
			return (int)i;
	return -1;
}

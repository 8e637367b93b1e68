/*
 * container_safetensors.c - the safetensors header: an 8-byte length, a
 * JSON object naming each tensor's dtype, shape and data offsets, then
 * the data.
 *
 * jansson parses the JSON; the header bytes themselves are kept verbatim
 * as glue, since writers differ in key order, spacing and padding.  A
 * header is accepted only if every tensor checks out: a known dtype whose
 * size matches its shape (or an unknown one, kept opaque), offsets in
 * order and not overlapping.  Anything else makes the whole file opaque.
 */
#include <stdlib.h>

#include <jansson.h>

#include "internal.h"

/* Types safetensors names that this version keeps as opaque bytes. */
static int
known_opaque(const char *s)
{
	static const char *const names[] = {
		"F8_E8M0", "F4", "F6_E2M3", "F6_E3M2", "C64", "C128",
		"F8_E4M3FNUZ", "F8_E5M2FNUZ", "F8_E4M3FN",
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(s, names[i]) == 0)
			return 1;
	return 0;
}

static int
dtype_of(const char *s)
{
	for (unsigned i = 1; i < Z4_DT_COUNT; i++)
		if (strcmp(s, z4_dtype_name(i)) == 0)
			return (int)i;
	return known_opaque(s) ? Z4_DT_OPAQUE : -1;
}

static int
get_u64(json_t *v, uint64_t *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

/*
 * One "name": {dtype, shape, data_offsets} entry into r, its name (len
 * bytes, at most Z4_NAME_MAX) copied to names.
 */
static const char *
tensor_entry(const char *name, size_t len, json_t *v, struct z4_region *r,
    char *names)
{
	if (!json_is_object(v))
		return "tensor entry is not an object";
	json_t *dt = json_object_get(v, "dtype");
	json_t *shape = json_object_get(v, "shape");
	json_t *off = json_object_get(v, "data_offsets");
	if (!json_is_string(dt) || !json_is_array(shape) ||
	    !json_is_array(off) || json_array_size(off) != 2)
		return "tensor entry lacks dtype, shape or data_offsets";
	int d = dtype_of(json_string_value(dt));
	if (d < 0)
		return "unknown dtype";
	memcpy(names, name, len + 1);
	r->name = names;
	r->name_len = len;
	r->dtype = (unsigned)d;
	r->ndim = (unsigned)json_array_size(shape);
	if (r->ndim > Z4_NDIM_MAX)
		return "too many dimensions";
	uint64_t elems = 1;
	int overflow = 0;
	for (unsigned i = 0; i < r->ndim; i++) {
		if (get_u64(json_array_get(shape, i), &r->shape[i]))
			return "bad shape";
		if (r->shape[i] && elems > UINT64_MAX / r->shape[i])
			overflow = 1;
		elems *= r->shape[i];
	}
	if (get_u64(json_array_get(off, 0), &r->begin) ||
	    get_u64(json_array_get(off, 1), &r->end) || r->begin > r->end)
		return "bad data_offsets";
	unsigned w = z4_dtype_width(r->dtype);
	if (d != Z4_DT_OPAQUE &&
	    (overflow || elems > UINT64_MAX / w || elems * w !=
	    r->end - r->begin))
		return "data_offsets do not match dtype and shape";
	return NULL;
}

static int
by_begin(const void *a, const void *b)
{
	const struct z4_region *x = a, *y = b;
	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	return strcmp(x->name, y->name);
}

void
z4_region_tensor(const struct z4_region *r, struct z4_tensor *t)
{
	memcpy(t->name, r->name, r->name_len + 1);
	t->name_len = r->name_len;
	t->dtype = r->dtype;
	t->flags = 0;
	t->ndim = r->ndim;
	memcpy(t->shape, r->shape, r->ndim * sizeof *r->shape);
}

int
z4_safetensors_parse(const uint8_t *json, size_t n,
    struct z4_region **regions, size_t *count, const char **why)
{
	json_error_t jerr;
	json_t *root = json_loadb((const char *)json, n,
	    JSON_REJECT_DUPLICATES, &jerr);
	struct z4_region *r = NULL;
	size_t k = 0;

	*regions = NULL;
	*count = 0;
	*why = NULL;
	if (root == NULL || !json_is_object(root)) {
		*why = root ? "header is not a JSON object" : "bad JSON";
		goto fail;
	}
	/* The regions, then their names. */
	const char *name;
	json_t *v;
	size_t slots = json_object_size(root) + 1, names = 0;
	json_object_foreach(root, name, v) {
		size_t len = strlen(name);
		if (len > Z4_NAME_MAX) {
			*why = "tensor name too long";
			goto fail;
		}
		names += len + 1;
	}
	r = malloc(slots * sizeof *r + names);
	if (r == NULL) {
		json_decref(root);
		return Z4_E_NOMEM;
	}
	char *at = (char *)(r + slots);
	json_object_foreach(root, name, v) {
		if (strcmp(name, "__metadata__") == 0)
			continue;
		size_t len = strlen(name);
		if ((*why = tensor_entry(name, len, v, &r[k], at)) != NULL)
			goto fail;
		at += len + 1;
		k++;
	}
	qsort(r, k, sizeof *r, by_begin);
	for (size_t i = 1; i < k; i++) {
		if (r[i].begin < r[i - 1].end) {
			*why = "tensors overlap";
			goto fail;
		}
	}
	json_decref(root);
	*regions = r;
	*count = k;
	return 0;
fail:
	free(r);
	json_decref(root);
	return Z4_E_CORRUPT;
}

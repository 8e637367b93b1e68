/*
 * keep.c - the bytes of frames that later REF frames repeat, kept by a
 * reader that cannot seek back to them (a pipe).
 *
 * Frames are kept in memory up to a budget, then in an unlinked
 * temporary file, so memory stays bounded whatever the stream holds.
 * Keys are stream offsets, added in increasing order, so lookups are a
 * binary search.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"

#define KEEP_MEMORY (256u << 20)

struct kept {
	uint64_t key;
	size_t size;
	uint8_t *mem;		/* NULL: at file_offset in the spill file */
	uint64_t file_offset;
};

struct z4_keep {
	struct kept *v;
	size_t n, cap;
	size_t memory;
	FILE *spill;
	uint64_t spilled;
};

int
z4_keep_new(struct z4_keep **kp)
{
	*kp = calloc(1, sizeof **kp);
	return *kp ? 0 : Z4_E_NOMEM;
}

void
z4_keep_reset(struct z4_keep *k)
{
	for (size_t i = 0; i < k->n; i++)
		free(k->v[i].mem);
	k->n = 0;
	k->memory = 0;
	if (k->spill)
		fclose(k->spill);
	k->spill = NULL;
	k->spilled = 0;
}

void
z4_keep_free(struct z4_keep *k)
{
	if (k == NULL)
		return;
	z4_keep_reset(k);
	free(k->v);
	free(k);
}

int
z4_keep_add(struct z4_keep *k, uint64_t key, const uint8_t *p, size_t n)
{
	if (k->n > 0 && key <= k->v[k->n - 1].key)
		return Z4_E_CORRUPT;
	int err = z4_array_room(&k->v, &k->cap, k->n, sizeof *k->v);
	if (err)
		return err;
	struct kept *e = &k->v[k->n];
	e->key = key;
	e->size = n;
	e->mem = NULL;
	if (k->memory + n <= KEEP_MEMORY) {
		if ((e->mem = malloc(n ? n : 1)) == NULL)
			return Z4_E_NOMEM;
		memcpy(e->mem, p, n);
		k->memory += n;
	} else {
		if (k->spill == NULL && (k->spill = tmpfile()) == NULL)
			return Z4_E_IO;
		e->file_offset = k->spilled;
		if (fseeko(k->spill, (off_t)k->spilled, SEEK_SET) != 0 ||
		    fwrite(p, 1, n, k->spill) != n)
			return Z4_E_IO;
		k->spilled += n;
	}
	k->n++;
	return 0;
}

int
z4_keep_get(struct z4_keep *k, uint64_t key, uint8_t *dst, size_t n)
{
	size_t lo = 0, hi = k->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (k->v[mid].key < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == k->n || k->v[lo].key != key || k->v[lo].size != n)
		return Z4_E_CORRUPT;
	const struct kept *e = &k->v[lo];
	if (e->mem) {
		memcpy(dst, e->mem, n);
		return 0;
	}
	if (fseeko(k->spill, (off_t)e->file_offset, SEEK_SET) != 0 ||
	    fread(dst, 1, n, k->spill) != n)
		return Z4_E_IO;
	return 0;
}

/*
 * dedupe.c - finding chunks whose bytes an earlier chunk already has
 * (tied embeddings saved untied, repeated layers), before coding.
 *
 * A first pass splits the input as the real pass will and hashes every
 * tensor chunk with XXH3-128.  A chunk whose hash and size match an
 * earlier one is compared byte for byte with it (read back from the
 * input) and only then becomes a REF frame; the earlier chunk is marked
 * KEEP, so a reader on a pipe knows to keep its bytes.  The input must be
 * seekable: the pass reads it, then it is read again from the start.
 */
#include <stdlib.h>
#include <unistd.h>

#include <xxhash.h>

#include "internal.h"

#define DEDUPE_MIN 256		/* a REF frame costs about 80 bytes */

struct seen {
	XXH128_hash_t hash;
	uint64_t offset;	/* in the input */
	size_t size;
	uint64_t frame;
};

struct z4_dedupe {
	uint64_t *ref;		/* per frame: 1 + the frame it repeats, or 0 */
	uint8_t *keep;		/* per frame: 1 if a later frame repeats it */
	uint64_t nframe;
	struct seen *table;	/* open addressing, power-of-two size */
	size_t tsize, used;
};

static int
grow_frames(struct z4_dedupe *d, uint64_t n)
{
	uint64_t *r = realloc(d->ref, n * sizeof *r);
	if (r == NULL)
		return Z4_E_NOMEM;
	d->ref = r;
	uint8_t *k = realloc(d->keep, n);
	if (k == NULL)
		return Z4_E_NOMEM;
	d->keep = k;
	return 0;
}

static struct seen *
slot(struct z4_dedupe *d, XXH128_hash_t h, size_t size)
{
	size_t i = (size_t)h.low64 & (d->tsize - 1);
	while (d->table[i].size != 0 && !(d->table[i].size == size &&
	    XXH128_isEqual(d->table[i].hash, h)))
		i = (i + 1) & (d->tsize - 1);
	return &d->table[i];
}

static int
rehash(struct z4_dedupe *d)
{
	size_t old = d->tsize;
	struct seen *t = d->table;
	d->tsize = old ? 2 * old : 1024;
	d->table = calloc(d->tsize, sizeof *d->table);
	if (d->table == NULL) {
		d->table = t;
		d->tsize = old;
		return Z4_E_NOMEM;
	}
	for (size_t i = 0; i < old; i++)
		if (t[i].size)
			*slot(d, t[i].hash, t[i].size) = t[i];
	free(t);
	return 0;
}

/* Compare the n bytes at p with the input's bytes at offset. */
static int
same_bytes(int fd, uint64_t offset, const uint8_t *p, size_t n)
{
	uint8_t buf[1 << 16];
	while (n) {
		size_t k = n < sizeof buf ? n : sizeof buf;
		ssize_t r = pread(fd, buf, k, (off_t)offset);
		if (r <= 0)
			return r < 0 ? Z4_E_IO : 0;
		if (memcmp(buf, p, (size_t)r) != 0)
			return 0;
		p += r;
		n -= (size_t)r;
		offset += (uint64_t)r;
	}
	return 1;
}

static int
scan(struct z4_dedupe *d, int fd, const struct z4_split_opts *o)
{
	struct z4_in in;
	struct z4_split *s = NULL;
	struct z4_frame f;
	uint64_t offset = 0, cap = 0;
	int ret;

	z4_frame_init(&f);
	if ((ret = z4_in_init(&in, fd)) || (ret = z4_in_seek(&in, 0)) ||
	    (ret = z4_split_new(&s, &in, o)))
		goto out;
	while ((ret = z4_split_next(s, &f)) > 0) {
		uint64_t i = d->nframe++;
		if (i == cap && (ret = grow_frames(d, cap = cap ? 2 * cap :
		    1024)))
			break;
		d->ref[i] = 0;
		d->keep[i] = 0;
		if (f.kind == Z4_FRAME_CHUNK && f.raw_size >= DEDUPE_MIN) {
			if (2 * (d->used + 1) > d->tsize && (ret = rehash(d)))
				break;
			XXH128_hash_t h = XXH3_128bits(f.raw, f.raw_size);
			struct seen *e = slot(d, h, f.raw_size);
			if (e->size == 0) {
				*e = (struct seen){ h, offset, f.raw_size, i };
				d->used++;
			} else if ((ret = same_bytes(fd, e->offset, f.raw,
			    f.raw_size)) < 0) {
				break;
			} else if (ret == 1) {
				d->ref[i] = e->frame + 1;
				d->keep[e->frame] = 1;
			}
		}
		offset += f.raw_size;
	}
out:
	z4_split_free(s);
	z4_frame_release(&f);
	z4_in_release(&in);
	if (ret == 0)
		ret = lseek(fd, 0, SEEK_SET) == 0 ? 0 : Z4_E_IO;
	return ret;
}

int
z4_dedupe_new(struct z4_dedupe **dp, int fd, const struct z4_split_opts *o)
{
	struct z4_dedupe *d = calloc(1, sizeof *d);
	int err;

	*dp = NULL;
	if (d == NULL)
		return Z4_E_NOMEM;
	if ((err = scan(d, fd, o))) {
		z4_dedupe_free(d);
		return err;
	}
	free(d->table);
	d->table = NULL;
	*dp = d;
	return 0;
}

void
z4_dedupe_free(struct z4_dedupe *d)
{
	if (d == NULL)
		return;
	free(d->ref);
	free(d->keep);
	free(d->table);
	free(d);
}

int
z4_dedupe_mark(const struct z4_dedupe *d, struct z4_frame *f, uint64_t i)
{
	f->key = i;
	f->flags = 0;
	if (i >= d->nframe)
		return Z4_E_USAGE;	/* the input changed under us */
	if (d->keep[i])
		f->flags |= Z4_FRAME_KEEP;
	if (d->ref[i]) {
		f->kind = Z4_FRAME_REF;
		f->ref_key = d->ref[i] - 1;
	}
	return 0;
}

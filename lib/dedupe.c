/*
 * dedupe.c - finding chunks whose bytes an earlier chunk already has
 * (tied embeddings saved untied, repeated layers), before coding.
 *
 * A first pass splits the input as the real pass will, reading only the
 * containers' headers, and hashes a sample of every tensor chunk (its
 * first, middle and last 4 KiB) with XXH3-128.  A chunk whose size and
 * sample hash match an earlier one's is compared byte for byte with it
 * and only then becomes a REF frame; the earlier chunk is marked KEEP,
 * so a reader on a pipe knows to keep its bytes.  Only chunks that look
 * alike are read whole, so the input is read about once, not twice,
 * however large it is.  The input must be seekable.
 *
 * In an archive the same pass plans deltas between members: for each
 * checkpoint member it picks the earlier member whose chunks, sampled at
 * the same places, agree with its own in the most bytes, among those
 * with mostly the same tensors (name, dtype, shape) and fewer than
 * max_depth deltas behind them, so reading a member never undoes more
 * than max_depth deltas.  With none, the member is coded on its own.
 * Each chunk then has the matching chunk of that member as its
 * reference, which is marked KEEP.  Last, small float chunks left on
 * their own are matched with near copies earlier in their member or
 * file (plan_near).
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hash.h"

#include "internal.h"

#define DEDUPE_MIN 256		/* a REF frame costs about 30 bytes */
/* Each of the three sampled pieces; the fuzzing build makes it small. */
#ifndef Z4_DEDUPE_PIECE
#define Z4_DEDUPE_PIECE 4096
#endif
#define PIECE Z4_DEDUPE_PIECE

struct seen {
	XXH128_hash_t hash;	/* of the sample */
	XXH128_hash_t whole;	/* of all the bytes, once made */
	int have_whole;
	uint64_t offset;	/* in the input */
	size_t size;
	uint64_t frame;
};

/* What the plan needs of each frame. */
struct frame_info {
	int32_t member;		/* archive member, or -1 */
	uint64_t tensor;	/* hash of name, dtype and shape; 0: not a chunk */
	uint64_t chunk_offset, in_offset;
	size_t size;
	unsigned dtype;
};

struct z4_dedupe {
	uint64_t *ref;		/* per frame: 1 + the frame it repeats, or 0 */
	uint64_t *dref;		/* per frame: 1 + its delta reference, or 0 */
	uint8_t *keep;		/* per frame: 1 if a later frame repeats it */
	struct frame_info *info;
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
	if ((r = realloc(d->dref, n * sizeof *r)) == NULL)
		return Z4_E_NOMEM;
	d->dref = r;
	struct frame_info *fi = realloc(d->info, n * sizeof *fi);
	if (fi == NULL)
		return Z4_E_NOMEM;
	d->info = fi;
	uint8_t *k = realloc(d->keep, n);
	if (k == NULL)
		return Z4_E_NOMEM;
	d->keep = k;
	return 0;
}

/* The first free slot for hash h. */
static struct seen *
free_slot(struct z4_dedupe *d, XXH128_hash_t h)
{
	size_t i = (size_t)h.low64 & (d->tsize - 1);
	while (d->table[i].size != 0)
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
			*free_slot(d, t[i].hash) = t[i];
	free(t);
	return 0;
}

/* Whether the input holds the same n bytes at offsets a and b. */
static int
same_bytes(int fd, uint64_t a, uint64_t b, uint64_t n)
{
	uint8_t x[1 << 14], y[1 << 14];	/* small: any thread's stack */
	while (n) {
		size_t k = n < sizeof x ? (size_t)n : sizeof x;
		if (pread(fd, x, k, (off_t)a) != (ssize_t)k ||
		    pread(fd, y, k, (off_t)b) != (ssize_t)k)
			return Z4_E_IO;
		if (memcmp(x, y, k) != 0)
			return 0;
		a += k;
		b += k;
		n -= k;
	}
	return 1;
}

/*
 * The hash of a chunk's first, middle and last PIECE bytes, or of all
 * of it when it is no larger than they are.
 */
static int
sample_hash(int fd, uint64_t offset, size_t size, XXH128_hash_t *h)
{
	uint8_t buf[3 * PIECE];
	if (size <= sizeof buf) {
		if (pread(fd, buf, size, (off_t)offset) != (ssize_t)size)
			return Z4_E_IO;
		*h = XXH3_128bits(buf, size);
		return 0;
	}
	uint64_t at[3] = { 0, size / 2 - PIECE / 2, size - PIECE };
	for (int i = 0; i < 3; i++)
		if (pread(fd, buf + i * PIECE, PIECE, (off_t)(offset +
		    at[i])) != PIECE)
			return Z4_E_IO;
	*h = XXH3_128bits(buf, sizeof buf);
	return 0;
}

/* The hash of all size bytes at offset, read a piece at a time. */
static int
whole_hash(int fd, uint64_t offset, size_t size, XXH128_hash_t *h)
{
	uint8_t buf[1 << 14];
	XXH3_state_t *st = XXH3_createState();
	int err = st == NULL ? Z4_E_NOMEM : 0;
	if (!err)
		XXH3_128bits_reset(st);
	while (!err && size) {
		size_t k = size < sizeof buf ? size : sizeof buf;
		if (pread(fd, buf, k, (off_t)offset) != (ssize_t)k)
			err = Z4_E_IO;
		else
			XXH3_128bits_update(st, buf, k);
		offset += k;
		size -= k;
	}
	if (!err)
		*h = XXH3_128bits_digest(st);
	XXH3_freeState(st);
	return err;
}

/*
 * Frame i, of size bytes at offset: the earlier frame with the same
 * bytes, or none (1 + that frame's number, or 0, in *match).  The first
 * earlier chunk whose sample agrees is compared byte for byte: a repeat,
 * the usual case, costs a read of each.  Past that, the hashes of whole
 * chunks (made once a chunk) tell them apart before any more bytes are
 * compared, so however many chunks agree where they are sampled, each is
 * read whole a few times at most.
 */
static int
find_same(struct z4_dedupe *d, int fd, uint64_t i, uint64_t offset,
    size_t size, uint64_t *match)
{
	struct seen me = { .offset = offset, .size = size, .frame = i };
	int ret, compared = 0;

	*match = 0;
	if ((ret = sample_hash(fd, offset, size, &me.hash)))
		return ret;
	if (2 * (d->used + 1) > d->tsize && (ret = rehash(d)))
		return ret;
	size_t j = (size_t)me.hash.low64 & (d->tsize - 1);
	for (; d->table[j].size != 0; j = (j + 1) & (d->tsize - 1)) {
		struct seen *e = &d->table[j];
		if (e->size != size || !XXH128_isEqual(e->hash, me.hash))
			continue;
		if (compared) {
			if (!me.have_whole && (ret = whole_hash(fd, offset,
			    size, &me.whole)))
				return ret;
			if (!e->have_whole && (ret = whole_hash(fd, e->offset,
			    size, &e->whole)))
				return ret;
			me.have_whole = e->have_whole = 1;
			if (!XXH128_isEqual(e->whole, me.whole))
				continue;
		}
		compared = 1;
		if ((ret = same_bytes(fd, e->offset, offset, size)) < 0)
			return ret;
		if (ret == 1) {
			*match = e->frame + 1;
			return 0;
		}
	}
	d->table[j] = me;
	d->used++;
	return 0;
}

/* A tensor's identity for matching across members; never 0. */
static uint64_t
tensor_key(const struct z4_frame *f)
{
	const struct z4_tensor *t = &f->tensor;
	uint64_t h = XXH3_64bits(t->name, t->name_len);
	h ^= XXH3_64bits(t->shape, t->ndim * sizeof *t->shape) * 31 +
	    t->dtype * 7 + t->ndim;
	return h ? h : 1;
}

static int
scan(struct z4_dedupe *d, int fd, const struct z4_split_opts *o)
{
	struct z4_in in;
	struct z4_split *s = NULL;
	struct z4_frame f;
	struct stat st;
	uint64_t offset = 0, cap = 0;
	int ret;

	int32_t member = -1;

	z4_frame_init(&f);
	if (fstat(fd, &st) != 0)
		return Z4_E_IO;
	if ((ret = z4_in_init(&in, fd)) || (ret = z4_in_seek(&in, 0)) ||
	    (ret = z4_split_new(&s, &in, o)))
		goto out;
	z4_split_sizes_only(s, (uint64_t)st.st_size);
	while ((ret = z4_split_next(s, &f)) > 0) {
		uint64_t i = d->nframe++;
		if (i == cap && (ret = grow_frames(d, cap = cap ? 2 * cap :
		    1024)))
			break;
		d->ref[i] = 0;
		d->dref[i] = 0;
		d->keep[i] = 0;
		member += f.kind == Z4_FRAME_MEMBER;
		d->info[i] = (struct frame_info){
			.member = member, .chunk_offset = f.chunk_offset,
			.in_offset = offset, .size = f.raw_size,
			.tensor = f.kind == Z4_FRAME_CHUNK ? tensor_key(&f) : 0,
			.dtype = f.tensor.dtype,
		};
		if (f.kind == Z4_FRAME_CHUNK && f.raw_size >= DEDUPE_MIN) {
			uint64_t match;
			if ((ret = find_same(d, fd, i, offset, f.raw_size,
			    &match)))
				break;
			if (match) {
				d->ref[i] = match;
				d->keep[match - 1] = 1;
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

/* Chunks by (member, tensor, offset), to find a chunk's counterpart. */
struct chunk_map {
	struct chunk_slot {
		int32_t member;
		uint64_t tensor, chunk_offset, frame;
	} *v;
	size_t size;
};

static size_t
chunk_hash(const struct chunk_map *m, int32_t member, uint64_t tensor,
    uint64_t off)
{
	uint64_t h = (tensor ^ (uint64_t)member * 0x9E3779B97F4A7C15ull) +
	    off * 0xC2B2AE3D27D4EB4Full;
	return (size_t)(h ^ h >> 29) & (m->size - 1);
}

static int64_t
chunk_find(const struct chunk_map *m, int32_t member, uint64_t tensor,
    uint64_t off)
{
	for (size_t i = chunk_hash(m, member, tensor, off);
	    m->v[i].tensor != 0; i = (i + 1) & (m->size - 1))
		if (m->v[i].member == member && m->v[i].tensor == tensor &&
		    m->v[i].chunk_offset == off)
			return (int64_t)m->v[i].frame;
	return -1;
}

/* Bytes equal at the same places of two chunks, on a sample of each. */
static int
agreement(int fd, const struct frame_info *a, const struct frame_info *b,
    uint64_t *equal, uint64_t *seen)
{
	uint8_t x[4096], y[4096];
	size_t k = a->size < sizeof x ? a->size : sizeof x;
	uint64_t at = (a->size - k) / 2;
	if (pread(fd, x, k, (off_t)(a->in_offset + at)) != (ssize_t)k ||
	    pread(fd, y, k, (off_t)(b->in_offset + at)) != (ssize_t)k)
		return Z4_E_IO;
	for (size_t i = 0; i < k; i++)
		*equal += x[i] == y[i];
	*seen += k;
	return 0;
}

/*
 * For each member, the earlier member to code it against.  The first
 * frames of each member are found by walking the frames once.
 */
static int
plan_members(struct z4_dedupe *d, int fd, unsigned max_depth)
{
	int32_t nmember = d->nframe ? d->info[d->nframe - 1].member + 1 : 0;
	if (nmember < 2 || max_depth == 0)
		return 0;
	struct chunk_map map = { 0 };
	uint64_t *first = calloc((size_t)nmember + 1, sizeof *first);
	unsigned *depth = calloc((size_t)nmember, sizeof *depth);
	for (map.size = 1024; map.size < 2 * d->nframe; map.size *= 2)
		;
	map.v = calloc(map.size, sizeof *map.v);
	int err = first && depth && map.v ? 0 : Z4_E_NOMEM;
	for (uint64_t i = 0; i < d->nframe && !err; i++) {
		const struct frame_info *fi = &d->info[i];
		if (fi->member >= 0 && i > 0 &&
		    d->info[i - 1].member != fi->member)
			first[fi->member] = i;
		if (fi->tensor == 0 || fi->member < 0)
			continue;
		size_t h = chunk_hash(&map, fi->member, fi->tensor,
		    fi->chunk_offset);
		while (map.v[h].tensor != 0)
			h = (h + 1) & (map.size - 1);
		map.v[h] = (struct chunk_slot){ fi->member, fi->tensor,
		    fi->chunk_offset, i };
	}
	if (!err)
		first[nmember] = d->nframe;
	for (int32_t m = 1; m < nmember && !err; m++) {
		int32_t best = -1;
		double best_score = 0;
		/* Every member before it, the nearest first. */
		for (int32_t r = m - 1; r >= 0 && !err; r--) {
			if (depth[r] + 1 > max_depth)
				continue;
			uint64_t equal = 0, seen = 0, common = 0, own = 0;
			unsigned samples = 0;
			for (uint64_t i = first[m]; i < first[m + 1]; i++) {
				const struct frame_info *fi = &d->info[i];
				if (fi->tensor == 0)
					continue;
				own += fi->size;
				int64_t j = chunk_find(&map, r, fi->tensor,
				    fi->chunk_offset);
				if (j < 0 || d->info[j].size != fi->size)
					continue;
				common += fi->size;
				/* Up to 32 chunks of a useful size are sampled. */
				if (samples < 32 && fi->size >= 64) {
					err = agreement(fd, fi, &d->info[j],
					    &equal, &seen);
					samples++;
				}
			}
			if (own == 0 || 2 * common < own || seen == 0)
				continue;
			double score = (double)equal / (double)seen;
			if (score > best_score) {
				best_score = score;
				best = r;
			}
		}
		if (best < 0)
			continue;
		depth[m] = depth[best] + 1;
		for (uint64_t i = first[m]; i < first[m + 1]; i++) {
			const struct frame_info *fi = &d->info[i];
			if (fi->tensor == 0 || d->ref[i])
				continue;
			int64_t j = chunk_find(&map, best, fi->tensor,
			    fi->chunk_offset);
			if (j >= 0 && d->info[j].size == fi->size) {
				d->dref[i] = (uint64_t)j + 1;
				d->keep[j] = 1;
			}
		}
	}
	free(first);
	free(depth);
	free(map.v);
	return err;
}

/*
 * Near copies: a small float chunk that agrees with an earlier chunk of
 * its member (or file) of the same type, size and place in its tensor in
 * most of its bytes, where unrelated weights agree in a few per cent, is
 * coded against it: the norms' weights of a checkpoint, all near 1, the
 * biases of layers that start as copies of each other.  Only chunks
 * coded on their own are references, so a chunk never waits on more
 * than one other, and each is compared with the last NEAR_TRIES
 * candidates only.  Large chunks are left alone: a delta decodes at tens
 * of MB/s, which a file's own tensors should not cost.
 */
#define NEAR_TRIES 4
#define NEAR_AGREE 0.4		/* of the bytes sampled */
#define NEAR_MAX (64u << 10)	/* bytes of a chunk */

struct near_slot {
	int32_t member;
	unsigned dtype;
	size_t size;
	uint64_t chunk_offset;
	uint64_t frame[NEAR_TRIES];	/* 1 + frame number, newest first */
};

static struct near_slot *
near_find(struct near_slot *v, size_t size, const struct frame_info *fi)
{
	uint64_t h = (fi->size * 0x9E3779B97F4A7C15ull) ^
	    (fi->chunk_offset * 0xC2B2AE3D27D4EB4Full) ^
	    ((uint64_t)fi->member << 8 | fi->dtype);
	size_t i = (size_t)(h ^ h >> 31) & (size - 1);
	for (;; i = (i + 1) & (size - 1)) {
		struct near_slot *e = &v[i];
		if (e->frame[0] == 0 || (e->member == fi->member &&
		    e->dtype == fi->dtype && e->size == fi->size &&
		    e->chunk_offset == fi->chunk_offset))
			return e;
	}
}

static int
plan_near(struct z4_dedupe *d, int fd)
{
	size_t size = 1024;
	while (size < 2 * d->nframe)
		size *= 2;
	struct near_slot *v = calloc(size, sizeof *v);
	int err = v ? 0 : Z4_E_NOMEM;

	for (uint64_t i = 0; i < d->nframe && !err; i++) {
		const struct frame_info *fi = &d->info[i];
		if (fi->tensor == 0 || fi->size < DEDUPE_MIN ||
		    fi->size > NEAR_MAX || d->ref[i] ||
		    d->dref[i] || (fi->dtype != Z4_DT_BF16 &&
		    fi->dtype != Z4_DT_F16 && fi->dtype != Z4_DT_F32))
			continue;
		struct near_slot *e = near_find(v, size, fi);
		uint64_t best = 0;
		double best_score = NEAR_AGREE;
		for (unsigned t = 0; t < NEAR_TRIES && e->frame[t] && !err;
		    t++) {
			uint64_t j = e->frame[t] - 1, equal = 0, seen = 0;
			err = agreement(fd, fi, &d->info[j], &equal, &seen);
			double score = seen ? (double)equal / (double)seen : 0;
			if (!err && score >= best_score) {
				best_score = score;
				best = j + 1;
			}
		}
		if (best) {
			d->dref[i] = best;
			d->keep[best - 1] = 1;
			continue;
		}
		e->member = fi->member;
		e->dtype = fi->dtype;
		e->size = fi->size;
		e->chunk_offset = fi->chunk_offset;
		memmove(e->frame + 1, e->frame, (NEAR_TRIES - 1) *
		    sizeof *e->frame);
		e->frame[0] = i + 1;
	}
	free(v);
	return err;
}

int
z4_dedupe_new(struct z4_dedupe **dp, int fd, const struct z4_split_opts *o,
    unsigned max_depth)
{
	struct z4_dedupe *d = calloc(1, sizeof *d);
	int err;

	*dp = NULL;
	if (d == NULL)
		return Z4_E_NOMEM;
	if ((err = scan(d, fd, o)) ||
	    (err = plan_members(d, fd, max_depth)) ||
	    (max_depth > 0 && (err = plan_near(d, fd)))) {
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
	free(d->dref);
	free(d->info);
	free(d->keep);
	free(d->table);
	free(d);
}

int
z4_dedupe_mark(const struct z4_dedupe *d, struct z4_frame *f, uint64_t i,
    int fd)
{
	f->key = i;
	f->flags = 0;
	f->dref_internal = 0;
	if (i >= d->nframe || f->raw_size != d->info[i].size)
		return Z4_E_USAGE;	/* the input changed under us */
	if (d->keep[i])
		f->flags |= Z4_FRAME_KEEP;
	if (d->ref[i]) {
		f->kind = Z4_FRAME_REF;
		f->ref_key = d->ref[i] - 1;
		return 0;
	}
	if (d->dref[i]) {
		/* The reference chunk's bytes, read back from the input. */
		const struct frame_info *r = &d->info[d->dref[i] - 1];
		int err = z4_frame_reserve_ref(f, r->size);
		if (err)
			return err;
		if (pread(fd, f->refbuf, r->size, (off_t)r->in_offset) !=
		    (ssize_t)r->size)
			return Z4_E_IO;
		f->ref_size = r->size;
		f->have_ref = 1;
		f->dref_internal = 1;
		f->dref_key = d->dref[i] - 1;
	}
	return 0;
}

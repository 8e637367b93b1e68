/*
 * ref.c - a reference checkpoint for deltas: a safetensors file, or a z4
 * stream of one, asked for ranges of its tensors by name.
 *
 * Nothing is loaded whole.  A safetensors reference is read with pread
 * where its header says each tensor is.  A z4 reference is found through
 * its indexes and decoded a frame at a time: a delta asks for its
 * tensors chunk by chunk, in order, so the frame last decoded usually
 * holds the next range asked for, and at most one frame is kept.
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/*
 * A tensor of the reference.  Its name is kept in the reference's block
 * of names, not in a struct z4_tensor with room for the longest: a
 * reference may list a million tensors.
 */
struct ref_tensor {
	const char *name;	/* once all are listed; until then name_at */
	size_t name_at, name_len;
	unsigned dtype, flags, ndim;
	uint64_t shape[Z4_NDIM_MAX];
	uint64_t begin;		/* safetensors: file offset of the data */
	uint64_t size;
	uint64_t start;		/* z4: the stream's offset in the file */
	uint64_t frame_offset;	/* z4: of its first frame, in that stream */
	uint64_t seq;		/* z4: rank, the highest wins */
};

struct z4_ref {
	int fd;
	int z4;				/* a z4 stream, not safetensors */
	struct ref_tensor *v;		/* sorted by name */
	size_t n, cap;
	struct z4_buf names;		/* the tensors' names, back to back */
	struct z4_in in;		/* z4: decoding */
	struct z4_frame f;
	const struct ref_tensor *cur;	/* the tensor f belongs to */
	uint64_t win;			/* f's offset in that tensor */
	uint64_t next;			/* file offset of the frame after f */
	uint64_t last_start;		/* z4: the stream being listed */
	uint32_t streams, entry;
};

static int
by_name(const void *a, const void *b)
{
	const struct ref_tensor *x = a, *y = b;
	size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
	int c = memcmp(x->name, y->name, n);
	return c ? c : (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

/* Whether tensor t is the reference's tensor e: name, dtype and shape. */
static int
same(const struct z4_tensor *t, const struct ref_tensor *e)
{
	return t->name_len == e->name_len &&
	    memcmp(t->name, e->name, t->name_len) == 0 &&
	    t->dtype == e->dtype && t->flags == e->flags &&
	    t->ndim == e->ndim &&
	    memcmp(t->shape, e->shape, t->ndim * sizeof *t->shape) == 0;
}

/*
 * A new tensor of these fields, its name added to the block of names;
 * NULL when out of memory.
 */
static struct ref_tensor *
add(struct z4_ref *r, const char *name, size_t name_len, unsigned dtype,
    unsigned flags, unsigned ndim, const uint64_t *shape)
{
	size_t at = r->names.len;
	if (z4_array_room(&r->v, &r->cap, r->n, sizeof *r->v) ||
	    z4_buf_add(&r->names, name, name_len))
		return NULL;
	struct ref_tensor *t = memset(&r->v[r->n++], 0, sizeof *r->v);
	t->name_at = at;
	t->name_len = name_len;
	t->dtype = dtype;
	t->flags = flags;
	t->ndim = ndim;
	memcpy(t->shape, shape, ndim * sizeof *shape);
	return t;
}

static int
open_safetensors(struct z4_ref *r, uint64_t size)
{
	uint8_t len[8];
	struct z4_region *reg = NULL;
	size_t k;
	const char *why;

	if (pread(r->fd, len, 8, 0) != 8)
		return Z4_E_REF_FORMAT;
	uint64_t hn = z4_get64(len);
	if (hn < 2 || hn > Z4_SAFETENSORS_HEADER_MAX || hn > size - 8)
		return Z4_E_REF_FORMAT;
	uint8_t *json = malloc(hn);
	if (json == NULL)
		return Z4_E_NOMEM;
	int err = pread(r->fd, json, hn, 8) == (ssize_t)hn ?
	    z4_safetensors_parse(json, hn, &reg, &k, &why) : Z4_E_IO;
	free(json);
	if (err)
		return err == Z4_E_CORRUPT ? Z4_E_REF_FORMAT : err;
	for (size_t i = 0; i < k && !err; i++) {
		struct ref_tensor *t = add(r, reg[i].name, reg[i].name_len,
		    reg[i].dtype, 0, reg[i].ndim, reg[i].shape);
		if (t == NULL) {
			err = Z4_E_NOMEM;
			break;
		}
		t->begin = 8 + hn + reg[i].begin;
		t->size = reg[i].end - reg[i].begin;
		if (reg[i].end > size - 8 - hn)
			r->n--;		/* past the end of the file: not there */
	}
	free(reg);
	return err;
}

static int
entry(void *ctx, uint64_t start, const struct z4_index_entry *e)
{
	struct z4_ref *r = ctx;
	const struct z4_tensor *et = &e->tensor;
	struct ref_tensor *t = add(r, et->name, et->name_len, et->dtype,
	    et->flags, et->ndim, et->shape);
	if (t == NULL)
		return Z4_E_NOMEM;
	t->start = start;
	t->frame_offset = e->frame_offset;
	t->size = e->data_size;
	/*
	 * Streams come last first and the first that has a name wins, so
	 * a later-walked stream ranks higher; within one, an earlier entry.
	 */
	if (r->n == 1 || start != r->last_start)
		r->streams++;
	r->last_start = start;
	t->seq = (uint64_t)r->streams << 32 | (0xffffffffu - r->entry++);
	return 0;
}

/* By name, then the earliest stream (seen last) first. */
static int
by_name_seq(const void *a, const void *b)
{
	const struct ref_tensor *x = a, *y = b;
	int c = by_name(x, y);
	return c ? c : (x->seq < y->seq) - (x->seq > y->seq);
}

/* Keep the first of each run of equal names. */
static void
unique(struct z4_ref *r)
{
	size_t k = 0;
	for (size_t i = 0; i < r->n; i++)
		if (k == 0 || by_name(&r->v[k - 1], &r->v[i]) != 0)
			r->v[k++] = r->v[i];
	r->n = k;
}

int
z4_ref_open(struct z4_ref **rp, int fd)
{
	struct z4_ref *r = calloc(1, sizeof *r);
	struct stat st;
	uint8_t magic[4];
	int err;

	*rp = NULL;
	if (r == NULL)
		return Z4_E_NOMEM;
	r->fd = fd;
	z4_frame_init(&r->f);
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		err = Z4_E_REF_FORMAT;	/* it must be read at will */
	} else if ((err = z4_in_init(&r->in, fd)) == 0) {
		r->in.exact = 1;
		r->z4 = pread(fd, magic, 4, 0) == 4 &&
		    memcmp(magic, z4_stream_magic, 4) == 0;
		err = r->z4 ? z4_stream_entries(&r->in, (uint64_t)st.st_size,
		    entry, r) : open_safetensors(r, (uint64_t)st.st_size);
	}
	if (err) {
		z4_ref_free(r);
		return err;
	}
	/* The names stay put from here on; all of them may be empty. */
	const char *names = r->names.p ? (const char *)r->names.p : "";
	for (size_t i = 0; i < r->n; i++)
		r->v[i].name = names + r->v[i].name_at;
	qsort(r->v, r->n, sizeof *r->v, by_name_seq);
	unique(r);
	*rp = r;
	return 0;
}

void
z4_ref_free(struct z4_ref *r)
{
	if (r == NULL)
		return;
	free(r->v);
	z4_buf_release(&r->names);
	z4_frame_release(&r->f);
	z4_in_release(&r->in);
	free(r);
}

/* The next frame of the current tensor, from the z4 reference. */
static int
next_frame(struct z4_ref *r)
{
	struct z4_frame_head h;
	const struct ref_tensor *t = r->cur;
	int err;

	/* Any of its frames may come first: each builds on its name. */
	z4_name_base_set(&r->in.names, t->name, t->name_len);
	if ((err = z4_in_seek(&r->in, r->next)) ||
	    (err = z4_frame_read_resolved(&r->in, t->start, &r->f, &h)))
		return err;
	if ((r->f.kind != Z4_FRAME_CHUNK && r->f.kind != Z4_FRAME_REF) ||
	    !same(&r->f.tensor, t) ||
	    r->f.chunk_offset > t->size)
		return Z4_E_INDEX;
	r->win = r->f.chunk_offset;
	r->next = r->in.offset;
	return 0;
}

/* Copy [off, off + n) of tensor t, decoding frames as needed. */
static int
read_z4(struct z4_ref *r, const struct ref_tensor *t, uint64_t off,
    size_t n, uint8_t *dst)
{
	int err;

	if (r->cur != t || off < r->win) {
		r->cur = t;
		r->next = t->start + t->frame_offset;
		r->f.raw_size = 0;
		r->win = 0;
		if ((err = next_frame(r)))
			return err;
	}
	while (n > 0) {
		uint64_t end = r->win + r->f.raw_size;
		if (off >= end) {
			if (end >= t->size)
				return Z4_E_INDEX;
			if ((err = next_frame(r)))
				return err;
			continue;
		}
		size_t k = (size_t)(end - off) < n ? (size_t)(end - off) : n;
		memcpy(dst, r->f.raw + (off - r->win), k);
		dst += k;
		off += k;
		n -= k;
	}
	return 0;
}

int
z4_ref_read(struct z4_ref *r, const struct z4_tensor *t, uint64_t off,
    size_t n, uint8_t *dst)
{
	const struct ref_tensor key = { .name = t->name,
	    .name_len = t->name_len };
	const struct ref_tensor *e = bsearch(&key, r->v, r->n, sizeof *r->v,
	    by_name);
	/* The same name, dtype and shape, and the range inside it. */
	if (e == NULL || !same(t, e) || off > e->size || n > e->size - off)
		return 0;
	if (!r->z4) {
		ssize_t got = pread(r->fd, dst, n, (off_t)(e->begin + off));
		return got == (ssize_t)n ? 1 : got < 0 ? Z4_E_IO : 0;
	}
	int err = read_z4(r, e, off, n, dst);
	return err ? err : 1;
}

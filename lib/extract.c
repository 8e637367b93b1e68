/*
 * extract.c - one tensor out of a file of streams.
 *
 * On a seekable file the trailers lead from the end of the file to the
 * start of each stream, each stream's END frame holds its index, and the
 * index gives the tensor's frames: only those bytes are read.  On a pipe
 * the frames are decoded in order until the tensor has gone by.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <xxhash.h>

#include "internal.h"

/* Read the trailer that ends at end; *start gets its stream's offset. */
static int
read_trailer(struct z4_in *in, uint64_t end, uint64_t *start,
    uint64_t *end_at)
{
	uint8_t t[Z4_TRAILER_SIZE];
	int err;

	if (end < Z4_STREAM_HEADER_SIZE + Z4_TRAILER_SIZE)
		return Z4_E_TRAILER;
	if ((err = z4_in_seek(in, end - Z4_TRAILER_SIZE)) ||
	    (err = z4_in_read(in, t, sizeof t)))
		return err;
	if (memcmp(t, z4_trailer_magic, 4) != 0 ||
	    z4_hash64(t, 24) != z4_get64(t + 24))
		return Z4_E_TRAILER;
	if (z4_get32(t + 4) != 0)
		return Z4_E_RESERVED;
	uint64_t size = z4_get64(t + 16);
	*end_at = z4_get64(t + 8);
	if (size > end || size < Z4_STREAM_HEADER_SIZE + Z4_TRAILER_SIZE ||
	    *end_at > size - Z4_TRAILER_SIZE)
		return Z4_E_TRAILER;
	*start = end - size;
	return 0;
}

/* Find name in the index of the stream at start; 1 if found. */
static int
search_index(struct z4_in *in, uint64_t start, uint64_t end_at,
    const char *name, size_t name_len, struct z4_index_entry *e,
    struct z4_frame *f)
{
	struct z4_frame_head h;
	struct z4_cursor c;
	int err;

	if ((err = z4_in_seek(in, start + end_at)) ||
	    (err = z4_frame_read(in, f, &h, 0)))
		return err;
	if (f->kind != Z4_FRAME_END)
		return Z4_E_TRAILER;
	z4_cursor_init(&c, f->raw, f->raw_size);
	for (uint32_t i = 0; i < h.entry_count; i++) {
		if ((err = z4_index_parse(&c, e)))
			return err;
		if (e->tensor.name_len == name_len &&
		    memcmp(e->tensor.name, name, name_len) == 0)
			return 1;
	}
	return c.pos == c.len ? 0 : Z4_E_INDEX;
}

/*
 * The bytes of a REF frame: the frame it repeats, read where it is, then
 * back to where the REF left off.
 */
static int
resolve(struct z4_in *in, uint64_t start, const struct z4_frame_head *h,
    struct z4_frame *f)
{
	struct z4_frame t;
	struct z4_frame_head th;
	uint64_t back = in->offset;
	int err;

	z4_frame_init(&t);
	if (start + h->ref_target >= back - f->coded_bytes)
		err = Z4_E_REF;
	else if (!(err = z4_in_seek(in, start + h->ref_target)) &&
	    !(err = z4_frame_read(in, &t, &th, 0))) {
		if ((t.kind != Z4_FRAME_GLUE && t.kind != Z4_FRAME_CHUNK) ||
		    !(t.flags & Z4_FRAME_KEEP) || t.raw_size != f->raw_size)
			err = Z4_E_REF;
		else if (z4_hash64(t.raw, t.raw_size) != h->raw_checksum)
			err = Z4_E_CHECKSUM;
		else
			memcpy(f->raw, t.raw, t.raw_size);
	}
	z4_frame_release(&t);
	return err ? err : z4_in_seek(in, back);
}

int
z4_frame_read_resolved(struct z4_in *in, uint64_t start, struct z4_frame *f,
    struct z4_frame_head *h)
{
	int err = z4_frame_read(in, f, h, 0);
	if (!err && f->kind == Z4_FRAME_REF)
		err = resolve(in, start, h, f);
	return err;
}

/* Decode the frames of entry e, from the stream at start, onto out. */
static int
copy_tensor(struct z4_in *in, uint64_t start, const struct z4_index_entry *e,
    struct z4_frame *f, struct z4_out *out)
{
	struct z4_frame_head h;
	XXH3_state_t *st = XXH3_createState();
	uint64_t done = 0;
	int err;

	if (st == NULL)
		return Z4_E_NOMEM;
	XXH3_128bits_reset(st);
	err = z4_in_seek(in, start + e->frame_offset);
	while (!err && (done < e->data_size || done == 0)) {
		if ((err = z4_frame_read_resolved(in, start, f, &h)))
			break;
		if ((f->kind != Z4_FRAME_CHUNK && f->kind != Z4_FRAME_REF) ||
		    f->chunk_offset != done ||
		    !z4_tensor_same(&f->tensor, &e->tensor) ||
		    f->raw_size > e->data_size - done) {
			err = Z4_E_INDEX;
			break;
		}
		XXH3_128bits_update(st, f->raw, f->raw_size);
		err = z4_out_write(out, f->raw, f->raw_size);
		done += f->raw_size;
		if (e->data_size == 0)
			break;
	}
	if (!err) {
		XXH128_canonical_t c;
		XXH128_canonicalFromHash(&c, XXH3_128bits_digest(st));
		if (memcmp(c.digest, e->hash, sizeof c.digest) != 0)
			err = Z4_E_CHECKSUM;
	}
	XXH3_freeState(st);
	return err;
}

int
z4_extract_tensor(struct z4_in *in, const char *name, size_t name_len,
    struct z4_out *out, char *where, size_t where_size)
{
	struct z4_frame f;
	struct z4_index_entry e, found;
	uint64_t end, start, end_at, found_start = 0;
	struct stat st;
	int err = 0, have = 0;

	if (fstat(in->fd, &st) != 0 || !S_ISREG(st.st_mode))
		return Z4_E_USAGE;
	z4_frame_init(&f);
	in->exact = 1;
	/* Walk back through every stream: the first one that has it wins. */
	for (end = (uint64_t)st.st_size; end > 0; end = start) {
		snprintf(where, where_size, "trailer at offset %llu",
		    (unsigned long long)(end >= Z4_TRAILER_SIZE ?
		    end - Z4_TRAILER_SIZE : 0));
		if ((err = read_trailer(in, end, &start, &end_at)))
			goto out;
		snprintf(where, where_size, "index at offset %llu",
		    (unsigned long long)(start + end_at));
		err = search_index(in, start, end_at, name, name_len, &e, &f);
		if (err < 0)
			goto out;
		if (err == 1) {
			found = e;
			found_start = start;
			have = 1;
		}
		err = 0;
	}
	if (!have) {
		snprintf(where, where_size, "tensor '%s'", name);
		err = Z4_E_NOT_FOUND;
		goto out;
	}
	snprintf(where, where_size, "tensor '%s'", found.tensor.name);
	err = copy_tensor(in, found_start, &found, &f, out);
out:
	z4_frame_release(&f);
	return err;
}

int
z4_stream_entries(struct z4_in *in, uint64_t size,
    int (*fn)(void *ctx, uint64_t start, const struct z4_index_entry *e),
    void *ctx)
{
	struct z4_frame f;
	struct z4_frame_head h;
	struct z4_index_entry e;
	uint64_t start, end_at;
	int err = 0;

	z4_frame_init(&f);
	for (uint64_t end = size; end > 0 && !err; end = start) {
		if ((err = read_trailer(in, end, &start, &end_at)) ||
		    (err = z4_in_seek(in, start + end_at)) ||
		    (err = z4_frame_read(in, &f, &h, 0)))
			break;
		if (f.kind != Z4_FRAME_END) {
			err = Z4_E_TRAILER;
			break;
		}
		struct z4_cursor c;
		z4_cursor_init(&c, f.raw, f.raw_size);
		for (uint32_t i = 0; i < h.entry_count && !err; i++)
			if (!(err = z4_index_parse(&c, &e)))
				err = fn(ctx, start, &e);
		if (!err && c.pos != c.len)
			err = Z4_E_INDEX;
	}
	z4_frame_release(&f);
	return err;
}

int
z4_scan_tensor(struct z4_reader *r, const char *name, size_t name_len,
    struct z4_out *out)
{
	struct z4_frame f;
	int ret, state = 0;	/* 0 before, 1 inside, 2 done */

	z4_frame_init(&f);
	while ((ret = z4_reader_next(r, &f)) > 0) {
		int match = ret == 1 &&
		    (f.kind == Z4_FRAME_CHUNK || f.kind == Z4_FRAME_REF) &&
		    f.tensor.name_len == name_len &&
		    memcmp(f.tensor.name, name, name_len) == 0;
		if (state == 1 && !(match && f.chunk_offset != 0))
			state = 2;
		if (state == 0 && match && f.chunk_offset == 0)
			state = 1;
		if (state == 1 && (ret = z4_out_write(out, f.raw,
		    f.raw_size)) < 0)
			break;
	}
	z4_frame_release(&f);
	if (ret < 0)
		return ret;
	return state ? 0 : Z4_E_NOT_FOUND;
}

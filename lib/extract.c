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
	uint64_t size;
	if ((err = z4_trailer_parse(t, end_at, &size)))
		return err;
	if (size > end || size < Z4_STREAM_HEADER_SIZE + Z4_TRAILER_SIZE ||
	    *end_at > size - Z4_TRAILER_SIZE)
		return Z4_E_TRAILER;
	*start = end - size;
	return 0;
}

void
z4_in_minor_take(struct z4_in *in, uint64_t start, const uint8_t *h)
{
	in->minor = h[5];
	in->minor_start = start;
	in->minor_known = 1;
}

int
z4_in_stream_minor(struct z4_in *in, uint64_t start)
{
	uint8_t h[Z4_STREAM_HEADER_SIZE];
	uint64_t back = in->offset;
	int err;

	if (in->minor_known && in->minor_start == start)
		return 0;
	if ((err = z4_in_seek(in, start)) ||
	    (err = z4_in_read(in, h, sizeof h)) ||
	    (err = z4_stream_header_parse(h)) ||
	    (err = z4_in_seek(in, back)))
		return err;
	z4_in_minor_take(in, start, h);
	return 0;
}

static int
named(const struct z4_index_entry *e, unsigned kind, const char *name)
{
	return e->kind == kind && strlen(name) == e->tensor.name_len &&
	    memcmp(e->tensor.name, name, e->tensor.name_len) == 0;
}

/*
 * Find in the index of the stream at start the member called member, or
 * the tensor called name (inside that member when both are given);
 * 1 if found.
 */
static int
search_index(struct z4_in *in, uint64_t start, uint64_t end_at,
    const char *member, const char *name, struct z4_index_entry *e,
    struct z4_frame *f, int *member_seen)
{
	struct z4_frame_head h;
	struct z4_index_entry m;
	struct z4_cursor c;
	int err, have_member = 0;

	if ((err = z4_in_stream_minor(in, start)) ||
	    (err = z4_in_seek(in, start + end_at)) ||
	    (err = z4_frame_read(in, f, &h, 0)))
		return err;
	if (f->kind != Z4_FRAME_END)
		return Z4_E_TRAILER;
	/* Members are listed after their tensors: the member first. */
	for (int pass = member ? 0 : 1; pass < 2; pass++) {
		struct z4_index_ends ends;
		z4_index_ends_init(&ends, in->minor);
		z4_cursor_init(&c, f->raw, f->raw_size);
		for (uint32_t i = 0; i < h.entry_count; i++) {
			if ((err = z4_index_parse(&c, &ends, e)))
				return err;
			if (pass == 0 && named(e, 2, member)) {
				m = *e;
				have_member = *member_seen = 1;
				break;
			}
			if (pass == 1 && named(e, 1, name) && (!member ||
			    (e->data_offset >= m.data_offset &&
			    e->data_offset - m.data_offset < m.data_size)))
				return 1;
		}
		if (pass == 0 && !have_member)
			return 0;
		if (pass == 0 && name == NULL) {
			*e = m;
			return 1;
		}
	}
	return 0;
}

/*
 * Earlier frames of a stream on a seekable input, read where they are:
 * what a REF repeats and what a delta is made against.  A frame read for
 * this may itself need an earlier one; the depth is limited, so a
 * hostile chain cannot run the stack out.
 */
#define SEEK_DEPTH_MAX 64

struct seek_source {
	struct z4_frame_source s;
	struct z4_in *in;
	uint64_t start;
	unsigned depth;
};

static int read_at(struct seek_source *ss, uint64_t offset, uint8_t *dst,
    size_t n, uint64_t checksum, int check);

static int
seek_get(void *ctx, uint64_t offset, uint8_t *dst, size_t n)
{
	int err = read_at(ctx, offset, dst, n, 0, 0);
	return err == Z4_E_REF ? 0 : err ? err : 1;
}

static int
read_framed(struct seek_source *ss, struct z4_frame *f,
    struct z4_frame_head *h)
{
	struct seek_source inner = *ss;
	inner.s.get = seek_get;
	inner.s.ctx = &inner;
	inner.depth = ss->depth + 1;
	if (inner.depth > SEEK_DEPTH_MAX)
		return Z4_E_LIMIT;
	f->source = &inner.s;
	int err = z4_frame_read(ss->in, f, h, 0);
	if (!err && f->kind == Z4_FRAME_REF) {
		uint64_t back = ss->in->offset;
		if (ss->start + h->ref_target >= back - f->coded_bytes)
			err = Z4_E_REF;
		else
			err = read_at(&inner, h->ref_target, f->raw,
			    f->raw_size, h->raw_checksum, 1);
	}
	/* The frames read on the way had names of their own. */
	if (!err && (f->kind == Z4_FRAME_CHUNK || f->kind == Z4_FRAME_REF))
		z4_name_base_set(&ss->in->names, f->tensor.name,
		    f->tensor.name_len);
	f->source = NULL;
	return err;
}

/*
 * The n bytes of the KEEP frame at offset of the stream, then back to
 * where the input was.  With check, they must match checksum.
 */
static int
read_at(struct seek_source *ss, uint64_t offset, uint8_t *dst, size_t n,
    uint64_t checksum, int check)
{
	struct z4_frame t;
	struct z4_frame_head th;
	uint64_t back = ss->in->offset;
	int err;

	z4_frame_init(&t);
	/* Only its bytes count: the name it builds on is not at hand. */
	ss->in->names.unknown = 1;
	if (ss->start + offset >= back)
		err = Z4_E_REF;
	else if (!(err = z4_in_seek(ss->in, ss->start + offset)) &&
	    !(err = read_framed(ss, &t, &th))) {
		if (t.kind == Z4_FRAME_MEMBER || !(t.flags & Z4_FRAME_KEEP) ||
		    t.raw_size != n)
			err = Z4_E_REF;
		else if (check && z4_hash64(t.raw, t.raw_size) != checksum)
			err = Z4_E_CHECKSUM;
		else
			memcpy(dst, t.raw, n);
	}
	z4_frame_release(&t);
	int serr = z4_in_seek(ss->in, back);
	return err ? err : serr;
}

int
z4_frame_read_resolved(struct z4_in *in, uint64_t start, struct z4_frame *f,
    struct z4_frame_head *h)
{
	struct seek_source ss = { .in = in, .start = start, .depth = 0 };
	int err = z4_in_stream_minor(in, start);
	return err ? err : read_framed(&ss, f, h);
}

/*
 * Decode the frames of entry e, from the stream at start, onto out.  Each
 * frame's checksums are checked as it is read, and that it is the
 * entry's: a tensor's chunks in order, or a member's bytes to the end.
 */
static int
copy_tensor(struct z4_in *in, uint64_t start, const struct z4_index_entry *e,
    struct z4_frame *f, struct z4_out *out)
{
	struct z4_frame_head h;
	uint64_t done = 0;
	int err = z4_in_seek(in, start + e->frame_offset), first = 1;

	/* The first frame's name is coded against the one before it. */
	z4_name_base_set(&in->names, e->tensor.name, e->tensor.name_len);

	while (!err && (done < e->data_size || first)) {
		if ((err = z4_frame_read_resolved(in, start, f, &h)))
			break;
		int member = f->kind == Z4_FRAME_MEMBER;
		/* A member starts with its MEMBER frame; a tensor's chunks. */
		int bad = f->raw_size > e->data_size - done;
		if (e->kind == 2)
			bad |= first != member || (member &&
			    !z4_tensor_same(&f->tensor, &e->tensor));
		else
			bad |= (f->kind != Z4_FRAME_CHUNK &&
			    f->kind != Z4_FRAME_REF) ||
			    f->chunk_offset != done ||
			    !z4_tensor_same(&f->tensor, &e->tensor);
		if (bad) {
			err = Z4_E_INDEX;
			break;
		}
		err = z4_out_write(out, f->raw, f->raw_size);
		done += f->raw_size;
		first = 0;
	}
	return err;
}

static void
what(char *where, size_t size, const char *member, const char *name)
{
	if (member && name)
		snprintf(where, size, "member '%s', tensor '%s'", member, name);
	else if (member)
		snprintf(where, size, "member '%s'", member);
	else
		snprintf(where, size, "tensor '%s'", name);
}

int
z4_extract(struct z4_in *in, const char *member, const char *name,
    struct z4_out *out, char *where, size_t where_size)
{
	struct z4_frame f;
	struct z4_index_entry e, found;
	uint64_t end, start, end_at, found_start = 0;
	struct stat st;
	int err = 0, have = 0, member_seen = 0;

	if ((member == NULL && name == NULL) || fstat(in->fd, &st) != 0 ||
	    !S_ISREG(st.st_mode))
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
		err = search_index(in, start, end_at, member, name, &e, &f,
		    &member_seen);
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
		what(where, where_size, member, name);
		err = member && !member_seen ? Z4_E_NO_MEMBER : Z4_E_NOT_FOUND;
		goto out;
	}
	what(where, where_size, member, name);
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
		    (err = z4_in_stream_minor(in, start)) ||
		    (err = z4_in_seek(in, start + end_at)) ||
		    (err = z4_frame_read(in, &f, &h, 0)))
			break;
		if (f.kind != Z4_FRAME_END) {
			err = Z4_E_TRAILER;
			break;
		}
		struct z4_cursor c;
		struct z4_index_ends ends;
		z4_index_ends_init(&ends, in->minor);
		z4_cursor_init(&c, f.raw, f.raw_size);
		for (uint32_t i = 0; i < h.entry_count && !err; i++)
			if (!(err = z4_index_parse(&c, &ends, &e)))
				err = fn(ctx, start, &e);
		if (!err && c.pos != c.len)
			err = Z4_E_INDEX;
	}
	z4_frame_release(&f);
	return err;
}

int
z4_scan(struct z4_reader *r, const char *member, const char *name,
    struct z4_out *out)
{
	struct z4_frame f;
	uint64_t left = 0;	/* bytes of the wanted member still to come */
	int ret, inside = member == NULL, state = 0;	/* 1 in, 2 done */
	int seen = 0;

	z4_frame_init(&f);
	while ((ret = z4_reader_next(r, &f)) > 0) {
		if (ret != 1)
			continue;
		if (member && f.kind == Z4_FRAME_MEMBER && state == 0 &&
		    strlen(member) == f.tensor.name_len &&
		    memcmp(f.tensor.name, member, f.tensor.name_len) == 0) {
			inside = seen = 1;
			left = f.member_size;
			if (name == NULL)
				state = left ? 1 : 2;	/* an empty one is done */
			if (left == 0)
				inside = 0;
			continue;
		}
		if (!inside || state == 2)
			continue;
		if (name) {
			int match = (f.kind == Z4_FRAME_CHUNK ||
			    f.kind == Z4_FRAME_REF) &&
			    strlen(name) == f.tensor.name_len &&
			    memcmp(f.tensor.name, name, f.tensor.name_len) == 0;
			if (state == 1 && !(match && f.chunk_offset != 0))
				state = 2;
			if (state == 0 && match && f.chunk_offset == 0)
				state = 1;
		}
		if (state == 1 && (ret = z4_out_write(out, f.raw,
		    f.raw_size)) < 0)
			break;
		/* The member's last byte ends it, and what was found in it. */
		if (member) {
			left -= f.raw_size < left ? f.raw_size : left;
			if (left == 0) {
				inside = 0;
				state = state ? 2 : 0;
			}
		}
	}
	z4_frame_release(&f);
	if (ret < 0)
		return ret;
	return state ? 0 : member && !seen ? Z4_E_NO_MEMBER : Z4_E_NOT_FOUND;
}

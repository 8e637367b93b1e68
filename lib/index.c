/*
 * index.c - building and parsing a stream's index of tensors.
 *
 * The writer and the reader feed the same builder with the same frames,
 * so a reader that decoded a whole stream can demand that the stored
 * index equals the one it rebuilt, byte for byte.  Entries carry no hash
 * of the data: a reader at random access checks each frame's checksums
 * and that the frames are the entry's (name, shape, offsets), and a
 * whole-stream reader checks the original's checksum.
 */
#include <stdlib.h>

#include "internal.h"

int
z4_index_init(struct z4_index_builder *b)
{
	memset(b, 0, sizeof *b);
	b->ends.minor = Z4_FORMAT_MINOR;
	return 0;
}

void
z4_index_ends_init(struct z4_index_ends *ends, unsigned minor)
{
	ends->data = ends->frame = 0;
	ends->minor = minor;
	z4_name_base_set(&ends->names, "", 0);
}

void
z4_index_release(struct z4_index_builder *b)
{
	z4_buf_release(&b->out);
}

void
z4_index_reset(struct z4_index_builder *b)
{
	b->out.len = 0;
	b->open = 0;
	b->member_open = 0;
	b->entries = 0;
	b->original_size = 0;
	z4_index_ends_init(&b->ends, b->ends.minor);
}

/* x - from as a zigzag varint: 2d for d >= 0, -2d - 1 for d < 0. */
static uint64_t
zigzag(uint64_t x, uint64_t from)
{
	int negative;
	uint64_t mag;
	z4_diff(x, from, &negative, &mag);
	return negative ? (mag << 1) - 1 : mag << 1;
}

/* from + the difference z codes; 0 if it is outside 0 .. 2^64 - 1. */
static int
unzigzag(uint64_t from, uint64_t z, uint64_t *x)
{
	return z4_undiff(from, z & 1, (z >> 1) + (z & 1), x);
}

static int
append(struct z4_index_builder *b, const struct z4_index_entry *e)
{
	size_t before = b->out.len;
	int err = z4_buf_add8(&b->out, e->kind);
	err = err ? err : z4_tensor_put(&b->out, &e->tensor, &b->ends.names,
	    b->ends.minor);
	err = err ? err : z4_buf_addv(&b->out,
	    zigzag(e->data_offset, b->ends.data));
	err = err ? err : z4_buf_addv(&b->out, e->data_size);
	err = err ? err : z4_buf_addv(&b->out,
	    zigzag(e->frame_offset, b->ends.frame));
	err = err ? err : z4_buf_addv(&b->out, e->frame_size);
	if (!err && b->out.len > Z4_INDEX_MAX) {
		b->out.len = before;
		err = Z4_E_LIMIT;
	}
	b->ends.data = e->data_offset + e->data_size;
	b->ends.frame = e->frame_offset + e->frame_size;
	b->entries++;
	return err;
}

int
z4_index_close(struct z4_index_builder *b)
{
	if (!b->open)
		return 0;
	b->open = 0;
	return append(b, &b->cur);
}

int
z4_index_finish(struct z4_index_builder *b)
{
	int err = z4_index_close(b);
	return err ? err : b->member_open ? Z4_E_CORRUPT : 0;
}

/*
 * A member entry opens at its MEMBER frame and closes when the frames
 * after it have given its size in bytes; no frame may cross its end.
 */
static int
member_add(struct z4_index_builder *b, const struct z4_frame *f,
    uint64_t frame_offset, uint64_t frame_size)
{
	struct z4_index_entry *m = &b->member;

	if (f->kind == Z4_FRAME_MEMBER) {
		if (b->member_open)
			return Z4_E_CORRUPT;
		memset(m, 0, sizeof *m);
		m->kind = 2;
		m->tensor.name_len = f->tensor.name_len;
		memcpy(m->tensor.name, f->tensor.name, f->tensor.name_len + 1);
		m->data_offset = b->original_size;
		m->data_size = f->member_size;
		m->frame_offset = frame_offset;
		m->frame_size = frame_size;
		b->member_open = 1;
	} else if (b->member_open) {
		if (f->raw_size > m->data_offset + m->data_size -
		    b->original_size)
			return Z4_E_CORRUPT;
		m->frame_size = frame_offset + frame_size - m->frame_offset;
	}
	return 0;
}

/* Close the open member once its bytes are all there. */
static int
member_done(struct z4_index_builder *b)
{
	struct z4_index_entry *m = &b->member;
	if (!b->member_open ||
	    b->original_size < m->data_offset + m->data_size)
		return 0;
	/* Its last tensor ends with it: that entry goes first. */
	int err = z4_index_close(b);
	b->member_open = 0;
	return err ? err : append(b, m);
}

int
z4_index_add(struct z4_index_builder *b, const struct z4_frame *f,
    uint64_t frame_offset, uint64_t frame_size)
{
	struct z4_index_entry *e = &b->cur;
	int err;

	if ((err = member_add(b, f, frame_offset, frame_size)))
		return err;
	if (f->kind != Z4_FRAME_CHUNK && f->kind != Z4_FRAME_REF) {
		err = z4_index_close(b);
		b->original_size += f->raw_size;
		return err ? err : member_done(b);
	}
	if (f->chunk_offset == 0) {
		if ((err = z4_index_close(b)))
			return err;
		b->open = 1;
		e->kind = 1;
		e->tensor = f->tensor;
		e->data_offset = b->original_size;
		e->data_size = 0;
		e->frame_offset = frame_offset;
	} else if (!b->open || !z4_tensor_same(&e->tensor, &f->tensor) ||
	    f->chunk_offset != e->data_size) {
		return Z4_E_CORRUPT;
	}
	e->data_size += f->raw_size;
	e->frame_size = frame_offset + frame_size - e->frame_offset;
	b->original_size += f->raw_size;
	return member_done(b);
}

int
z4_index_parse(struct z4_cursor *c, struct z4_index_ends *ends,
    struct z4_index_entry *e)
{
	e->kind = z4_cur8(c);
	if (e->kind != 1 && e->kind != 2)
		return c->ok ? Z4_E_RESERVED : Z4_E_CORRUPT;
	/* The tensor fields are parsed as in a CHUNK frame's meta. */
	int err = z4_tensor_parse(c, &e->tensor, &ends->names, ends->minor);
	if (err)
		return err;
	uint64_t data_delta = z4_curv(c);
	e->data_size = z4_curv(c);
	uint64_t frame_delta = z4_curv(c);
	e->frame_size = z4_curv(c);
	if (!c->ok || !unzigzag(ends->data, data_delta, &e->data_offset) ||
	    !unzigzag(ends->frame, frame_delta, &e->frame_offset) ||
	    e->data_size > UINT64_MAX - e->data_offset ||
	    e->frame_size > UINT64_MAX - e->frame_offset)
		return Z4_E_CORRUPT;
	ends->data = e->data_offset + e->data_size;
	ends->frame = e->frame_offset + e->frame_size;
	return 0;
}

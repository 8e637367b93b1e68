/*
 * writer.c - frames out: the stream header, each frame, then the index,
 * the whole-original checksum and the trailer.
 */
#include <stdlib.h>

#include "hash.h"

#include "internal.h"

const uint8_t z4_stream_magic[4] = { 0x89, 'Z', '4', '\n' };
const uint8_t z4_trailer_magic[4] = { 0x89, 'Z', '4', 'E' };

struct z4_writer {
	struct z4_out *out;
	uint64_t start;			/* out->offset of the Magic */
	struct z4_index_builder index;
	XXH3_state_t *whole;		/* checksum of the original */
	uint32_t frames;
	struct z4_name_base names;	/* the last tensor name written */
	struct z4_frame end;		/* the END frame, built at finish */
	struct kept_at {		/* KEEP frames: key -> stream offset */
		uint64_t key, at;
	} *kept;
	size_t nkept, kept_cap;
};

static int
remember(struct z4_writer *w, uint64_t key, uint64_t at)
{
	if (w->nkept > 0 && key <= w->kept[w->nkept - 1].key)
		return Z4_E_USAGE;	/* keys must increase */
	int err = z4_array_room(&w->kept, &w->kept_cap, w->nkept,
	    sizeof *w->kept);
	if (err)
		return err;
	w->kept[w->nkept++] = (struct kept_at){ key, at };
	return 0;
}

static int
recall(const struct z4_writer *w, uint64_t key, uint64_t *at)
{
	size_t lo = 0, hi = w->nkept;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (w->kept[mid].key < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == w->nkept || w->kept[lo].key != key)
		return Z4_E_USAGE;	/* a REF to a frame not kept */
	*at = w->kept[lo].at;
	return 0;
}

int
z4_trailer_parse(const uint8_t *t, uint64_t *end_at, uint64_t *size)
{
	if (memcmp(t, z4_trailer_magic, 4) != 0 ||
	    z4_hash64(t, 24) != z4_get64(t + 24))
		return Z4_E_TRAILER;
	if (z4_get32(t + 4) != 0)
		return Z4_E_RESERVED;
	*end_at = z4_get64(t + 8);
	*size = z4_get64(t + 16);
	return 0;
}

int
z4_writer_new(struct z4_writer **wp, struct z4_out *out, unsigned source)
{
	struct z4_writer *w = calloc(1, sizeof *w);
	uint8_t h[Z4_STREAM_HEADER_SIZE];
	int err;

	*wp = NULL;
	if (w == NULL)
		return Z4_E_NOMEM;
	w->out = out;
	w->start = out->offset;
	z4_frame_init(&w->end);
	if ((err = z4_index_init(&w->index)) ||
	    (w->whole = XXH3_createState()) == NULL) {
		z4_writer_free(w);
		return err ? err : Z4_E_NOMEM;
	}
	XXH3_64bits_reset(w->whole);
	memcpy(h, z4_stream_magic, 4);
	h[4] = Z4_FORMAT_MAJOR;
	h[5] = Z4_FORMAT_MINOR;
	h[6] = (uint8_t)source;
	h[7] = 0;
	z4_put64(h + 8, z4_hash64(h, 8));
	if ((err = z4_out_write(out, h, sizeof h))) {
		z4_writer_free(w);
		return err;
	}
	*wp = w;
	return 0;
}

void
z4_writer_free(struct z4_writer *w)
{
	if (w == NULL)
		return;
	z4_index_release(&w->index);
	XXH3_freeState(w->whole);
	z4_frame_release(&w->end);
	free(w->kept);
	free(w);
}

int
z4_writer_put(struct z4_writer *w, struct z4_frame *f)
{
	uint64_t at = w->out->offset - w->start;
	struct z4_frame_head h = { 0 };
	int err;

	assert(f->kind == Z4_FRAME_GLUE || f->kind == Z4_FRAME_CHUNK ||
	    f->kind == Z4_FRAME_REF || f->kind == Z4_FRAME_MEMBER);
	if (w->frames == UINT32_MAX)
		return Z4_E_LIMIT;
	if (f->kind == Z4_FRAME_REF && (err = recall(w, f->ref_key,
	    &h.ref_target)))
		return err;
	/* A delta against an earlier frame names it by its offset. */
	if (z4_delta_internal(f)) {
		uint64_t target;
		if ((err = recall(w, f->dref_key, &target)))
			return err;
		z4_put64(f->xform[0].param + 19, target);
	}
	err = z4_frame_write(w->out, f, &h, &w->names);
	f->sums_ready = 0;	/* the frame may be filled again */
	if (err)
		return err;
	if ((f->flags & Z4_FRAME_KEEP) && (err = remember(w, f->key, at)))
		return err;
	w->frames++;
	XXH3_64bits_update(w->whole, f->raw, f->raw_size);
	return z4_index_add(&w->index, f, at, w->out->offset - w->start - at);
}

int
z4_writer_finish(struct z4_writer *w)
{
	struct z4_frame *e = &w->end;
	struct z4_frame_head h = { 0 };
	uint8_t t[Z4_TRAILER_SIZE];
	int err;

	if ((err = z4_index_finish(&w->index)))
		return err;
	uint64_t end_at = w->out->offset - w->start;
	e->kind = Z4_FRAME_END;
	e->raw = w->index.out.p;
	e->raw_size = w->index.out.len;
	struct z4_encode_opts o = { .level = 3 };
	err = z4_frame_encode(e, &o);
	h.original_size = w->index.original_size;
	h.original_checksum = XXH3_64bits_digest(w->whole);
	h.frame_count = w->frames;
	h.entry_count = w->index.entries;
	err = err ? err : z4_frame_write(w->out, e, &h, &w->names);
	e->raw = NULL;	/* borrowed from the index builder */
	if (err)
		return err;
	memcpy(t, z4_trailer_magic, 4);
	z4_put32(t + 4, 0);
	z4_put64(t + 8, end_at);
	z4_put64(t + 16, w->out->offset + Z4_TRAILER_SIZE - w->start);
	z4_put64(t + 24, z4_hash64(t, 24));
	return z4_out_write(w->out, t, sizeof t);
}

/*
 * reader.c - frames in: one or more concatenated streams, each checked
 * from its header to its trailer.
 *
 * Besides each frame's own checksums, the reader rebuilds the index from
 * the frames it decoded and demands that the stored one is the same, and
 * checks the whole original's checksum and the trailer's lengths, so a
 * stream that decodes without error is exactly the stream that was
 * written.
 */
#include <stdio.h>
#include <stdlib.h>

#include "hash.h"

#include "internal.h"

/* A frame read ahead, waiting to be handed out. */
struct pending {
	struct z4_frame *f;
	struct z4_frame_head h;
	uint64_t at;
	unsigned frame_no;
	int err;		/* reading it failed, or 1: the input ended */
	int pooled;		/* queued in the pool, to decode on a thread */
	size_t bytes;		/* its raw size, counted in ahead_bytes */
};

/*
 * Frames read ahead at most, and raw bytes a thread is given at most, up
 * to 8 threads' worth: past that, handing the frames out in order (the
 * whole-stream checksum, the writing) is what takes the time, and memory
 * would grow with the core count for nothing.
 */
#define AHEAD_MAX 64
#define AHEAD_BYTES (8u << 20)
#define AHEAD_THREADS 8

struct z4_reader {
	struct z4_in *in;
	unsigned flags;
	unsigned threads;
	struct z4_pool *pool;
	struct pending ahead[AHEAD_MAX];	/* a ring */
	unsigned head, nahead;
	size_t ahead_bytes;
	int ahead_stop;		/* the last frame read must go out first */
	struct z4_frame *spare[AHEAD_MAX + 1];
	unsigned nspare;
	int in_stream;
	int err;			/* sticky: the first failure */
	uint64_t start;			/* in->offset of this stream's Magic */
	unsigned stream_no, frame_no;
	unsigned read_no;		/* frame_no of the last frame read */
	unsigned source;
	struct z4_index_builder index;
	struct z4_keep *keep;
	XXH3_state_t *whole;
	struct z4_stream_stats stats;
	struct z4_frame_source kept;	/* kept frames, for deltas */
	uint64_t at;			/* offset of the frame being read */
	char where[Z4_NAME_MAX + 256];
	char read_where[Z4_NAME_MAX + 256];	/* of a read ahead that failed */
	int in_frame;			/* the failure was in a frame */
	char note[256];
	char member[Z4_NAME_MAX + 1];	/* the archive member being read */
	uint64_t member_left;		/* its bytes still to come */
};

/* An earlier frame's bytes, for a delta: kept, since it was marked. */
static int
kept(void *ctx, uint64_t offset, uint8_t *dst, size_t n)
{
	struct z4_reader *r = ctx;
	if (offset >= r->at)
		return 0;
	int err = z4_keep_get(r->keep, offset, dst, n);
	return err == Z4_E_CORRUPT ? 0 : err ? err : 1;
}

int
z4_reader_new(struct z4_reader **rp, struct z4_in *in, unsigned flags)
{
	struct z4_reader *r = calloc(1, sizeof *r);
	int err;

	*rp = NULL;
	if (r == NULL)
		return Z4_E_NOMEM;
	r->in = in;
	r->flags = flags;
	r->kept.get = kept;
	r->kept.ctx = r;
	if ((err = z4_index_init(&r->index)) ||
	    (err = z4_keep_new(&r->keep)) ||
	    (r->whole = XXH3_createState()) == NULL) {
		z4_reader_free(r);
		return err ? err : Z4_E_NOMEM;
	}
	*rp = r;
	return 0;
}

void
z4_reader_free(struct z4_reader *r)
{
	if (r == NULL)
		return;
	/* The pool first: its threads may still be decoding frames here. */
	z4_pool_free(r->pool);
	for (unsigned i = 0; i < AHEAD_MAX; i++)
		if (r->ahead[i].f != NULL) {
			z4_frame_release(r->ahead[i].f);
			free(r->ahead[i].f);
		}
	for (unsigned i = 0; i < r->nspare; i++) {
		z4_frame_release(r->spare[i]);
		free(r->spare[i]);
	}
	z4_index_release(&r->index);
	z4_keep_free(r->keep);
	XXH3_freeState(r->whole);
	free(r);
}

void
z4_reader_threads(struct z4_reader *r, unsigned n)
{
	r->threads = n > Z4_THREADS_MAX ? Z4_THREADS_MAX : n;
}

const char *
z4_reader_where(const struct z4_reader *r)
{
	return r->where;
}

const char *
z4_reader_note(const struct z4_reader *r)
{
	return r->note;
}

void
z4_reader_stats(const struct z4_reader *r, struct z4_stream_stats *st)
{
	*st = r->stats;
	st->source = r->source;
}

/* Name the place being read; later streams of a file say which. */
static void
where(struct z4_reader *r, const char *what, const struct z4_frame *f)
{
	char pre[160] = "";
	size_t n = 0;
	if (r->stream_no > 1)
		n += (size_t)snprintf(pre, sizeof pre, "stream %u, ",
		    r->stream_no);
	if (r->member_left > 0 && what == NULL)
		snprintf(pre + n, sizeof pre - n, "member '%.100s', ",
		    r->member);
	if (what != NULL)
		snprintf(r->where, sizeof r->where, "%s%s", pre, what);
	else if (f != NULL && (f->kind == Z4_FRAME_CHUNK ||
	    f->kind == Z4_FRAME_REF))
		snprintf(r->where, sizeof r->where, "%sframe %u (tensor '%s')",
		    pre, r->frame_no, f->tensor.name);
	else
		snprintf(r->where, sizeof r->where, "%sframe %u", pre,
		    r->frame_no);
}

int
z4_stream_header_parse(const uint8_t *h)
{
	if (memcmp(h, z4_stream_magic, 4) != 0)
		return Z4_E_MAGIC;
	if (z4_hash64(h, 8) != z4_get64(h + 8))
		return Z4_E_HEADER_CHECKSUM;
	if (h[4] != Z4_FORMAT_MAJOR || h[5] < Z4_FORMAT_MINOR_MIN ||
	    h[5] > Z4_FORMAT_MINOR)
		return Z4_E_VERSION;
	if (h[6] > Z4_SRC_TAR || h[7] != 0)
		return Z4_E_RESERVED;
	return 0;
}

static int
stream_header(struct z4_reader *r)
{
	uint8_t h[Z4_STREAM_HEADER_SIZE];
	int err;

	r->start = r->in->offset;
	r->stream_no++;
	r->frame_no = r->read_no = 0;
	where(r, "stream header", NULL);
	if ((err = z4_in_read(r->in, h, sizeof h)))
		return err == Z4_E_TRUNCATED && memcmp(h, z4_stream_magic,
		    4) != 0 ? Z4_E_MAGIC : err;
	if ((err = z4_stream_header_parse(h)))
		return err;
	r->source = h[6];
	z4_in_minor_take(r->in, r->start, h);
	z4_name_base_set(&r->in->names, "", 0);
	r->in_stream = 1;
	r->stats.streams++;
	/* The index it rebuilds is laid out as the stream's version says. */
	r->index.ends.minor = h[5];
	z4_index_reset(&r->index);
	z4_keep_reset(r->keep);
	XXH3_64bits_reset(r->whole);
	return 0;
}

/* The END frame's totals and index against what the frames were. */
static int
check_end(struct z4_reader *r, const struct z4_frame *f,
    const struct z4_frame_head *h)
{
	int err;

	if (r->flags & Z4_READ_NODECODE)
		return 0;
	if ((err = z4_index_finish(&r->index)))
		return err;
	if (h->original_size != r->index.original_size ||
	    h->frame_count != r->frame_no - 1 ||
	    h->entry_count != r->index.entries ||
	    f->raw_size != r->index.out.len ||
	    (f->raw_size && memcmp(f->raw, r->index.out.p, f->raw_size)))
		return Z4_E_INDEX;
	if (h->original_checksum != XXH3_64bits_digest(r->whole)) {
		where(r, "end frame (checksum of the whole original)", NULL);
		return Z4_E_CHECKSUM;
	}
	return 0;
}

static int
trailer(struct z4_reader *r, uint64_t end_at)
{
	uint8_t t[Z4_TRAILER_SIZE];
	int err;

	where(r, "trailer", NULL);
	if ((err = z4_in_read(r->in, t, sizeof t)))
		return err;
	uint64_t at, size;
	if ((err = z4_trailer_parse(t, &at, &size)))
		return err;
	/* It must say where this stream's END frame was and how long it is. */
	return at == end_at && size == r->in->offset - r->start ? 0 :
	    Z4_E_TRAILER;
}

/*
 * A REF frame gets the bytes of the frame it repeats; a KEEP frame's
 * bytes are kept for the REF frames to come.
 */
static int
repeat(struct z4_reader *r, struct z4_frame *f, const struct z4_frame_head *h,
    uint64_t at)
{
	int err;

	if (f->kind == Z4_FRAME_REF) {
		if (h->ref_target >= at ||
		    (err = z4_keep_get(r->keep, h->ref_target, f->raw,
		    f->raw_size)) == Z4_E_CORRUPT)
			return Z4_E_REF;
		if (err)
			return err;
		if (z4_hash64(f->raw, f->raw_size) != h->raw_checksum)
			return Z4_E_CHECKSUM;
	}
	if (f->flags & Z4_FRAME_KEEP)
		return z4_keep_add(r->keep, at, f->raw, f->raw_size);
	return 0;
}

/*
 * Read the next frame's head and payload (decoded, unless rflags defers
 * it), opening a stream first if none is.  Returns 0, 1 at the end of the
 * input, or an error with the place named.
 */
static int
read_frame(struct z4_reader *r, struct z4_frame *f, struct z4_frame_head *h,
    uint64_t *at, unsigned rflags)
{
	int err;

	r->in_frame = 0;
	if (!r->in_stream) {
		long n = z4_in_peek(r->in, 1);
		if (n < 0)
			return (int)n;
		if (n == 0 && r->stream_no > 0)
			return 1;
		if (n == 0) {
			where(r, "stream header", NULL);
			return Z4_E_TRUNCATED;
		}
		if ((err = stream_header(r)))
			return err;
	}
	r->frame_no = ++r->read_no;
	f->kind = 0;
	f->tensor.name_len = 0;
	f->tensor.name[0] = '\0';
	where(r, NULL, NULL);
	*at = r->in->offset - r->start;
	r->at = *at;
	f->source = &r->kept;
	r->in_frame = 1;
	err = z4_frame_read(r->in, f, h, rflags);
	where(r, f->kind == Z4_FRAME_END ? "end frame" : NULL, f);
	return err;
}

/* A frame read and decoded: check it against the stream, count it. */
static int
finish_frame(struct z4_reader *r, struct z4_frame *f,
    const struct z4_frame_head *h, uint64_t at)
{
	int err;

	if (f->kind == Z4_FRAME_END) {
		r->stats.index_bytes += f->coded_bytes + Z4_TRAILER_SIZE;
		if ((err = check_end(r, f, h)) || (err = trailer(r, at)))
			return err;
		r->stats.stream_size += r->in->offset - r->start;
		r->in_stream = 0;
		r->member_left = 0;
		return 2;
	}
	f->key = at;
	f->ref_key = h->ref_target;
	/* A delta against an earlier frame: a writer maps its offset too. */
	f->dref_internal = z4_delta_internal(f);
	if (f->dref_internal)
		f->dref_key = z4_get64(f->xform[0].param + 19);
	if (!(r->flags & Z4_READ_NODECODE)) {
		if ((err = repeat(r, f, h, at)))
			return err;
		if ((err = z4_index_add(&r->index, f, at, f->coded_bytes)))
			return err;
		XXH3_64bits_update(r->whole, f->raw, f->raw_size);
	}
	r->stats.original_size += f->raw_size;
	if (f->kind == Z4_FRAME_MEMBER) {
		memcpy(r->member, f->tensor.name, f->tensor.name_len + 1);
		r->member_left = f->member_size;
	} else {
		r->member_left -= f->raw_size < r->member_left ? f->raw_size :
		    r->member_left;
	}
	return 1;
}

static int
next(struct z4_reader *r, struct z4_frame *f)
{
	struct z4_frame_head h;
	uint64_t at = 0;
	int err = read_frame(r, f, &h, &at, r->flags);
	if (err)
		return err == 1 ? 0 : err;
	return finish_frame(r, f, &h, at);
}

/*
 * Whether a frame read with its decoding deferred can be decoded on a
 * thread: a GLUE or CHUNK frame that needs no earlier frame's bytes.  A
 * delta's reference is fetched here, by this thread; if that fails, the
 * frame is decoded in turn and fails then, as it would have.
 */
static int
independent(struct z4_frame *f)
{
	if (!f->deferred || (f->kind != Z4_FRAME_CHUNK &&
	    f->kind != Z4_FRAME_GLUE) || z4_delta_internal(f))
		return 0;
	if (f->nxform > 0 && z4_xform_is_delta(f->xform[0].id))
		return z4_delta_reference(f) == 0;
	return 1;
}

/* A frame to read into: one handed back, or a new one. */
static struct z4_frame *
spare_frame(struct z4_reader *r)
{
	if (r->nspare > 0)
		return r->spare[--r->nspare];
	struct z4_frame *f = malloc(sizeof *f);
	if (f != NULL)
		z4_frame_init(f);
	return f;
}

/*
 * A frame handed back.  The last ones back are used first; past a few a
 * thread, large buffers are let go, so that memory stays a few large
 * frames a thread however the frames are mixed.
 */
static void
spare_put(struct z4_reader *r, struct z4_frame *f)
{
	if (r->nspare > 2 * r->threads + 2 && f->raw_cap > (1u << 20))
		z4_frame_release(f);
	r->spare[r->nspare++] = f;
}

/*
 * Read frames ahead while they are few enough, and queue the independent
 * ones in the pool, which decodes them on its threads while this one
 * hands frames out and reads more.  Reading stops at a frame that must
 * be decoded in turn, or fails, until it has been handed out: handing out
 * (next_ahead) checks each frame against the stream in order, so a frame
 * that uses an earlier one's bytes finds them kept, and nothing of the
 * next stream is read before this one has been checked.
 */
static void
read_ahead(struct z4_reader *r)
{
	size_t budget = (size_t)AHEAD_BYTES * (r->threads < AHEAD_THREADS ?
	    r->threads : AHEAD_THREADS);

	while (!r->ahead_stop && r->nahead < AHEAD_MAX &&
	    r->ahead_bytes < budget) {
		struct pending *p = &r->ahead[(r->head + r->nahead) %
		    AHEAD_MAX];
		if ((p->f = spare_frame(r)) == NULL)
			return;
		p->pooled = 0;
		p->err = read_frame(r, p->f, &p->h, &p->at, Z4_READ_DEFER |
		    (r->flags & Z4_READ_PLANES));
		p->frame_no = r->frame_no;
		r->nahead++;
		if (p->err < 0)
			memcpy(r->read_where, r->where, sizeof r->where);
		if (p->err || !independent(p->f) ||
		    z4_pool_put(r->pool, p->f, NULL)) {
			r->ahead_stop = 1;
			return;
		}
		p->pooled = 1;
		p->bytes = p->f->raw_size;
		r->ahead_bytes += p->bytes;
	}
}

static int
next_ahead(struct z4_reader *r, struct z4_frame *f)
{
	if (r->pool == NULL && z4_pool_new(&r->pool, r->threads))
		return Z4_E_NOMEM;
	read_ahead(r);
	if (r->nahead == 0)
		return Z4_E_NOMEM;	/* not even one frame to read into */
	struct pending *p = &r->ahead[r->head];
	struct z4_frame *g = p->f;
	int derr = 0;
	if (p->pooled) {
		/*
		 * Small frames decode in less time than a thread takes to
		 * wake: with the queue full, one wait for half of it.
		 */
		if (r->nahead == AHEAD_MAX)
			z4_pool_wait(r->pool, AHEAD_MAX / 2);
		derr = z4_pool_take(r->pool, &g);
		r->ahead_bytes -= p->bytes;
	}
	p->f = NULL;
	r->head = (r->head + 1) % AHEAD_MAX;
	if (--r->nahead == 0)
		r->ahead_stop = 0;
	r->frame_no = p->frame_no;
	r->at = p->at;
	if (p->err) {
		/*
		 * The last frame read ahead.  A stream header names itself;
		 * a frame is named again, now that the frames before it
		 * have been counted against the archive member they are in.
		 */
		if (p->err < 0 && r->in_frame)
			where(r, g->kind == Z4_FRAME_END ? "end frame" :
			    NULL, g);
		else if (p->err < 0)
			memcpy(r->where, r->read_where, sizeof r->where);
		memcpy(f->note, g->note, sizeof f->note);
		spare_put(r, g);
		return p->err == 1 ? 0 : p->err;
	}
	if (derr == 0)
		derr = z4_frame_decode_deferred(g);
	where(r, g->kind == Z4_FRAME_END ? "end frame" : NULL, g);
	if (derr) {
		memcpy(f->note, g->note, sizeof f->note);
		spare_put(r, g);
		return derr;
	}
	/* The caller's frame changes places with the one read ahead. */
	struct z4_frame t = *f;
	*f = *g;
	*g = t;
	spare_put(r, g);
	return finish_frame(r, f, &p->h, p->at);
}

int
z4_reader_next(struct z4_reader *r, struct z4_frame *f)
{
	if (r->err)
		return r->err;
	int ret = r->threads > 0 && !(r->flags & Z4_READ_NODECODE) ?
	    next_ahead(r, f) : next(r, f);
	if (ret < 0) {
		r->err = ret;
		memcpy(r->note, f->note, sizeof r->note);
	}
	return ret;
}

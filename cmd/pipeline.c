/*
 * pipeline.c - the stages every tool is made of, run in one process:
 * split and code (z4split, z4ai compress), re-code (z4plane), decode
 * (z4cat, z4ai decompress and test).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

/*
 * Frames are coded in parallel, through a pool that codes the frames
 * read while the oldest are written, in order.  At most QUEUE_FRAMES
 * frames, or QUEUE_BYTES a thread, wait to be written, so memory stays
 * bounded whatever the input.
 */
#define QUEUE_FRAMES 64
#define QUEUE_BYTES (8u << 20)

struct stages {
	struct z4_in in;
	struct z4_out out;
	struct z4_frame frame;
	struct z4_frame *frames[QUEUE_FRAMES];
	struct z4_frame *idle[QUEUE_FRAMES];	/* of frames, not queued */
	unsigned nframes, nidle;
	struct z4_pool *pool;
	struct z4_split *split;
	struct z4_dedupe *dedupe;
	struct z4_reader *reader;
	struct z4_writer *writer;
	struct progress progress;
};

static int
stages_init(struct stages *s, int in_fd, const char *in_name, int out_fd)
{
	memset(s, 0, sizeof *s);
	z4_frame_init(&s->frame);
	int err = z4_in_init(&s->in, in_fd);
	err = err ? err : z4_out_init(&s->out, out_fd);
	progress_start(&s->progress, in_fd, shown(in_name));
	return err;
}

static void
stages_release(struct stages *s)
{
	progress_end(&s->progress);
	/* The pool first: its threads may still be coding frames here. */
	z4_pool_free(s->pool);
	z4_writer_free(s->writer);
	z4_reader_free(s->reader);
	z4_split_free(s->split);
	z4_dedupe_free(s->dedupe);
	z4_frame_release(&s->frame);
	for (unsigned i = 0; i < s->nframes; i++) {
		z4_frame_release(s->frames[i]);
		free(s->frames[i]);
	}
	z4_out_release(&s->out);
	z4_in_release(&s->in);
}

/* An output error names the output; anything else, the input. */
static int
fail(struct failure *fl, int err, const char *file, const char *where)
{
	fl->file = file;
	fl->note[0] = '\0';
	snprintf(fl->where, sizeof fl->where, "%s", where ? where : "");
	return err;
}

/* A reader's failure: where it was, and what the frame said of it. */
static int
fail_read(struct failure *fl, int err, const char *file, struct stages *s)
{
	fail(fl, err, file, z4_reader_where(s->reader));
	snprintf(fl->note, sizeof fl->note, "%s", z4_reader_note(s->reader));
	return err;
}

/* The reference's bytes for a chunk, if it has them, for the selector. */
static int
fetch_ref(struct z4_ref *ref, struct z4_frame *f)
{
	f->have_ref = 0;
	if (ref == NULL || f->kind != Z4_FRAME_CHUNK)
		return 0;
	if (f->ref_cap < f->raw_size) {
		uint8_t *p = realloc(f->refbuf, f->raw_size);
		if (p == NULL)
			return Z4_E_NOMEM;
		f->refbuf = p;
		f->ref_cap = f->raw_size;
	}
	int ret = z4_ref_read(ref, &f->tensor, f->chunk_offset, f->raw_size,
	    f->refbuf);
	f->have_ref = ret == 1;
	f->ref_size = f->raw_size;
	return ret < 0 ? ret : 0;
}

/* A frame for the pool to code: one written already, or a new one. */
static struct z4_frame *
idle_frame(struct stages *s)
{
	if (s->nidle > 0)
		return s->idle[--s->nidle];
	if (s->nframes == QUEUE_FRAMES)
		return NULL;
	struct z4_frame *f = malloc(sizeof *f);
	if (f != NULL) {
		z4_frame_init(f);
		s->frames[s->nframes++] = f;
	}
	return f;
}

/*
 * A frame written.  The last ones back are used first; past a few a
 * thread, their large buffers are let go, so that memory stays a few
 * large frames a thread however the frames are mixed.
 */
static void
idle_put(struct stages *s, struct z4_frame *f, unsigned threads)
{
	if (s->nidle > 2 * threads + 2 && f->raw_cap > (1u << 20))
		z4_frame_release(f);
	s->idle[s->nidle++] = f;
}

/* Queue frame f in the pool, to be coded with o. */
static int
queue_frame(struct stages *s, struct z4_frame *f,
    const struct z4_encode_opts *o, unsigned *n, size_t *bytes,
    struct failure *fl, const char *in_name)
{
	int err = z4_pool_put(s->pool, f, o);
	if (err)
		return fail(fl, err, in_name, "encode");
	(*n)++;
	*bytes += f->raw_size;
	return 0;
}

/*
 * Write the frames the pool has coded, oldest first, while too many wait
 * (a queue's worth a thread), or all of them.
 */
static int
write_done(struct stages *s, unsigned *n, size_t *bytes, int all,
    unsigned threads, struct failure *fl, const char *in_name,
    const char *out_name)
{
	/*
	 * A full queue of small frames is taken by halves: one wait for
	 * each half, where waiting for each frame would switch threads as
	 * often as there are frames.
	 */
	unsigned keep = *n;
	if (!all && *n == QUEUE_FRAMES) {
		keep = QUEUE_FRAMES / 2;
		z4_pool_wait(s->pool, QUEUE_FRAMES - keep);
	}
	while (*n > 0 && (all || *n > keep ||
	    *bytes >= QUEUE_BYTES * threads)) {
		struct z4_frame *f;
		int err = z4_pool_take(s->pool, &f);
		(*n)--;
		*bytes -= f->raw_size;
		if (err)
			return fail(fl, err, in_name, "encode");
		if ((err = z4_writer_put(s->writer, f)))
			return fail(fl, err, out_name, "write");
		idle_put(s, f, threads);
		progress_show(&s->progress, s->in.offset);
	}
	return 0;
}

int
run_compress(int in_fd, const char *in_name, int out_fd,
    const char *out_name, const struct compress_opts *o,
    struct failure *fl)
{
	struct z4_split_opts so = {
		.chunk_size = o->chunk_size, .raw_dtype = o->raw_dtype,
	};
	struct z4_encode_opts eo = { .level = o->level };
	struct stages s;
	struct z4_frame *f;
	struct stat st;
	uint64_t frames = 0;
	unsigned n = 0;
	size_t bytes = 0;
	int err, ret;

	if ((err = stages_init(&s, in_fd, in_name, out_fd)))
		goto out;
	/* Repeated chunks are found first, where the input can be reread. */
	if (fstat(in_fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    lseek(in_fd, 0, SEEK_CUR) == 0 &&
	    (err = z4_dedupe_new(&s.dedupe, in_fd, &so, o->max_depth))) {
		fail(fl, err, in_name, "read");
		goto out;
	}
	if ((err = z4_split_new(&s.split, &s.in, &so))) {
		fail(fl, err, in_name, NULL);
		goto out;
	}
	if (z4_split_note(s.split) && verbosity >= 2)
		warnx("'%s': not safetensors (%s): kept as opaque bytes",
		    shown(in_name), z4_split_note(s.split));
	if ((err = z4_writer_new(&s.writer, &s.out,
	    z4_split_source(s.split)))) {
		fail(fl, err, out_name, "write");
		goto out;
	}
	/* The pool's threads code while this one reads and writes. */
	if ((err = z4_pool_new(&s.pool, o->threads))) {
		fail(fl, err, in_name, NULL);
		goto out;
	}
	for (;;) {
		if ((f = idle_frame(&s)) == NULL) {
			err = fail(fl, Z4_E_NOMEM, in_name, NULL);
			goto out;
		}
		if ((ret = z4_split_next(s.split, f)) < 0) {
			err = fail(fl, ret, in_name, "read");
			goto out;
		}
		if (ret > 0) {
			f->key = frames;
			f->have_ref = 0;
			if (s.dedupe && (err = z4_dedupe_mark(s.dedupe, f,
			    frames, in_fd))) {
				fail(fl, err, in_name, "read");
				goto out;
			}
			if (!f->have_ref && (err = fetch_ref(o->ref, f))) {
				fail(fl, err, "reference", "read");
				goto out;
			}
			frames++;
			if ((err = queue_frame(&s, f, &eo, &n, &bytes, fl,
			    in_name)))
				goto out;
		} else {
			idle_put(&s, f, o->threads);
		}
		if ((err = write_done(&s, &n, &bytes, ret == 0, o->threads, fl,
		    in_name, out_name)))
			goto out;
		if (ret == 0)
			break;
	}
	if ((err = z4_writer_finish(s.writer)) ||
	    (err = z4_out_flush(&s.out)))
		fail(fl, err, out_name, "write");
out:
	stages_release(&s);
	return err;
}

int
run_recode(int in_fd, const char *in_name, int out_fd, const char *out_name,
    int level, unsigned threads, struct z4_ref *ref, enum recode_mode mode,
    struct failure *fl)
{
	/*
	 * The reference decodes deltas in the input; for z4delta, every chunk
	 * is also coded afresh, deltas against it tried.
	 */
	int delta = mode == RECODE_DELTA;
	struct z4_encode_opts eo = { .level = level, .recode = !delta,
	    .detect = mode == RECODE_DETECT };
	struct z4_stream_stats st;
	struct stages s;
	struct z4_frame *f;
	unsigned n = 0;
	size_t bytes = 0;
	int err, ret;

	if ((err = stages_init(&s, in_fd, in_name, out_fd)) ||
	    (err = z4_reader_new(&s.reader, &s.in, 0)))
		goto out;
	s.in.ref = ref;
	if ((err = z4_pool_new(&s.pool, threads))) {
		fail(fl, err, in_name, NULL);
		goto out;
	}
	/* One output stream for each input stream, so streams stay apart. */
	for (;;) {
		if ((f = idle_frame(&s)) == NULL) {
			err = fail(fl, Z4_E_NOMEM, in_name, NULL);
			goto out;
		}
		if ((ret = z4_reader_next(s.reader, f)) < 0) {
			err = fail_read(fl, ret, in_name, &s);
			goto out;
		}
		if (ret == 1 && (err = fetch_ref(delta ? ref : NULL, f))) {
			fail(fl, err, "reference", "read");
			goto out;
		}
		if (ret > 0 && s.writer == NULL) {
			z4_reader_stats(s.reader, &st);
			if ((err = z4_writer_new(&s.writer, &s.out, st.source))) {
				fail(fl, err, out_name, "write");
				goto out;
			}
		}
		if (ret == 1 && (err = queue_frame(&s, f, &eo, &n, &bytes, fl,
		    in_name)))
			goto out;
		if (ret != 1)
			idle_put(&s, f, threads);
		/* A stream's frames are all written before it ends. */
		if ((err = write_done(&s, &n, &bytes, ret != 1, threads, fl,
		    in_name, out_name)))
			goto out;
		if (ret == 2) {
			err = z4_writer_finish(s.writer);
			z4_writer_free(s.writer);
			s.writer = NULL;
			if (err) {
				fail(fl, err, out_name, "write");
				goto out;
			}
		}
		if (ret == 0)
			break;
	}
	if ((err = z4_out_flush(&s.out)))
		fail(fl, err, out_name, "write");
out:
	stages_release(&s);
	return err;
}

int
run_decompress(int in_fd, const char *in_name, int out_fd,
    const char *out_name, struct z4_ref *ref, unsigned threads,
    struct failure *fl)
{
	struct stages s;
	int err, ret;

	if ((err = stages_init(&s, in_fd, in_name, out_fd < 0 ? -1 : out_fd)) ||
	    (err = z4_reader_new(&s.reader, &s.in, 0)))
		goto out;
	s.in.ref = ref;
	z4_reader_threads(s.reader, threads);
	while ((ret = z4_reader_next(s.reader, &s.frame)) > 0) {
		if (ret == 1 && out_fd >= 0 &&
		    (err = z4_out_write(&s.out, s.frame.raw,
		    s.frame.raw_size))) {
			fail(fl, err, out_name, "write");
			goto out;
		}
		progress_show(&s.progress, s.in.offset);
	}
	if (ret < 0) {
		err = fail_read(fl, ret, in_name, &s);
		goto out;
	}
	if (out_fd >= 0 && (err = z4_out_flush(&s.out)))
		fail(fl, err, out_name, "write");
out:
	stages_release(&s);
	return err;
}

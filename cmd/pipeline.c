/*
 * pipeline.c - the stages every tool is made of, run in one process:
 * split and code (z4split, z4ai compress), re-code (z4plane), decode
 * (z4cat, z4ai decompress and test).
 */
#include <string.h>

#include "util.h"

struct stages {
	struct z4_in in;
	struct z4_out out;
	struct z4_frame frame;
	struct z4_split *split;
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
	z4_writer_free(s->writer);
	z4_reader_free(s->reader);
	z4_split_free(s->split);
	z4_frame_release(&s->frame);
	z4_out_release(&s->out);
	z4_in_release(&s->in);
}

/* An output error names the output; anything else, the input. */
static int
fail(struct failure *fl, int err, const char *file, const char *where)
{
	fl->file = file;
	snprintf(fl->where, sizeof fl->where, "%s", where ? where : "");
	return err;
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
	int err, ret;

	if ((err = stages_init(&s, in_fd, in_name, out_fd)))
		goto out;
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
	while ((ret = z4_split_next(s.split, &s.frame)) > 0) {
		if ((err = z4_frame_encode(&s.frame, &eo))) {
			fail(fl, err, in_name, "encode");
			goto out;
		}
		if ((err = z4_writer_put(s.writer, &s.frame))) {
			fail(fl, err, out_name, "write");
			goto out;
		}
		progress_show(&s.progress, s.in.offset);
	}
	if (ret < 0) {
		err = fail(fl, ret, in_name, "read");
		goto out;
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
    int level, struct failure *fl)
{
	struct z4_encode_opts eo = { .level = level };
	struct z4_stream_stats st;
	struct stages s;
	int err, ret;

	if ((err = stages_init(&s, in_fd, in_name, out_fd)) ||
	    (err = z4_reader_new(&s.reader, &s.in, 0)))
		goto out;
	/* One output stream for each input stream, so streams stay apart. */
	while ((ret = z4_reader_next(s.reader, &s.frame)) > 0) {
		if (s.writer == NULL) {
			z4_reader_stats(s.reader, &st);
			if ((err = z4_writer_new(&s.writer, &s.out, st.source))) {
				fail(fl, err, out_name, "write");
				goto out;
			}
		}
		if (ret == 2) {
			err = z4_writer_finish(s.writer);
			z4_writer_free(s.writer);
			s.writer = NULL;
		} else if (!(err = z4_frame_recode(&s.frame, &eo))) {
			err = z4_writer_put(s.writer, &s.frame);
		}
		if (err) {
			fail(fl, err, out_name, "write");
			goto out;
		}
		progress_show(&s.progress, s.in.offset);
	}
	if (ret < 0) {
		err = fail(fl, ret, in_name, z4_reader_where(s.reader));
		goto out;
	}
	if ((err = z4_out_flush(&s.out)))
		fail(fl, err, out_name, "write");
out:
	stages_release(&s);
	return err;
}

int
run_decompress(int in_fd, const char *in_name, int out_fd,
    const char *out_name, struct failure *fl)
{
	struct stages s;
	int err, ret;

	if ((err = stages_init(&s, in_fd, in_name, out_fd < 0 ? -1 : out_fd)) ||
	    (err = z4_reader_new(&s.reader, &s.in, 0)))
		goto out;
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
		err = fail(fl, ret, in_name, z4_reader_where(s.reader));
		goto out;
	}
	if (out_fd >= 0 && (err = z4_out_flush(&s.out)))
		fail(fl, err, out_name, "write");
out:
	stages_release(&s);
	return err;
}

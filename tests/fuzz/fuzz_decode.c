/*
 * fuzz_decode.c - whole streams through the reader, as z4cat and z4info
 * read them: decoded, and headers only.  Each input is read as it is and
 * again with its checksums made right (fuzz_fix), so mutations reach the
 * coders and transforms.  Invariants: a stream that decodes also passes
 * headers-only reading with the same totals, and re-coding it as z4plane
 * does gives a stream that decodes to the same bytes; decoding on three
 * threads gives the same bytes, the same result and the same place named
 * as decoding in the calling thread.
 */
#include <stdio.h>

#include "fuzz.h"

/*
 * Read every frame of fd on threads threads; orig (if not NULL) gets the
 * decoded bytes, where (if not NULL) the place the reader names last.
 */
static int
decode_on(int fd, unsigned flags, unsigned threads, struct z4_buf *orig,
    struct z4_stream_stats *st, char *where, size_t where_size)
{
	struct z4_in in;
	struct z4_reader *r;
	struct z4_frame f;
	int ret;

	fuzz_rewind(fd);
	z4_frame_init(&f);
	if (z4_in_init(&in, fd) || z4_reader_new(&r, &in, flags))
		abort();
	z4_reader_threads(r, threads);
	while ((ret = z4_reader_next(r, &f)) > 0) {
		if (strlen(z4_reader_where(r)) == 0)
			abort();
		if (ret == 1 && orig != NULL &&
		    z4_buf_add(orig, f.raw, f.raw_size))
			abort();
	}
	if (z4_reader_next(r, &f) != ret)	/* errors are sticky */
		abort();
	if (where != NULL)
		snprintf(where, where_size, "%s", z4_reader_where(r));
	z4_reader_stats(r, st);
	z4_reader_free(r);
	z4_frame_release(&f);
	z4_in_release(&in);
	return ret;
}

/* Re-code the frames of fd at level onto out, one stream per stream. */
static void
recode(int fd, int level, int out_fd)
{
	struct z4_encode_opts eo = { .level = level, .recode = 1 };
	struct z4_in in;
	struct z4_out out;
	struct z4_reader *r;
	struct z4_writer *w = NULL;
	struct z4_frame f, *fp = &f;
	struct z4_stream_stats st;
	int ret;

	fuzz_rewind(fd);
	z4_frame_init(&f);
	if (z4_in_init(&in, fd) || z4_out_init(&out, out_fd) ||
	    z4_reader_new(&r, &in, 0))
		abort();
	while ((ret = z4_reader_next(r, &f)) > 0) {
		z4_reader_stats(r, &st);
		if (w == NULL && z4_writer_new(&w, &out, st.source))
			abort();
		if (ret == 1 && (z4_encode_frames(&fp, 1, &eo, 1) ||
		    z4_writer_put(w, &f)))
			abort();
		if (ret == 2) {
			if (z4_writer_finish(w))
				abort();
			z4_writer_free(w);
			w = NULL;
		}
	}
	if (ret != 0 || w != NULL || z4_out_flush(&out))
		abort();
	z4_reader_free(r);
	z4_frame_release(&f);
	z4_in_release(&in);
	z4_out_release(&out);
}

static int
decode(int fd, unsigned flags, struct z4_buf *orig,
    struct z4_stream_stats *st)
{
	return decode_on(fd, flags, 0, orig, st, NULL, 0);
}

static void
check(const uint8_t *p, size_t n)
{
	struct z4_buf orig = { 0 }, again = { 0 }, threaded = { 0 };
	struct z4_stream_stats st, hst, rst, tst;
	char where[512], twhere[512];
	int fd = fuzz_file(p, n);

	int ret = decode_on(fd, 0, 0, &orig, &st, where, sizeof where);
	int tret = decode_on(fd, 0, 3, &threaded, &tst, twhere, sizeof twhere);
	if (tret != ret || threaded.len != orig.len ||
	    (orig.len && memcmp(threaded.p, orig.p, orig.len) != 0) ||
	    strcmp(where, twhere) != 0)
		abort();
	z4_buf_release(&threaded);
	int hret = decode(fd, Z4_READ_NODECODE, NULL, &hst);
	if (ret == 0) {
		if (hret != 0 || st.streams != hst.streams ||
		    st.original_size != hst.original_size ||
		    st.stream_size != hst.stream_size ||
		    st.index_bytes != hst.index_bytes ||
		    st.original_size != orig.len || st.stream_size != n)
			abort();
		int out_fd = memfd_create("recoded", 0);
		if (out_fd < 0)
			abort();
		recode(fd, 1 + (int)(n % 9), out_fd);
		if (decode(out_fd, 0, &again, &rst) != 0 ||
		    rst.streams != st.streams || again.len != orig.len ||
		    (orig.len && memcmp(again.p, orig.p, orig.len) != 0))
			abort();
		close(out_fd);
	}
	close(fd);
	z4_buf_release(&orig);
	z4_buf_release(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *fixed = malloc(size ? size : 1);

	if (fixed == NULL)
		abort();
	check(data, size);
	memcpy(fixed, data, size);
	fuzz_fix(fixed, size);
	if (size && memcmp(fixed, data, size) != 0)
		check(fixed, size);
	free(fixed);
	return 0;
}

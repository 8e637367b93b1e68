/*
 * fuzz_roundtrip.c - the encoder against the decoder.  The first four
 * bytes are parameters: a dtype (-1 to detect, else 0 to 15), a level
 * (0 to 9) and whether to match repeated chunks, and a chunk size (1 to
 * 64K); the rest is the original.  It is compressed as z4ai does (split,
 * code, write) and as the pipeline z4split | z4plane does (split stored,
 * then re-code), and both streams must decode to the original.  Coding
 * frame by frame, in batches on one and on two threads, and through a
 * pool of two threads must give the same bytes.
 */
#include "fuzz.h"

#define BATCH 8

/*
 * Split the n bytes at p, with repeated chunks as REF frames if dedupe,
 * and code their frames at level onto b: with threads 0 one frame at a
 * time with z4_frame_encode(), else in batches with z4_encode_frames(),
 * or through a pool of that many threads if pool.
 */
static void
compress(const uint8_t *p, size_t n, const struct z4_split_opts *so,
    int dedupe, int level, unsigned threads, int pool, struct z4_buf *b)
{
	struct z4_pool *tp = NULL;
	struct z4_encode_opts eo = { .level = level };
	struct z4_frame frames[BATCH], *batch[BATCH];
	struct z4_in in;
	struct z4_out out;
	struct z4_split *s;
	struct z4_dedupe *d = NULL;
	struct z4_writer *w;
	size_t k = 0, max = threads ? BATCH : 1;
	uint64_t nframe = 0;
	int fd = fuzz_file(p, n), out_fd = memfd_create("stream", 0), ret;

	if (out_fd < 0 || (dedupe && z4_dedupe_new(&d, fd, so, 0)) ||
	    z4_in_init(&in, fd) || z4_out_init(&out, out_fd) ||
	    z4_split_new(&s, &in, so) ||
	    z4_writer_new(&w, &out, z4_split_source(s)) ||
	    (pool && z4_pool_new(&tp, threads)))
		abort();
	for (size_t i = 0; i < BATCH; i++) {
		z4_frame_init(&frames[i]);
		batch[i] = &frames[i];
	}
	do {
		if ((ret = z4_split_next(s, batch[k])) < 0)
			abort();
		batch[k]->key = nframe;
		if (ret && d && z4_dedupe_mark(d, batch[k], nframe, fd))
			abort();
		nframe += (uint64_t)ret;
		k += (size_t)ret;
		if (k == max || (ret == 0 && k > 0)) {
			for (size_t i = 0; i < k && threads == 0; i++)
				if (z4_frame_encode(batch[i], &eo))
					abort();
			if (threads && !pool &&
			    z4_encode_frames(batch, k, &eo, threads))
				abort();
			for (size_t i = 0; i < k && pool; i++)
				if (z4_pool_put(tp, batch[i], &eo))
					abort();
			for (size_t i = 0; i < k && pool; i++) {
				struct z4_frame *g;
				if (z4_pool_take(tp, &g) || g != batch[i])
					abort();
			}
			for (size_t i = 0; i < k; i++)
				if (z4_writer_put(w, batch[i]))
					abort();
			k = 0;
		}
	} while (ret > 0);
	if (z4_writer_finish(w) || z4_out_flush(&out))
		abort();
	fuzz_slurp(out_fd, b);
	z4_pool_free(tp);
	for (size_t i = 0; i < BATCH; i++)
		z4_frame_release(&frames[i]);
	z4_writer_free(w);
	z4_split_free(s);
	z4_dedupe_free(d);
	z4_in_release(&in);
	z4_out_release(&out);
	close(fd);
	close(out_fd);
}

/* Decode the stream in m onto orig, or re-code it at level onto orig. */
static void
decode(const struct z4_buf *m, int recode, int level, struct z4_buf *orig)
{
	struct z4_encode_opts eo = { .level = level };
	struct z4_stream_stats st;
	struct z4_in in;
	struct z4_out out;
	struct z4_reader *r;
	struct z4_writer *w = NULL;
	struct z4_frame f;
	int fd = fuzz_file(m->p, m->len), out_fd = -1, ret;

	z4_frame_init(&f);
	if (z4_in_init(&in, fd) || z4_reader_new(&r, &in, 0))
		abort();
	if (recode && ((out_fd = memfd_create("recoded", 0)) < 0 ||
	    z4_out_init(&out, out_fd)))
		abort();
	while ((ret = z4_reader_next(r, &f)) > 0) {
		if (recode && w == NULL) {
			z4_reader_stats(r, &st);
			if (z4_writer_new(&w, &out, st.source))
				abort();
		}
		if (ret == 1 && recode && (z4_frame_recode(&f, &eo) ||
		    z4_writer_put(w, &f)))
			abort();
		if (ret == 1 && !recode && z4_buf_add(orig, f.raw, f.raw_size))
			abort();
	}
	if (ret != 0)
		abort();
	if (recode) {
		if (w == NULL || z4_writer_finish(w) || z4_out_flush(&out))
			abort();
		fuzz_slurp(out_fd, orig);
		z4_writer_free(w);
		z4_out_release(&out);
		close(out_fd);
	}
	z4_reader_free(r);
	z4_frame_release(&f);
	z4_in_release(&in);
	close(fd);
}

static void
same(const struct z4_buf *a, const uint8_t *p, size_t n)
{
	if (a->len != n || (n && memcmp(a->p, p, n) != 0))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct z4_buf one = { 0 }, batched = { 0 }, two = { 0 };
	struct z4_buf pooled = { 0 };
	struct z4_buf stored = { 0 }, piped = { 0 }, back = { 0 };

	if (size < 4)
		return 0;
	struct z4_split_opts so = {
		.raw_dtype = data[0] % (Z4_DT_COUNT + 1) - 1,
		.chunk_size = 1 + (size_t)z4_get16(data + 2),
	};
	int level = data[1] % 10, dedupe = data[1] / 10 % 2;
	const uint8_t *p = data + 4;
	size_t n = size - 4;

	compress(p, n, &so, dedupe, level, 0, 0, &one);
	compress(p, n, &so, dedupe, level, 1, 0, &batched);
	compress(p, n, &so, dedupe, level, 2, 0, &two);
	compress(p, n, &so, dedupe, level, 2, 1, &pooled);
	same(&batched, one.p, one.len);
	same(&two, one.p, one.len);
	same(&pooled, one.p, one.len);
	decode(&one, 0, 0, &back);
	same(&back, p, n);

	compress(p, n, &so, dedupe, 0, 0, 0, &stored);
	decode(&stored, 1, level, &piped);
	back.len = 0;
	decode(&piped, 0, 0, &back);
	same(&back, p, n);

	z4_buf_release(&one);
	z4_buf_release(&batched);
	z4_buf_release(&two);
	z4_buf_release(&pooled);
	z4_buf_release(&stored);
	z4_buf_release(&piped);
	z4_buf_release(&back);
	return 0;
}

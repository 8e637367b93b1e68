/*
 * fuzz_delta.c - streams that are deltas from a reference checkpoint,
 * decoded with that reference given (z4cat -r): as a safetensors file or
 * as a z4 stream of it, chosen by the input's first byte.  Each stream is
 * read as it is and with its checksums made right, sequentially and by
 * random access to each of the reference's tensors.
 */
#include <stdio.h>

#include "fuzz.h"
#include "../unit/samples.h"

/* The reference: the "base" sample, as safetensors and as a z4 stream. */
static int ref_fd[2] = { -1, -1 };

static int
sample_fd(void)
{
	char path[64];
	int fd = memfd_create("ref", 0);
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	if (fd < 0 || make_sample("base", path) != 0)
		abort();
	return fd;
}

/* The safetensors reference compressed whole into a z4 stream. */
static int
compressed(int st_fd)
{
	struct z4_in in;
	struct z4_out out;
	struct z4_split *s;
	struct z4_writer *w;
	struct z4_frame f;
	struct z4_split_opts so = { .raw_dtype = -1 };
	struct z4_encode_opts eo = { .level = 3 };
	int fd = memfd_create("refz4", 0), ret;

	z4_frame_init(&f);
	fuzz_rewind(st_fd);
	if (fd < 0 || z4_in_init(&in, st_fd) || z4_out_init(&out, fd) ||
	    z4_split_new(&s, &in, &so) ||
	    z4_writer_new(&w, &out, z4_split_source(s)))
		abort();
	while ((ret = z4_split_next(s, &f)) > 0)
		if (z4_frame_encode(&f, &eo) || z4_writer_put(w, &f))
			abort();
	if (ret < 0 || z4_writer_finish(w) || z4_out_flush(&out))
		abort();
	z4_writer_free(w);
	z4_split_free(s);
	z4_frame_release(&f);
	z4_in_release(&in);
	z4_out_release(&out);
	return fd;
}

static void
run(int fd, struct z4_ref *ref)
{
	struct z4_in in;
	struct z4_out out;
	struct z4_reader *r;
	struct z4_frame f;
	char where[256];

	fuzz_rewind(fd);
	z4_frame_init(&f);
	if (z4_in_init(&in, fd) || z4_reader_new(&r, &in, 0))
		abort();
	in.ref = ref;
	while (z4_reader_next(r, &f) > 0)
		;
	z4_reader_free(r);
	z4_in_release(&in);
	static const char *const names[] = { "t0", "t1" };
	for (int i = 0; i < 2; i++) {
		fuzz_rewind(fd);
		if (z4_in_init(&in, fd) || z4_out_init(&out, -1))
			abort();
		in.ref = ref;
		z4_extract(&in, NULL, names[i], &out, where, sizeof where);
		z4_in_release(&in);
		z4_out_release(&out);
	}
	z4_frame_release(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct z4_ref *ref;

	if (ref_fd[0] < 0) {
		ref_fd[0] = sample_fd();
		ref_fd[1] = compressed(ref_fd[0]);
	}
	if (size < 1)
		return 0;
	int which = data[0] & 1;
	fuzz_rewind(ref_fd[which]);
	if (z4_ref_open(&ref, ref_fd[which]))
		abort();
	int fd = fuzz_file(data + 1, size - 1);
	run(fd, ref);
	uint8_t *copy = malloc(size);
	if (copy == NULL)
		abort();
	memcpy(copy, data + 1, size - 1);
	fuzz_fix(copy, size - 1);
	int fixed = fuzz_file(copy, size - 1);
	run(fixed, ref);
	close(fixed);
	close(fd);
	free(copy);
	z4_ref_free(ref);
	return 0;
}

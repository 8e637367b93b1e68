/*
 * fuzz_safetensors.c - the splitter on any bytes, as z4split reads them.
 * Whatever the input, the frames' raw bytes laid end to end must be the
 * input exactly, no frame may pass its chunk size, each tensor's fields
 * must survive being written and parsed, and the index builder (which
 * the writer runs) must accept the frames in their order.
 */
#include "fuzz.h"

static void
split(const uint8_t *p, size_t n, size_t chunk, int dtype)
{
	struct z4_split_opts o = { .chunk_size = chunk, .raw_dtype = dtype };
	struct z4_index_builder ib;
	struct z4_in in;
	struct z4_split *s;
	struct z4_frame f;
	struct z4_tensor t;
	struct z4_cursor c;
	struct z4_buf b = { 0 };
	struct z4_name_base put_names = { 0 }, parse_names = { 0 };
	size_t done = 0;
	int fd = fuzz_file(p, n), ret;

	z4_frame_init(&f);
	if (z4_in_init(&in, fd) || z4_index_init(&ib) ||
	    z4_split_new(&s, &in, &o))
		abort();
	if ((z4_split_source(s) == Z4_SRC_SAFETENSORS) !=
	    (z4_split_note(s) == NULL))
		abort();
	while ((ret = z4_split_next(s, &f)) > 0) {
		if (f.raw_size > (chunk ? chunk : Z4_CHUNK_DEFAULT) ||
		    f.raw_size > n - done ||
		    (f.raw_size && memcmp(f.raw, p + done, f.raw_size) != 0))
			abort();
		done += f.raw_size;
		if (f.kind == Z4_FRAME_CHUNK) {
			b.len = 0;
			/* Each name coded against the one before. */
			if (z4_tensor_put(&b, &f.tensor, &put_names,
			    Z4_FORMAT_MINOR))
				abort();
			z4_cursor_init(&c, b.p, b.len);
			if (z4_tensor_parse(&c, &t, &parse_names,
			    Z4_FORMAT_MINOR) || c.pos != b.len ||
			    !z4_tensor_same(&t, &f.tensor))
				abort();
		} else if (f.kind != Z4_FRAME_GLUE) {
			abort();
		}
		if (z4_index_add(&ib, &f, 0, 0))
			abort();
	}
	if (ret != 0 || done != n || z4_index_close(&ib))
		abort();
	z4_buf_release(&b);
	z4_index_release(&ib);
	z4_split_free(s);
	z4_frame_release(&f);
	z4_in_release(&in);
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	split(data, size, 0, -1);
	split(data, size, 64, Z4_DT_BF16);
	split(data, size, 1 + size % 13, (int)(size % 17) - 1);
	return 0;
}

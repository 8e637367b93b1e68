/*
 * test_lib.c - unit tests of libz4: streams built with the library, then
 * damaged in every way the format can be damaged, each time checking the
 * exact error.  Crafted damage re-computes checksums, so the check behind
 * them (reserved bits, limits, index, lengths) is the one that must fire.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"

static int failures, checks;

#define CHECK(cond) check((cond), #cond, __FILE__, __LINE__)

static void
check(int ok, const char *what, const char *file, int line)
{
	checks++;
	if (!ok) {
		failures++;
		fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
	}
}

struct mem {
	uint8_t *p;
	size_t len;
};

/* The bytes written to a temporary file. */
static struct mem
slurp(FILE *fp)
{
	struct mem m;
	fflush(fp);
	m.len = (size_t)ftell(fp);
	m.p = malloc(m.len + 1);
	rewind(fp);
	if (fread(m.p, 1, m.len, fp) != m.len)
		abort();
	return m;
}

static FILE *
spill(const void *p, size_t n)
{
	FILE *fp = tmpfile();
	if (fp == NULL || fwrite(p, 1, n, fp) != n)
		abort();
	fflush(fp);
	rewind(fp);
	return fp;
}

static int use_dedupe;

/* Compress content with the library at level, chunks of chunk bytes. */
static struct mem
compress(const void *content, size_t n, size_t chunk, int dtype, int level)
{
	FILE *in = spill(content, n), *out = tmpfile();
	struct z4_dedupe *d = NULL;
	uint64_t i = 0;
	struct z4_in zi;
	struct z4_out zo;
	struct z4_split *s;
	struct z4_writer *w;
	struct z4_frame f;
	struct z4_split_opts so = { .chunk_size = chunk, .raw_dtype = dtype };
	struct z4_encode_opts eo = { .level = level };
	int ret;

	z4_frame_init(&f);
	if (use_dedupe && z4_dedupe_new(&d, fileno(in), &so, 0))
		abort();
	if (z4_in_init(&zi, fileno(in)) || z4_out_init(&zo, fileno(out)) ||
	    z4_split_new(&s, &zi, &so) ||
	    z4_writer_new(&w, &zo, z4_split_source(s)))
		abort();
	while ((ret = z4_split_next(s, &f)) > 0) {
		f.key = i;
		if ((d && z4_dedupe_mark(d, &f, i, fileno(in))) ||
		    z4_frame_encode(&f, &eo) || z4_writer_put(w, &f))
			abort();
		i++;
	}
	z4_dedupe_free(d);
	if (ret < 0 || z4_writer_finish(w) || z4_out_flush(&zo))
		abort();
	z4_writer_free(w);
	z4_split_free(s);
	z4_frame_release(&f);
	z4_in_release(&zi);
	z4_out_release(&zo);
	struct mem m = slurp(out);
	fclose(in);
	fclose(out);
	return m;
}

/* Decode a whole stream: 0 and the original in *orig, or the error. */
static int
decode(const struct mem *m, struct mem *orig)
{
	FILE *in = spill(m->p, m->len);
	struct z4_in zi;
	struct z4_reader *r;
	struct z4_frame f;
	int ret;
	struct mem o = { malloc(1), 0 };

	z4_frame_init(&f);
	if (z4_in_init(&zi, fileno(in)) || z4_reader_new(&r, &zi, 0))
		abort();
	while ((ret = z4_reader_next(r, &f)) > 0) {
		if (ret != 1)
			continue;
		o.p = realloc(o.p, o.len + f.raw_size + 1);
		memcpy(o.p + o.len, f.raw, f.raw_size);
		o.len += f.raw_size;
	}
	z4_reader_free(r);
	z4_frame_release(&f);
	z4_in_release(&zi);
	fclose(in);
	if (orig && ret == 0)
		*orig = o;
	else
		free(o.p);
	return ret;
}

static int
roundtrips(const void *content, size_t n, size_t chunk, int dtype, int level)
{
	struct mem m = compress(content, n, chunk, dtype, level), o;
	int ok = decode(&m, &o) == 0 && o.len == n &&
	    (n == 0 || memcmp(o.p, content, n) == 0);
	if (ok)
		free(o.p);
	free(m.p);
	return ok;
}

/* A small safetensors file: two F32 tensors and a BF16 one. */
static struct mem
safetensors(void)
{
	static const char json[] =
	    "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
	    "\"b\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[24,32]},"
	    "\"c\":{\"dtype\":\"F32\",\"shape\":[64],"
	    "\"data_offsets\":[32,288]}}  ";
	size_t hn = sizeof json - 1;
	struct mem m = { malloc(8 + hn + 288), 8 + hn + 288 };
	z4_put64(m.p, hn);
	memcpy(m.p + 8, json, hn);
	for (size_t i = 0; i < 288; i++)
		m.p[8 + hn + i] = (uint8_t)(i * 7 + (i >> 3));
	return m;
}

/* Offset of frame k (0 is the first after the stream header). */
static size_t
frame_at(const struct mem *m, unsigned k)
{
	size_t off = Z4_STREAM_HEADER_SIZE;
	while (k--) {
		const uint8_t *p = m->p + off;
		off += Z4_FRAME_FIXED_SIZE + z4_get16(p + 2) + 8 +
		    z4_get32(p + 4);
	}
	return off;
}

/* Re-compute the header checksum of the frame at off. */
static void
refix(struct mem *m, size_t off)
{
	size_t n = Z4_FRAME_FIXED_SIZE + z4_get16(m->p + off + 2);
	z4_put64(m->p + off + n, z4_hash64(m->p + off, n));
}

/* Patch one byte of frame k's header, fix the checksum, decode. */
static int
patched(const struct mem *good, unsigned k, size_t at, uint8_t v)
{
	struct mem m = { malloc(good->len), good->len };
	memcpy(m.p, good->p, m.len);
	size_t off = frame_at(&m, k);
	m.p[off + at] = v;
	refix(&m, off);
	int err = decode(&m, NULL);
	free(m.p);
	return err;
}

static void
test_roundtrips(void)
{
	uint8_t buf[20000];
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (uint8_t)(i * 2654435761u >> 13);
	size_t sizes[] = { 0, 1, 3, 4095, 4096, 4097, 8192, 20000 };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		CHECK(roundtrips(buf, sizes[i], 4096, -1, 3));
		CHECK(roundtrips(buf, sizes[i], 4096, Z4_DT_BF16, 0));
		CHECK(roundtrips(buf, sizes[i], 1, Z4_DT_F32, 1));
		for (int dt = 1; dt < Z4_DT_COUNT; dt++) {
			CHECK(roundtrips(buf, sizes[i], 4096, dt, 3));
			CHECK(roundtrips(buf, sizes[i], 1000, dt, 9));
		}
	}
	/* Floats with dead low bits, a dead sign, NaNs and infinities. */
	for (size_t i = 0; i < sizeof buf / 4; i++) {
		uint32_t v = (uint32_t)(i * 2654435761u) & 0x7fff0000u;
		if (i % 97 == 0)
			v = 0x7fc00001;		/* NaN with a payload */
		if (i % 89 == 0)
			v = 0x7f800000;		/* infinity */
		z4_put32(buf + 4 * i, v);
	}
	CHECK(roundtrips(buf, sizeof buf, 4096, Z4_DT_F32, 3));
	CHECK(roundtrips(buf, sizeof buf, 4096, Z4_DT_F64, 3));
	CHECK(roundtrips(buf, sizeof buf - 1, 4096, Z4_DT_BF16, 9));
	struct mem st = safetensors();
	for (size_t n = 0; n <= st.len; n++)	/* every truncated file */
		CHECK(roundtrips(st.p, n, 16, -1, 3));
	free(st.p);
}

static void
test_damage_everywhere(void)
{
	struct mem st = safetensors();
	struct mem good = compress(st.p, st.len, 64, -1, 3);
	int silent = 0, fired = 0;

	/* Every truncation fails. */
	for (size_t n = 0; n < good.len; n++) {
		struct mem t = { good.p, n };
		if (decode(&t, NULL) >= 0)
			silent++;
	}
	CHECK(silent == 0);
	/* Every bit flipped fails. */
	for (size_t i = 0; i < good.len; i++) {
		for (int b = 0; b < 8; b++) {
			good.p[i] ^= (uint8_t)(1 << b);
			if (decode(&good, NULL) >= 0) {
				silent++;
				printf("# silent flip at %zu bit %d\n", i, b);
			} else
				fired++;
			good.p[i] ^= (uint8_t)(1 << b);
		}
	}
	CHECK(silent == 0);
	CHECK(fired == (int)good.len * 8);
	printf("# damage: %zu truncations and %d bit flips, all rejected\n",
	    good.len, fired);
	free(good.p);
	free(st.p);
}

static void
test_crafted(void)
{
	struct mem st = safetensors();
	struct mem good = compress(st.p, st.len, 4096, -1, 0);
	struct mem m = { malloc(good.len), good.len };

	CHECK(decode(&good, NULL) == 0);
	/* Stream header: version, source, flags (checksum fixed). */
	uint8_t h[16];
	memcpy(h, good.p, 16);
	memcpy(m.p, good.p, good.len);
	m.p[5] = 2;
	z4_put64(m.p + 8, z4_hash64(m.p, 8));
	CHECK(decode(&m, NULL) == Z4_E_VERSION);
	memcpy(m.p, h, 16);
	m.p[6] = 9;
	z4_put64(m.p + 8, z4_hash64(m.p, 8));
	CHECK(decode(&m, NULL) == Z4_E_RESERVED);
	memcpy(m.p, h, 16);
	m.p[7] = 1;
	z4_put64(m.p + 8, z4_hash64(m.p, 8));
	CHECK(decode(&m, NULL) == Z4_E_RESERVED);
	m.p[0] = 'Z';
	CHECK(decode(&m, NULL) == Z4_E_MAGIC);

	/* Frame 0 is glue (the header), frame 1 is tensor "a". */
	enum { M = Z4_FRAME_FIXED_SIZE };
	CHECK(patched(&good, 0, 1, 2) == Z4_E_RESERVED);	/* flags */
	CHECK(patched(&good, 0, 0, 4) == Z4_E_RESERVED);	/* kind */
	CHECK(patched(&good, 0, 0, 7) == Z4_E_RESERVED);
	CHECK(patched(&good, 0, 11, 0x40) == Z4_E_LIMIT);	/* raw size */
	CHECK(patched(&good, 0, 7, 0x40) == Z4_E_LIMIT);	/* payload */
	CHECK(patched(&good, 0, 12, 0x55) == Z4_E_CHECKSUM);	/* raw sum */
	CHECK(patched(&good, 0, 20, 0x55) == Z4_E_CHECKSUM);	/* payload */
	CHECK(patched(&good, 0, 8, 0) == Z4_E_CORRUPT);		/* sizes */
	/* Body of the glue frame: xform count, plane count, coder. */
	CHECK(patched(&good, 0, M + 1, 0) == Z4_E_LIMIT);
	CHECK(patched(&good, 0, M + 1, 33) == Z4_E_LIMIT);
	CHECK(patched(&good, 0, M + 2, 9) == Z4_E_CODER);
	CHECK(patched(&good, 0, M + 2, 1) == Z4_E_DECODE);
	/* CHUNK meta: name size, dtype, tensor flags, ndim, offset. */
	CHECK(patched(&good, 1, M + 1, 0x20) == Z4_E_LIMIT);
	CHECK(patched(&good, 1, M + 3, 99) == Z4_E_RESERVED);
	CHECK(patched(&good, 1, M + 4, 2) == Z4_E_RESERVED);
	CHECK(patched(&good, 1, M + 4, 1) == Z4_E_CORRUPT);
	CHECK(patched(&good, 1, M + 5, 9) == Z4_E_LIMIT);
	CHECK(patched(&good, 1, M + 2, 'z') == Z4_E_INDEX);	/* name */
	CHECK(patched(&good, 1, M + 6, 3) == Z4_E_INDEX);		/* shape */
	CHECK(patched(&good, 1, M + 8, 1) == Z4_E_CORRUPT);	/* offset */

	/* An unknown transform in the chain is named as such. */
	size_t off = frame_at(&good, 0);
	size_t meta = z4_get16(good.p + off + 2);
	struct mem x = { malloc(good.len + 2), good.len + 2 };
	memcpy(x.p, good.p, off + M);
	x.p[off + M] = 1;			/* Xform_Count */
	x.p[off + M + 1] = 200;			/* Xform_Id */
	x.p[off + M + 2] = 0;			/* Param_Size */
	memcpy(x.p + off + M + 3, good.p + off + M + 1,
	    good.len - off - M - 1);
	z4_put16(x.p + off + 2, (uint16_t)(meta + 2));
	refix(&x, off);
	CHECK(decode(&x, NULL) == Z4_E_XFORM);
	free(x.p);

	/* The trailer: reserved field, lengths (checksum fixed). */
	memcpy(m.p, good.p, good.len);
	uint8_t *t = m.p + m.len - Z4_TRAILER_SIZE;
	t[4] = 1;
	z4_put64(t + 24, z4_hash64(t, 24));
	CHECK(decode(&m, NULL) == Z4_E_RESERVED);
	t[4] = 0;
	t[16] ^= 1;
	z4_put64(t + 24, z4_hash64(t, 24));
	CHECK(decode(&m, NULL) == Z4_E_TRAILER);

	/* Trailing garbage after a stream is not a stream. */
	struct mem g = { malloc(good.len + 3), good.len + 3 };
	memcpy(g.p, good.p, good.len);
	memcpy(g.p + good.len, "abc", 3);
	CHECK(decode(&g, NULL) == Z4_E_MAGIC);
	free(g.p);
	free(m.p);
	free(good.p);
	free(st.p);
}

static void
test_extract(void)
{
	struct mem st = safetensors();
	struct mem one = compress(st.p, st.len, 64, -1, 3);
	/* Two streams back to back: the first one with the name wins. */
	struct mem two = { malloc(2 * one.len), 2 * one.len };
	memcpy(two.p, one.p, one.len);
	memcpy(two.p + one.len, one.p, one.len);
	FILE *in = spill(two.p, two.len), *out = tmpfile();
	struct z4_in zi;
	struct z4_out zo;
	char where[256];

	if (z4_in_init(&zi, fileno(in)) || z4_out_init(&zo, fileno(out)))
		abort();
	CHECK(z4_extract(&zi, NULL, "c", &zo, where, sizeof where) == 0);
	CHECK(z4_out_flush(&zo) == 0);
	struct mem got = slurp(out);
	size_t data = st.len - 288;
	CHECK(got.len == 256 && memcmp(got.p, st.p + data + 32, 256) == 0);
	CHECK(zi.bytes_read < two.len / 2);
	CHECK(z4_extract(&zi, NULL, "nope", &zo, where, sizeof where) ==
	    Z4_E_NOT_FOUND);
	z4_in_release(&zi);
	z4_out_release(&zo);
	fclose(in);
	fclose(out);
	free(got.p);
	free(two.p);
	free(one.p);
	free(st.p);
}

/* rANS on the distributions that stress its frequency tables. */
static void
test_rans(void)
{
	size_t sizes[] = { 1, 2, 7, 16, 255, 1000, 4097, 70000 };
	uint8_t *src = malloc(70000), *back = malloc(70000);
	uint8_t *dst = malloc(z4_coder_rans.bound(70000));
	void *est = NULL, *dst_state = NULL;
	uint32_t seed = 1;

	for (int kind = 0; kind < 6; kind++) {
		for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
			size_t n = sizes[k], out;
			for (size_t i = 0; i < n; i++) {
				seed = seed * 1103515245 + 12345;
				unsigned r = seed >> 16;
				src[i] = kind == 0 ? 7 :		/* one symbol */
				    kind == 1 ? (uint8_t)i :		/* uniform */
				    kind == 2 ? (r % 1000 == 0) :	/* skewed */
				    kind == 3 ? (uint8_t)(r % 200) :
				    kind == 4 ? (uint8_t)(r & r >> 8) :
				    (uint8_t)(i % 3 ? 0 : r);
			}
			for (int level = 1; level <= 9; level += 5) {
				struct z4_code_in in = { src, n, level, NULL };
				int err = z4_coder_rans.encode(&est, dst,
				    z4_coder_rans.bound(n), &out, &in);
				CHECK(err == 0);
				CHECK(err == 0 && z4_coder_rans.decode(&dst_state,
				    back, n, dst, out) == 0 &&
				    memcmp(back, src, n) == 0);
				/* One byte short or long must not decode. */
				CHECK(z4_coder_rans.decode(&dst_state, back, n,
				    dst, out - 1) < 0);
			}
		}
	}
	z4_coder_rans.free_state(dst_state);
	free(src);
	free(back);
	free(dst);
}

/* A file with a tensor twice: REF frames, and damage to them. */
static void
test_refs(void)
{
	static const char json[] =
	    "{\"a\":{\"dtype\":\"BF16\",\"shape\":[300],"
	    "\"data_offsets\":[0,600]},"
	    "\"b\":{\"dtype\":\"BF16\",\"shape\":[300],"
	    "\"data_offsets\":[600,1200]}}";
	size_t hn = sizeof json - 1, n = 8 + hn + 1200;
	uint8_t *st = malloc(n);
	z4_put64(st, hn);
	memcpy(st + 8, json, hn);
	for (size_t i = 0; i < 600; i++)
		st[8 + hn + i] = st[8 + hn + 600 + i] = (uint8_t)(i * 37 >> 2);
	use_dedupe = 1;
	struct mem good = compress(st, n, 4096, -1, 3), o;
	use_dedupe = 0;
	CHECK(decode(&good, &o) == 0 && o.len == n &&
	    memcmp(o.p, st, n) == 0);
	free(o.p);
	/* Frames: glue, a (KEEP), b (REF). */
	size_t ref = frame_at(&good, 2);
	CHECK(good.p[ref] == Z4_FRAME_REF);
	CHECK(good.p[frame_at(&good, 1) + 1] == Z4_FRAME_KEEP);
	CHECK(good.len < n);
	CHECK(patched(&good, 1, 1, 0) == Z4_E_REF);	/* not kept */
	CHECK(patched(&good, 2, 1, 2) == Z4_E_RESERVED);	/* reserved flag */
	/* Every bit flipped and every truncation is found. */
	int silent = 0;
	for (size_t i = 0; i < good.len; i++) {
		for (int b = 0; b < 8; b++) {
			good.p[i] ^= (uint8_t)(1 << b);
			silent += decode(&good, NULL) >= 0;
			good.p[i] ^= (uint8_t)(1 << b);
		}
		struct mem t = { good.p, i };
		silent += decode(&t, NULL) >= 0;
	}
	CHECK(silent == 0);
	/* Random access reads through the REF to the frame it repeats. */
	FILE *in = spill(good.p, good.len), *out = tmpfile();
	struct z4_in zi;
	struct z4_out zo;
	char where[256];
	if (z4_in_init(&zi, fileno(in)) || z4_out_init(&zo, fileno(out)))
		abort();
	CHECK(z4_extract(&zi, NULL, "b", &zo, where, sizeof where) == 0);
	CHECK(z4_out_flush(&zo) == 0);
	struct mem got = slurp(out);
	CHECK(got.len == 600 && memcmp(got.p, st + 8 + hn + 600, 600) == 0);
	z4_in_release(&zi);
	z4_out_release(&zo);
	fclose(in);
	fclose(out);
	free(got.p);
	free(good.p);
	free(st);
}

/* A transform's encode then decode on f's bytes gives them back. */
static int
xform_roundtrip(const struct z4_xform *x, unsigned dtype, unsigned cols,
    const uint8_t *raw, size_t n)
{
	struct z4_frame f;
	int ok;

	z4_frame_init(&f);
	f.kind = Z4_FRAME_CHUNK;
	f.tensor.dtype = dtype;
	f.tensor.ndim = 2;
	f.tensor.shape[0] = n / z4_dtype_width(dtype) / cols;
	f.tensor.shape[1] = cols;
	if (z4_frame_reserve(&f, n))
		abort();
	memcpy(f.raw, raw, n);
	f.raw_size = n;
	f.nplane = 1;
	f.plane[0].raw = f.raw;
	f.plane[0].raw_size = n;
	ok = z4_chain_push(&f, x) == 0 && z4_chain_decode(&f) == 0 &&
	    f.raw_size == n && memcmp(f.raw, raw, n) == 0;
	z4_frame_release(&f);
	return ok;
}

/* Grids: signed zeros, a group of zeros, values off the grid. */
static void
test_grid(void)
{
	uint8_t buf[1024];
	for (size_t i = 0; i < 256; i++)
		z4_put32(buf + 4 * i, i % 3 ? 0 : 0x80000000u);	/* +-0.0 */
	CHECK(xform_roundtrip(&z4_xform_grid_row, Z4_DT_F32, 64, buf, 1024));
	for (size_t i = 0; i < 256; i++) {
		float v = (float)((int)(i * 37 % 255) - 127) * 0.0123f;
		if (i % 5 == 0)
			v = -0.0f;
		uint32_t u;
		memcpy(&u, &v, 4);
		z4_put32(buf + 4 * i, u);
	}
	CHECK(xform_roundtrip(&z4_xform_grid_row, Z4_DT_F32, 64, buf, 1024));
	z4_put32(buf + 40, 0x3f800001u);	/* one value off the grid */
	struct z4_frame f;
	z4_frame_init(&f);
	CHECK(!xform_roundtrip(&z4_xform_grid_row, Z4_DT_F32, 64, buf, 1024));
	z4_frame_release(&f);
}

static void
test_dtypes(void)
{
	CHECK(z4_dtype_parse("bf16") == Z4_DT_BF16);
	CHECK(z4_dtype_parse("F8_E4M3") == Z4_DT_F8_E4M3);
	CHECK(z4_dtype_parse("opaque") == -1);
	CHECK(z4_dtype_width(Z4_DT_F64) == 8);
	CHECK(z4_dtype_width(200) == 0);
	CHECK(z4_err_is_data(Z4_E_CHECKSUM) && !z4_err_is_data(Z4_E_IO));
}

int
main(void)
{
	test_dtypes();
	test_rans();
	test_grid();
	test_roundtrips();
	test_crafted();
	test_damage_everywhere();
	test_extract();
	test_refs();
	printf("unit: %d passed, %d failed\n", checks - failures, failures);
	return failures != 0;
}

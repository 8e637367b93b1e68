/*
 * test_lib.c - unit tests of libz4: streams built with the library, then
 * damaged in every way the format can be damaged, each time checking the
 * exact error.  Crafted damage re-computes checksums, so the check behind
 * them (reserved bits, limits, index, lengths) is the one that must fire.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"
#include "rangecoder.h"

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
/* The reference compress() codes chunks against and decode() gives. */
static struct z4_ref *use_ref;
/* The reader flags decode() passes. */
static unsigned read_flags;

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
		if (d && z4_dedupe_mark(d, &f, i, fileno(in)))
			abort();
		if (use_ref && f.kind == Z4_FRAME_CHUNK) {
			/* The reference's bytes, as z4ai -r gives them. */
			if (f.ref_cap < f.raw_size) {
				f.refbuf = realloc(f.refbuf, f.raw_size);
				f.ref_cap = f.raw_size;
			}
			f.have_ref = z4_ref_read(use_ref, &f.tensor,
			    f.chunk_offset, f.raw_size, f.refbuf) == 1;
			f.ref_size = f.raw_size;
		}
		if (z4_frame_encode(&f, &eo) || z4_writer_put(w, &f))
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
	if (z4_in_init(&zi, fileno(in)) || z4_reader_new(&r, &zi, read_flags))
		abort();
	zi.ref = use_ref;
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

/* Pseudo-random 32 bits (xorshift32); *s must not be 0. */
static uint32_t
rnd(uint32_t *s)
{
	uint32_t x = *s;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

/*
 * f, ready to code: a frame of kind and dtype holding n raw bytes, a
 * copy of src unless it is NULL, as the one plane a chain starts from.
 */
static void
frame_with(struct z4_frame *f, unsigned kind, unsigned dtype,
    const void *src, size_t n)
{
	z4_frame_init(f);
	f->kind = kind;
	f->tensor.dtype = dtype;
	if (z4_frame_reserve(f, n))
		abort();
	if (src != NULL)
		memcpy(f->raw, src, n);
	f->raw_size = n;
	f->nplane = 1;
	f->plane[0].raw = f->raw;
	f->plane[0].raw_size = n;
}

/* frame_with, a CHUNK frame of a rows x cols matrix. */
static void
matrix_with(struct z4_frame *f, unsigned dtype, const void *src, size_t n,
    uint64_t rows, uint64_t cols)
{
	frame_with(f, Z4_FRAME_CHUNK, dtype, src, n);
	f->tensor.ndim = 2;
	f->tensor.shape[0] = rows;
	f->tensor.shape[1] = cols;
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

/* The varint at p; *n gets its length. */
static uint64_t
varint_at(const uint8_t *p, size_t *n)
{
	uint64_t v = 0;
	size_t i = 0;
	do
		v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
	while (p[i++] & 0x80);
	*n = i;
	return v;
}

/*
 * The Payload_Size of the frame at p; *sizes gets how many bytes it and
 * Raw_Size take at the start of Meta.
 */
static size_t
payload_of(const uint8_t *p, size_t *sizes)
{
	size_t a, b;
	uint64_t payload = varint_at(p + Z4_FRAME_FIXED_SIZE, &a);
	varint_at(p + Z4_FRAME_FIXED_SIZE + a, &b);
	*sizes = a + b;
	return (size_t)payload;
}

/* Offset of frame k (0 is the first after the stream header). */
static size_t
frame_at(const struct mem *m, unsigned k)
{
	size_t off = Z4_STREAM_HEADER_SIZE, sizes;
	while (k--) {
		const uint8_t *p = m->p + off;
		size_t payload = payload_of(p, &sizes);
		off += Z4_FRAME_FIXED_SIZE + z4_get16(p + 2) + 4 + payload;
	}
	return off;
}

/* Where frame k's Meta goes on after its sizes, from the frame's start. */
static size_t
after_sizes(const struct mem *m, unsigned k)
{
	size_t sizes;
	payload_of(m->p + frame_at(m, k), &sizes);
	return Z4_FRAME_FIXED_SIZE + sizes;
}

/* Re-compute the header checksum of the frame at off. */
static void
refix(struct mem *m, size_t off)
{
	size_t n = Z4_FRAME_FIXED_SIZE + z4_get16(m->p + off + 2);
	z4_put32(m->p + off + n, (uint32_t)z4_hash64(m->p + off, n));
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

/* Frame k with other Payload_Size and Raw_Size fields, decoded. */
static int
resized(const struct mem *good, unsigned k, uint64_t payload, uint64_t raw)
{
	size_t off = frame_at(good, k), sizes;
	payload_of(good->p + off, &sizes);
	struct mem m = { malloc(good->len + 20), 0 };
	size_t at = off + Z4_FRAME_FIXED_SIZE;
	memcpy(m.p, good->p, at);
	struct z4_buf b = { 0 };
	if (z4_buf_addv(&b, payload) || z4_buf_addv(&b, raw))
		abort();
	memcpy(m.p + at, b.p, b.len);
	memcpy(m.p + at + b.len, good->p + at + sizes, good->len - at - sizes);
	m.len = good->len - sizes + b.len;
	z4_put16(m.p + off + 2,
	    (uint16_t)(z4_get16(good->p + off + 2) - sizes + b.len));
	z4_buf_release(&b);
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
	m.p[5] = 1;	/* the draft before frames lost Payload_Checksum */
	z4_put64(m.p + 8, z4_hash64(m.p, 8));
	CHECK(decode(&m, NULL) == Z4_E_VERSION);
	m.p[5] = Z4_FORMAT_MINOR + 1;
	z4_put64(m.p + 8, z4_hash64(m.p, 8));
	CHECK(decode(&m, NULL) == Z4_E_VERSION);
	/*
	 * 0.2 to 0.5 lay frames out otherwise: these frames read as theirs
	 * fail.  Streams that those versions wrote are read in
	 * tests/z4cat.bats, from tests/golden/v0.5.
	 */
	for (uint8_t minor = 2; minor <= 5; minor++) {
		m.p[5] = minor;
		z4_put64(m.p + 8, z4_hash64(m.p, 8));
		CHECK(decode(&m, NULL) < 0);
	}
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
	size_t off = frame_at(&good, 0), sizes;
	size_t payload = payload_of(good.p + off, &sizes);
	CHECK(patched(&good, 0, 1, 2) == Z4_E_RESERVED);	/* flags */
	CHECK(patched(&good, 0, 0, 4) == Z4_E_RESERVED);	/* kind */
	CHECK(patched(&good, 0, 0, 7) == Z4_E_RESERVED);
	CHECK(resized(&good, 0, payload, Z4_CHUNK_MAX + 1) == Z4_E_LIMIT);
	CHECK(resized(&good, 0, Z4_CHUNK_MAX + 65537, 0) == Z4_E_LIMIT);
	CHECK(resized(&good, 0, payload, 0) == Z4_E_CORRUPT);
	CHECK(resized(&good, 0, payload + 1, 0) == Z4_E_CORRUPT);
	CHECK(patched(&good, 0, 4, 0x55) == Z4_E_CHECKSUM);	/* raw sum */
	/* Body of the glue frame: xform count, plane count, coder. */
	size_t B = M + sizes;
	CHECK(good.p[off + B] == 0 && good.p[off + B + 2] == Z4_CODER_STORED);
	CHECK(patched(&good, 0, B + 1, 0) == Z4_E_LIMIT);
	CHECK(patched(&good, 0, B + 1, 33) == Z4_E_LIMIT);
	CHECK(patched(&good, 0, B + 2, 9) == Z4_E_CODER);
	CHECK(patched(&good, 0, B + 2, 0x10) == Z4_E_RESERVED);
	/* The first plane has no size before it to repeat. */
	CHECK(patched(&good, 0, B + 2, 0x80) == Z4_E_CORRUPT);
	/* A coded plane has a coded size, which this meta lacks. */
	CHECK(patched(&good, 0, B + 2, Z4_CODER_RANS) == Z4_E_CORRUPT);
	/*
	 * CHUNK meta: bytes of the name shared with the one before, the
	 * rest's size and bytes, dtype, ndim, shape, offset.
	 */
	size_t T = after_sizes(&good, 1);
	CHECK(patched(&good, 1, T, 1) == Z4_E_CORRUPT);	/* none before */
	CHECK(patched(&good, 1, T + 1, 0xff) == Z4_E_LIMIT);
	CHECK(patched(&good, 1, T + 3, 99) == Z4_E_RESERVED);
	CHECK(patched(&good, 1, T + 4, 0x12) == Z4_E_RESERVED);
	CHECK(patched(&good, 1, T + 4, 0x82) == Z4_E_CORRUPT);
	CHECK(patched(&good, 1, T + 4, 9) == Z4_E_LIMIT);
	CHECK(patched(&good, 1, T + 2, 'z') == Z4_E_INDEX);	/* name */
	CHECK(patched(&good, 1, T + 5, 3) == Z4_E_INDEX);		/* shape */
	CHECK(patched(&good, 1, T + 7, 1) == Z4_E_CORRUPT);	/* offset */

	/* An unknown transform in the chain is named as such. */
	size_t meta = z4_get16(good.p + off + 2);
	struct mem x = { malloc(good.len + 2), good.len + 2 };
	memcpy(x.p, good.p, off + B);
	x.p[off + B] = 1;			/* Xform_Count */
	x.p[off + B + 1] = 200;			/* Xform_Id */
	x.p[off + B + 2] = 0;			/* Param_Size */
	memcpy(x.p + off + B + 3, good.p + off + B + 1,
	    good.len - off - B - 1);
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

/*
 * The top plane of a trained weight after FOLD and PLANES: its exponent's
 * low 6 bits, then its first two mantissa bits, for a value whose
 * magnitude is drawn from an exponential distribution.
 */
static uint8_t
folded_top(unsigned r)
{
	float x = -0.02f * logf(((float)(r & 0xffff) + 0.5f) / 65536.0f);
	uint32_t v;
	memcpy(&v, &x, 4);
	unsigned e = v >> 23 & 0xff;
	return e == 0 ? 0 : (uint8_t)((e & 63) << 2 | (v >> 21 & 3));
}

/*
 * The rANS table's Present field, as z4-frame(5) lays it out, and each
 * way it can break the rules.
 */
static void
test_rans_table(void)
{
	/* Symbols 10, 12, 13 and 20: Lo 10, Span 10, 9 bits between. */
	uint8_t src[400], back[400], dst[4096], bad[4096];
	static const uint8_t sym[4] = { 10, 12, 13, 20 };
	void *est = NULL, *dst_state = NULL;
	size_t out = 0;
	for (size_t i = 0; i < sizeof src; i++)
		src[i] = sym[i * 7 % 11 % 4];
	struct z4_code_in in = { src, sizeof src, 3, NULL };
	CHECK(z4_coder_rans.encode(&est, dst, sizeof dst, &out, &in) == 0);
	static const uint8_t present[] = { 3, 10, 10, 0x06, 0x00 };
	CHECK(memcmp(dst + 1, present, sizeof present) == 0);
	CHECK(z4_coder_rans.decode(&dst_state, back, sizeof src, dst,
	    out) == 0 && memcmp(back, src, sizeof src) == 0);
	/* Byte at, set to v: each must be rejected. */
	static const struct {
		size_t at;
		uint8_t v;
	} breaks[] = {
		{ 5, 0x02 },	/* a padding bit of the bitmap */
		{ 4, 0x07 },	/* symbol 11 too: 5 present, not 4 */
		{ 3, 246 },	/* Lo + Span past 255 */
		{ 1, 11 },	/* 12 symbols in a span of 11 */
	};
	for (size_t i = 0; i < sizeof breaks / sizeof *breaks; i++) {
		memcpy(bad, dst, out);
		bad[breaks[i].at] = breaks[i].v;
		CHECK(z4_coder_rans.decode(&dst_state, back, sizeof src, bad,
		    out) == Z4_E_DECODE);
	}
	/* One symbol: Span 0, and nothing else will do. */
	memset(src, 7, sizeof src);
	CHECK(z4_coder_rans.encode(&est, dst, sizeof dst, &out, &in) == 0);
	CHECK(dst[1] == 0 && dst[2] == 7 && dst[3] == 0);
	CHECK(z4_coder_rans.decode(&dst_state, back, sizeof src, dst,
	    out) == 0 && memcmp(back, src, sizeof src) == 0);
	dst[3] = 1;
	CHECK(z4_coder_rans.decode(&dst_state, back, sizeof src, dst,
	    out) == Z4_E_DECODE);
	/* A table of pairs names pairs 0 to 127, no more. */
	uint32_t seed = 5;
	for (size_t i = 0; i < sizeof src; i++) {
		seed = seed * 1103515245 + 12345;
		src[i] = folded_top(seed >> 16);
	}
	in.level = 9;
	CHECK(z4_coder_rans.encode(&est, dst, sizeof dst, &out, &in) == 0);
	CHECK((dst[0] & 0x80) && dst[2] + dst[3] <= 127);
	CHECK(z4_coder_rans.decode(&dst_state, back, sizeof src, dst,
	    out) == 0 && memcmp(back, src, sizeof src) == 0);
	dst[2] = (uint8_t)(128 - dst[3]);
	CHECK(z4_coder_rans.decode(&dst_state, back, sizeof src, dst,
	    out) == Z4_E_DECODE);
	z4_coder_rans.free_state(est);
	z4_coder_rans.free_state(dst_state);
}

/*
 * DIGRAMS: large planes of a narrow alphabet (a float's exponents) are
 * coded two bytes a symbol below level 7; each field of the table, as
 * z4-frame(5) lays it out, must be checked; and a plane decoded in
 * parts, as fused decoding does, must come out the same.
 */
static void
test_rans_digrams(void)
{
	enum { N = 300001 };
	uint8_t *src = malloc(N), *back = malloc(N), *bad;
	uint8_t *dst = malloc(z4_coder_rans.bound(N));
	void *est = NULL, *dst_state = NULL;
	uint32_t seed = 9;
	size_t out;

	bad = malloc(z4_coder_rans.bound(N));
	for (size_t i = 0; i < N; i++) {
		seed = seed * 1103515245 + 12345;
		src[i] = (uint8_t)(100 + __builtin_popcount(seed >> 16 & 0xfff));
	}
	for (size_t n = N - 1; n <= N; n++) {
		struct z4_code_in in = { src, n, 3, NULL };
		CHECK(z4_coder_rans.encode(&est, dst, z4_coder_rans.bound(n),
		    &out, &in) == 0);
		/*
		 * DIGRAMS, 2^14, 64 states; K1 bytes, from Lo at 100 or
		 * more to Lo + Span at 112 at most, all present.
		 */
		CHECK(dst[0] == (8 | 4 | 6 << 4) && dst[2] >= 100 &&
		    dst[2] + dst[3] <= 112 && dst[1] == dst[3]);
		for (int off = 0; off < 2; off++) {
			z4_simd_off = off;
			memset(back, 0, n);
			CHECK(z4_coder_rans.decode(&dst_state, back, n, dst,
			    out) == 0 && memcmp(back, src, n) == 0);
			CHECK(z4_coder_rans.decode(&dst_state, back, n, dst,
			    out - 1) < 0);
			/* In parts of 4096 bytes, the last one odd. */
			struct z4_rans_run run;
			int err = z4_rans_begin(&dst_state, &run, n, dst, out);
			for (size_t i = 0; i < n && !err; i += 4096)
				err = z4_rans_next(&run, back + i,
				    n - i < 4096 ? n - i : 4096);
			CHECK(err == 0 && z4_rans_end(&run) == 0 &&
			    memcmp(back, src, n) == 0);
			/* A part of odd size before the end is refused. */
			CHECK(z4_rans_begin(&dst_state, &run, n, dst, out) == 0 &&
			    z4_rans_next(&run, back, 4095) == Z4_E_DECODE);
		}
		z4_simd_off = 0;
		/* Level 9 takes digrams only where they are smaller. */
		in.level = 9;
		CHECK(z4_coder_rans.encode(&est, bad, z4_coder_rans.bound(n),
		    &out, &in) == 0 && z4_coder_rans.decode(&dst_state, back,
		    n, bad, out) == 0 && memcmp(back, src, n) == 0);
	}
	/* Byte at, set to v: each must be rejected. */
	struct z4_code_in in = { src, N, 3, NULL };
	CHECK(z4_coder_rans.encode(&est, dst, z4_coder_rans.bound(N), &out,
	    &in) == 0);
	unsigned k1 = dst[1] + 1u, k = z4_get16(dst + 4) + 1u;
	const struct {
		size_t at;
		uint8_t v;
	} breaks[] = {
		{ 0, 8 | 5 | 6 << 4 },		/* 2^15: past DIGRAMS' 2^14 */
		{ 0, 0x80 | 8 | 4 | 6 << 4 },	/* PAIRS with DIGRAMS */
		{ 1, (uint8_t)k1 },		/* K1 over Span + 1 */
		{ 2, (uint8_t)(256 - k1 + 1) },	/* Lo + Span past 255 */
		{ 4, (uint8_t)(k - 1 + 1) },	/* one digram more, or all */
	};
	for (size_t i = 0; i < sizeof breaks / sizeof *breaks; i++) {
		memcpy(bad, dst, out);
		bad[breaks[i].at] = breaks[i].v;
		CHECK(z4_coder_rans.decode(&dst_state, back, N, bad, out) ==
		    Z4_E_DECODE);
	}
	/* 13 values, 100 to 112: a bitmap of 169 bits, 7 of them padding. */
	CHECK(k1 == 13 && k < k1 * k1);
	memcpy(bad, dst, out);
	bad[6 + 169 / 8] |= 0x80;
	CHECK(z4_coder_rans.decode(&dst_state, back, N, bad, out) ==
	    Z4_E_DECODE);
	/*
	 * A few zeros among them: 14 bytes present, 0 and 100 to 112, so a
	 * bitmap of the 111 between; pairs placed by their bytes less 0.
	 * Then a few 200s too: 15 bytes over 201 values, pairs placed by
	 * rank.  The portable encoder writes the same bytes.
	 */
	for (int outliers = 1; outliers <= 2; outliers++) {
		for (size_t i = 0; i < N; i += 9973)
			src[i + outliers - 1] = outliers == 1 ? 0 : 200;
		CHECK(z4_coder_rans.encode(&est, dst, z4_coder_rans.bound(N),
		    &out, &in) == 0 && (dst[0] & 8) &&
		    dst[1] == 12 + outliers && dst[2] == 0 &&
		    dst[3] == (outliers == 1 ? 112 : 200));
		size_t out2;
		z4_simd_off = 1;
		CHECK(z4_coder_rans.encode(&est, bad, z4_coder_rans.bound(N),
		    &out2, &in) == 0 && out2 == out &&
		    memcmp(bad, dst, out) == 0);
		for (int off = 0; off < 2; off++) {
			z4_simd_off = off;
			CHECK(z4_coder_rans.decode(&dst_state, back, N, dst,
			    out) == 0 && memcmp(back, src, N) == 0);
		}
		z4_simd_off = 0;
	}
	/* Bytes of more than 128 values: one byte a symbol. */
	for (size_t i = 0; i < N; i++)
		src[i] = (uint8_t)(src[i] == 106 ? i % 200 : src[i]);
	CHECK(z4_coder_rans.encode(&est, dst, z4_coder_rans.bound(N), &out,
	    &in) == 0 && (dst[0] & 8) == 0);
	z4_coder_rans.free_state(est);
	z4_coder_rans.free_state(dst_state);
	free(src);
	free(back);
	free(dst);
	free(bad);
}

/* Bits at *at, least significant first, as z4-frame(5)'s Freqs has them. */
static void
put_bits_lsb(uint8_t *p, size_t *at, uint32_t v, unsigned k)
{
	for (unsigned i = 0; i < k; i++, (*at)++)
		p[*at / 8] |= (uint8_t)((v >> i & 1) << *at % 8);
}

/* A Rice code with parameter k, as z4-frame(5)'s Freqs has them. */
static void
put_rice_lsb(uint8_t *p, size_t *at, uint32_t v, unsigned k)
{
	put_bits_lsb(p, at, (1u << (v >> k)) - 1, v >> k);
	put_bits_lsb(p, at, 0, 1);
	put_bits_lsb(p, at, v, k);
}

/*
 * A plane whose table gives roots, made here from z4-frame(5) alone:
 * bytes 5, 6 and 7 with roots 10, 20 and 7, so counts 100, 400 and 49,
 * which scale to 187, 746 and 91 of 1024; one state.  Then the damage a
 * decoder must refuse: a root of 0, one over 8192, roots in a table of
 * digrams.
 */
static void
test_rans_roots_spec(void)
{
	static const uint32_t freq[3] = { 187, 746, 91 }, start[3] = { 0, 187,
	    933 };
	enum { N = 3000 };
	uint8_t src[N], back[N], plane[64 + 2 * N];
	uint16_t words[N];
	void *state = NULL;
	uint32_t seed = 9, x = 1u << 15;
	size_t h = 0, bit = 0, nw = 0;

	for (size_t i = 0; i < N; i++) {
		seed = seed * 1103515245 + 12345;
		uint32_t r = (seed >> 16) % 1024;
		src[i] = (uint8_t)(r < 187 ? 5 : r < 933 ? 6 : 7);
	}
	memset(plane, 0, sizeof plane);
	plane[h++] = 0;			/* B 10, one state */
	plane[h++] = 2;			/* K - 1 */
	plane[h++] = 5;			/* Lo */
	plane[h++] = 2;			/* Span: 5, 6, 7, no bitmap */
	plane[h++] = 0x10 | 3;		/* ROOTS, k 3 */
	put_rice_lsb(plane + h, &bit, 10 - 1, 3);
	put_rice_lsb(plane + h, &bit, 2 * (20 - 10), 3);
	put_rice_lsb(plane + h, &bit, 2 * (20 - 7) - 1, 3);
	h += (bit + 7) / 8;
	for (size_t i = N; i-- > 0;) {
		unsigned d = src[i] - 5u;
		if (x >= freq[d] << (31 - 10)) {
			words[nw++] = (uint16_t)x;
			x >>= 16;
		}
		x = x / freq[d] * 1024 + x % freq[d] + start[d];
	}
	z4_put32(plane + h, x);
	h += 4;
	while (nw > 0)
		z4_put16(plane + h, words[--nw]), h += 2;
	CHECK(z4_coder_rans.decode(&state, back, N, plane, h) == 0 &&
	    memcmp(back, src, N) == 0);

	/*
	 * One byte value, 5, of root r: any root gives it all of 2^10, and
	 * the state stays 2^15.  8192 is the largest root.
	 */
	for (uint32_t r = 8190; r <= 8194; r++) {
		uint8_t only[16] = { 0, 0, 5, 0, 0x10 | 13 };
		bit = 0;
		put_rice_lsb(only + 5, &bit, r - 1, 13);
		size_t at = 5 + (bit + 7) / 8;
		z4_put32(only + at, 1u << 15);
		int err = z4_coder_rans.decode(&state, back, 3, only, at + 4);
		CHECK(r <= 8192 ? err == 0 && back[0] == 5 && back[2] == 5 :
		    err == Z4_E_DECODE);
	}
	/*
	 * Bytes 5 and 6 of roots 1 and 1, 512 of 1024 each: the byte 5 is
	 * the state 2^16.  A second root 1 below the first, 0, is refused.
	 */
	uint8_t two[] = { 0, 1, 5, 1, 0x10, 0x00, 0, 0, 1, 0 };
	CHECK(z4_coder_rans.decode(&state, back, 1, two, sizeof two) == 0 &&
	    back[0] == 5);
	two[5] = 0x02;		/* bits 0: root 1; then 1, 0: down by 1 */
	CHECK(z4_coder_rans.decode(&state, back, 1, two, sizeof two) ==
	    Z4_E_DECODE);
	/* ROOTS in a table of digrams: one digram of bytes 5 and 6. */
	uint8_t one[] = { 0x08, 1, 5, 1, 0, 0, 0x02, 0x10, 7, 0x00, 0x80,
	    0, 0 };
	CHECK(z4_coder_rans.decode(&state, back, 3, one, sizeof one) ==
	    Z4_E_DECODE);
	z4_coder_rans.free_state(state);
}

/*
 * A plane of digrams made here from z4-frame(5) alone, with each state
 * count a decoder must take (the z4 encoder gives digrams 64): Lo 5, W
 * 3, all nine pairs present, B 10.  Every size from 1 to 40 ends a
 * round at a different place, and 4097 runs whole rounds in SIMD.
 */
static void
test_rans_digram_spec(void)
{
	static const uint32_t freq[9] = { 300, 100, 60, 100, 150, 90, 40,
	    120, 64 };
	static const unsigned states[] = { 1, 4, 8, 16, 32, 64 };
	enum { MAXN = 4097 };
	uint8_t src[MAXN], back[MAXN], plane[64 + 4 * 64 + 2 * MAXN];
	uint16_t words[MAXN];
	void *state = NULL;
	uint32_t seed = 3;

	for (size_t i = 0; i < MAXN; i++) {
		seed = seed * 1103515245 + 12345;
		src[i] = (uint8_t)(5 + (seed >> 16) % 3);
	}
	for (size_t si = 0; si < sizeof states / sizeof *states; si++)
		for (size_t n = 1; n <= MAXN; n = n == 40 ? MAXN : n + 1) {
			unsigned nst = states[si];
			uint32_t x[64];
			size_t nw = 0, h = 0, bit = 0;
			memset(plane, 0, sizeof plane);
			plane[h++] = (uint8_t)(8 | __builtin_ctz(nst) << 4);
			plane[h++] = 2;		/* K1 - 1 */
			plane[h++] = 5;		/* Lo */
			plane[h++] = 2;		/* Span: 5, 6, 7 */
			plane[h++] = 8;		/* K - 1, then no bitmap */
			plane[h++] = 0;
			plane[h++] = 8;		/* Rice_K */
			unsigned k = 8;
			for (unsigned d = 0; d < 8; d++) {
				uint32_t v = freq[d] - 1;
				put_bits_lsb(plane + h, &bit, (1u << (v >> k)) - 1,
				    v >> k);
				put_bits_lsb(plane + h, &bit, 0, 1);
				put_bits_lsb(plane + h, &bit, v, k);
				k = 31 - (unsigned)__builtin_clz(freq[d]);
			}
			h += (bit + 7) / 8;
			if (n % 2)
				plane[h++] = src[n - 1];
			for (unsigned j = 0; j < nst; j++)
				x[j] = 1u << 15;
			for (size_t i = n / 2; i-- > 0;) {
				unsigned d = (src[2 * i] - 5u) * 3 + src[2 * i + 1] -
				    5u, start = 0;
				for (unsigned e = 0; e < d; e++)
					start += freq[e];
				uint32_t *xj = &x[i % nst];
				if (*xj >= freq[d] << (31 - 10)) {
					words[nw++] = (uint16_t)*xj;
					*xj >>= 16;
				}
				*xj = *xj / freq[d] * 1024 + *xj % freq[d] + start;
			}
			for (unsigned j = 0; j < nst; j++, h += 4)
				z4_put32(plane + h, x[j]);
			while (nw > 0)
				z4_put16(plane + h, words[--nw]), h += 2;
			for (int off = 0; off < 2; off++) {
				z4_simd_off = off;
				memset(back, 0, n);
				CHECK(z4_coder_rans.decode(&state, back, n, plane,
				    h) == 0 && memcmp(back, src, n) == 0);
			}
			z4_simd_off = 0;
		}
	/*
	 * Bytes 5 and 6 (K1 2, Lo 5, Span 1); one digram present of four,
	 * (5, 6): a bitmap of 4 bits, symbol 1 set; no Freqs; the odd byte
	 * 7; one state, 2^15, that stays.
	 */
	uint8_t one[] = { 0x08, 1, 5, 1, 0, 0, 0x02, 0, 7, 0x00, 0x80, 0, 0 };
	CHECK(z4_coder_rans.decode(&state, back, 3, one, sizeof one) == 0 &&
	    back[0] == 5 && back[1] == 6 && back[2] == 7);
	one[6] = 0x12;		/* a padding bit */
	CHECK(z4_coder_rans.decode(&state, back, 3, one, sizeof one) ==
	    Z4_E_DECODE);
	one[6] = 0x03;		/* two present, where K says one */
	CHECK(z4_coder_rans.decode(&state, back, 3, one, sizeof one) ==
	    Z4_E_DECODE);
	z4_coder_rans.free_state(state);
}

/* rANS on the distributions that stress its frequency tables. */
static void
test_rans(void)
{
	/* 1 to 64 states (64 from 256 KiB); odd sizes end mid-round. */
	size_t sizes[] = { 1, 2, 7, 16, 255, 1000, 4097, 70000, 70005,
	    262144, 262144 + 31, 300001 };
	enum { MAX = 300001 };
	uint8_t *src = malloc(MAX), *back = malloc(MAX);
	uint8_t *dst = malloc(z4_coder_rans.bound(MAX));
	uint8_t *dst2 = malloc(z4_coder_rans.bound(MAX));
	void *est = NULL, *dst_state = NULL;
	uint32_t seed = 1;
	unsigned fine = 0;

	for (int kind = 0; kind < 8; kind++) {
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
				    /* 100 symbols too rare for a 2^12 table */
				    kind == 6 ? (uint8_t)(r % 8192 < 100 ?
				    1 + r % 100 : 0) :
				    kind == 7 ? folded_top(r) :
				    (uint8_t)(i % 3 ? 0 : r);
			}
			for (int level = 1; level <= 9; level += 4) {
				struct z4_code_in in = { src, n, level, NULL };
				int err = z4_coder_rans.encode(&est, dst,
				    z4_coder_rans.bound(n), &out, &in);
				CHECK(err == 0);
				/*
				 * Levels 7 to 9 keep one state, and may take
				 * finer tables, below 256 KiB.
				 */
				if (level == 9 && n < 262144)
					CHECK((dst[0] >> 4 & 7) == 0);
				if (n >= 262144 && kind != 0)
					CHECK((dst[0] >> 4 & 7) == 6);
				fine += level == 9 && (dst[0] & 15) > 2;
				/*
				 * The top plane of floats takes a table of
				 * pairs, half the size, where tables count.
				 */
				if (kind == 7 && n >= 1000 && n < 262144)
					CHECK(dst[0] >> 7);
				CHECK(err == 0 && z4_coder_rans.decode(&dst_state,
				    back, n, dst, out) == 0 &&
				    memcmp(back, src, n) == 0);
				/*
				 * The portable encoder writes the same bytes,
				 * and the portable decoder reads them.
				 */
				z4_simd_off = 1;
				size_t out2;
				CHECK(z4_coder_rans.encode(&est, dst2,
				    z4_coder_rans.bound(n), &out2, &in) == 0 &&
				    out2 == out && memcmp(dst, dst2, out) == 0);
				memset(back, 0, n);
				CHECK(err == 0 && z4_coder_rans.decode(&dst_state,
				    back, n, dst, out) == 0 &&
				    memcmp(back, src, n) == 0);
				CHECK(z4_coder_rans.decode(&dst_state, back, n,
				    dst, out - 1) < 0);
				z4_simd_off = 0;
				/* One byte short or long must not decode. */
				CHECK(z4_coder_rans.decode(&dst_state, back, n,
				    dst, out - 1) < 0);
				/* 128 states, reserved, must not either. */
				dst[0] |= 7 << 4;
				CHECK(z4_coder_rans.decode(&dst_state, back, n,
				    dst, out) == Z4_E_DECODE);
			}
		}
	}
	CHECK(fine > 0);
	z4_coder_rans.free_state(dst_state);
	free(src);
	free(back);
	free(dst);
	free(dst2);
}

/*
 * The selector on a chunk of 2 MiB, judged on four pieces of it: 16
 * values everywhere make a palette; the same with 4096 values where no
 * piece looks must not, though the sample says only a palette is worth
 * building, and the chunk must still come back.
 */
static void
test_select_sampled(void)
{
	enum { N = 1 << 20 };
	struct z4_encode_opts o = { .level = 3 };
	uint8_t *buf = malloc(2 * N);
	uint32_t seed = 11;

	/* Values whose planes cost twice their palette's index. */
	uint16_t values[16];
	for (unsigned j = 0; j < 16; j++)
		values[j] = (uint16_t)(0x3000 + (rnd(&seed) & 0x0fff));
	for (int spoil = 0; spoil < 2; spoil++) {
		for (size_t i = 0; i < N; i++) {
			/* Pieces start at 0, 512, 1024 and 1536 KiB. */
			int many = spoil && i >= 50000 && i < 100000;
			uint32_t r = rnd(&seed);
			z4_put16(buf + 2 * i, many ? (uint16_t)(0x3000 +
			    (r & 0x0fff)) : values[r % 16]);
		}
		struct z4_frame f;
		matrix_with(&f, Z4_DT_BF16, buf, 2 * N, N / 1024, 1024);
		CHECK(z4_frame_encode(&f, &o) == 0 && f.nxform >= 1 &&
		    (f.xform[0].id == Z4_XF_PALETTE) == !spoil);
		z4_frame_release(&f);
		CHECK(roundtrips(buf, 2 * N, 2 * N, Z4_DT_BF16, 3));
	}

	/*
	 * Bytes of a skewed source, none 0, 2 MiB: zstd is tried whole
	 * only where its sample beats rANS, as it does when a block of
	 * 1000 repeats.
	 */
	for (int repeat = 0; repeat < 2; repeat++) {
		struct z4_frame f;
		frame_with(&f, Z4_FRAME_CHUNK, Z4_DT_U8, NULL, 2 * N);
		for (size_t i = 0; i < 2 * N; i++) {
			uint32_t r = rnd(&seed);
			f.raw[i] = repeat && i >= 1000 ? f.raw[i - 1000] :
			    (uint8_t)(100 + (r & r >> 8 & 15));
		}
		/*
		 * Bytes that only blocks outside the counted sample hold,
		 * one of them in the last bytes, past the vector loop: rANS
		 * must still have a frequency for each.
		 */
		f.raw[4096 + 17] = 7;
		f.raw[3 * 4096 + 40] = 250;
		f.raw[2 * N - 1] = 1;
		CHECK(z4_frame_encode(&f, &o) == 0 && f.nplane == 1 &&
		    f.plane[0].coder == (repeat ? Z4_CODER_ZSTD :
		    Z4_CODER_RANS));
		CHECK(roundtrips(f.raw, 2 * N, 2 * N, Z4_DT_U8, 3));
		z4_frame_release(&f);
	}
	free(buf);
}

/*
 * Chunks that agree where they are sampled but differ between the
 * samples: each is matched by its own bytes, not by its sample.
 */
static void
test_refs_sampled(void)
{
	enum { N = 20000 };	/* bytes a tensor; samples at 0, 7952, 15904 */
	static const char json[] =
	    "{\"a\":{\"dtype\":\"BF16\",\"shape\":[10000],"
	    "\"data_offsets\":[0,20000]},"
	    "\"b\":{\"dtype\":\"BF16\",\"shape\":[10000],"
	    "\"data_offsets\":[20000,40000]},"
	    "\"c\":{\"dtype\":\"BF16\",\"shape\":[10000],"
	    "\"data_offsets\":[40000,60000]},"
	    "\"d\":{\"dtype\":\"BF16\",\"shape\":[10000],"
	    "\"data_offsets\":[60000,80000]}}";
	size_t hn = sizeof json - 1, n = 8 + hn + 4 * N;
	uint8_t *st = malloc(n), *data = st + 8 + hn;
	z4_put64(st, hn);
	memcpy(st + 8, json, hn);
	/* a, then b = a but for one byte, c = b, d = a. */
	for (size_t i = 0; i < N; i++)
		data[i] = (uint8_t)(i * 2654435761u >> 13);
	memcpy(data + N, data, N);
	data[N + 5000] ^= 1;
	memcpy(data + 2 * N, data + N, N);
	memcpy(data + 3 * N, data, N);
	use_dedupe = 1;
	struct mem m = compress(st, n, 0, -1, 3), o;
	use_dedupe = 0;
	CHECK(decode(&m, &o) == 0 && o.len == n && memcmp(o.p, st, n) == 0);
	/* Frames: glue, a (KEEP), b (KEEP), c (REF), d (REF). */
	CHECK(m.p[frame_at(&m, 1)] == Z4_FRAME_CHUNK &&
	    m.p[frame_at(&m, 1) + 1] == Z4_FRAME_KEEP);
	CHECK(m.p[frame_at(&m, 2)] == Z4_FRAME_CHUNK &&
	    m.p[frame_at(&m, 2) + 1] == Z4_FRAME_KEEP);
	CHECK(m.p[frame_at(&m, 3)] == Z4_FRAME_REF);
	CHECK(m.p[frame_at(&m, 4)] == Z4_FRAME_REF);
	free(o.p);
	free(m.p);
	free(st);
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
	/*
	 * Every truncation is found, and every bit flipped either is or
	 * decodes to the original: a few bits of the ZSTD planes (an unused
	 * bit of a Zstandard frame header, its window size) do not change
	 * what they decode to.
	 */
	int silent = 0, same = 0;
	for (size_t i = 0; i < good.len; i++) {
		for (int b = 0; b < 8; b++) {
			good.p[i] ^= (uint8_t)(1 << b);
			if (decode(&good, &o) >= 0) {
				int orig = o.len == n && !memcmp(o.p, st, n);
				same += orig;
				silent += !orig;
				free(o.p);
			}
			good.p[i] ^= (uint8_t)(1 << b);
		}
		struct mem t = { good.p, i };
		silent += decode(&t, NULL) >= 0;
	}
	CHECK(silent == 0);
	printf("# refs: %d of %zu bit flips decode to the original\n", same, good.len * 8);
	CHECK(same <= 24);
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

	matrix_with(&f, dtype, raw, n, n / z4_dtype_width(dtype) / cols, cols);
	ok = z4_chain_push(&f, x) == 0 && z4_chain_decode(&f) == 0 &&
	    f.raw_size == n && memcmp(f.raw, raw, n) == 0;
	z4_frame_release(&f);
	return ok;
}

/*
 * A finite float rounded to binary16, ties to even, worked out apart from
 * the library: the quantum of a's binade (2^-24 below 2^-14), the
 * quotient rounded in the default mode, a carry into the next binade.
 */
static uint16_t
ref_f16(float f)
{
	uint16_t sign = signbit(f) ? 0x8000 : 0;
	double a = fabs((double)f);
	int e;
	if (a == 0)
		return sign;
	frexp(a, &e);
	int E = e - 1 < -14 ? -14 : e - 1;	/* a = 1.m * 2^E, or subnormal */
	double m = nearbyint(a / ldexp(1, E - 10));
	if (m >= 2048)
		m /= 2, E++;
	if (E > 15)
		return sign | 0x7c00;
	if (m < 1024)
		return sign | (uint16_t)m;
	return sign | (uint16_t)((E + 15) << 10 | ((int)m - 1024));
}

/* The value of finite binary16 bits. */
static float
ref_f16_value(uint16_t h)
{
	int e = h >> 10 & 31, m = h & 1023;
	float v = e ? ldexpf((float)(1024 + m), e - 25) : ldexpf((float)m, -24);
	return h & 0x8000 ? -v : v;
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
	/* Not on any grid: a NaN, an infinity, a value off it. */
	static const uint32_t off[] = { 0x7fc00000u, 0xff800000u, 0x3f800001u };
	for (unsigned j = 0; j < 3; j++) {
		uint8_t copy[1024];
		memcpy(copy, buf, sizeof copy);
		z4_put32(copy + 4 * (37 + j), off[j]);
		CHECK(!xform_roundtrip(&z4_xform_grid_row, Z4_DT_F32, 64, copy,
		    1024));
	}

	/*
	 * BF16 groups of 64 as GPTQ makes them: integers -15 .. 15 with a
	 * largest magnitude that varies by group, times an fp16 scale.  With
	 * 8 significant bits, many scales fit a group; the grid must find
	 * the integers themselves, which are the smallest to code.
	 */
	enum { G = 64, NG = 16 };
	uint8_t q[2 * G * NG];
	int8_t want[G * NG];
	uint32_t seed = 3;
	for (size_t g = 0; g < NG; g++) {
		int top = 4 + (int)(g % 12);
		float scale = 0.001953125f * (float)(1000 + 37 * g) / 1024;
		for (size_t i = 0; i < G; i++) {
			int k = (int)(rnd(&seed) % (2u * top + 1)) - top;
			k = i == 0 ? top : i == 1 ? 1 : k;
			want[g * G + i] = (int8_t)k;
			float v = (float)k * scale;
			uint32_t u;
			memcpy(&u, &v, 4);
			u += 0x7fff + (u >> 16 & 1);
			z4_put16(q + 2 * (g * G + i), (uint16_t)(u >> 16));
		}
	}
	struct z4_frame f;
	frame_with(&f, Z4_FRAME_CHUNK, Z4_DT_BF16, q, sizeof q);
	CHECK(z4_chain_push(&f, &z4_xform_grid_64) == 0 && f.nplane == 2 &&
	    f.plane[1].raw_size == G * NG &&
	    memcmp(f.plane[1].raw, want, G * NG) == 0);
	z4_frame_release(&f);

	/*
	 * MXFP4 in BF16: E2M1 values (half an integer up to 12) times a
	 * power of two per block of 32, neighbouring blocks 2^6 apart, so
	 * that no scale fits a group of 64.  Groups of 32 do, and the
	 * encoder takes them over every other chain; the whole goes back.
	 */
	enum { MX = 32, NMX = 512 };
	static const float e2m1[8] = { 0, 0.5f, 1, 1.5f, 2, 3, 4, 6 };
	uint8_t *mx = malloc(2 * MX * NMX);
	for (size_t b = 0; b < NMX; b++) {
		float scale = ldexpf(1, b % 2 ? -9 : -3);
		for (size_t i = 0; i < MX; i++) {
			uint32_t r = rnd(&seed);
			float v = e2m1[i == 0 ? 7 : r % 8] * scale *
			    (r >> 8 & 1 ? -1.0f : 1.0f);
			uint32_t u;
			memcpy(&u, &v, 4);
			z4_put16(mx + 2 * (b * MX + i), (uint16_t)(u >> 16));
		}
	}
	frame_with(&f, Z4_FRAME_CHUNK, Z4_DT_BF16, mx, 2 * MX * NMX);
	CHECK(z4_chain_push(&f, &z4_xform_grid_64) == 1);
	z4_frame_release(&f);
	CHECK(xform_roundtrip(&z4_xform_grid_32, Z4_DT_BF16, 2, mx,
	    2 * MX * NMX));
	struct z4_encode_opts o = { .level = 3 };
	frame_with(&f, Z4_FRAME_CHUNK, Z4_DT_BF16, mx, 2 * MX * NMX);
	CHECK(z4_frame_encode(&f, &o) == 0 && f.nxform == 1 &&
	    f.xform[0].id == Z4_XF_GRID &&
	    z4_get32(f.xform[0].param + 2) == MX);
	memset(f.raw, 0, f.raw_size);
	CHECK(z4_chain_decode(&f) == 0 && memcmp(f.raw, mx, 2 * MX * NMX) == 0);
	z4_frame_release(&f);
	free(mx);

	/*
	 * F16: every k from -127 to 127 and -0.0 times scales from the
	 * smallest subnormal to 256, each product rounded to binary16 by
	 * ref_f16.  The grid must take each row whole, its decoder rounding
	 * as IEEE 754 does, subnormals, ties and carries into the exponent
	 * included.
	 */
	static const uint16_t f16_scales[] = { 0x0001, 0x0155, 0x03ff, 0x0400,
	    0x1555, 0x2e66, 0x3c00, 0x3c01, 0x4d55, 0x57ff, 0x5a00, 0x5c00 };
	for (size_t j = 0; j < sizeof f16_scales / sizeof f16_scales[0]; j++) {
		uint8_t row[2 * 256];
		float sh = ref_f16_value(f16_scales[j]);
		for (int i = 0; i < 256; i++)
			z4_put16(row + 2 * i, i == 255 ? 0x8000 :
			    ref_f16((float)(i - 127) * sh));
		CHECK(xform_roundtrip(&z4_xform_grid_row, Z4_DT_F16, 256, row,
		    sizeof row));
	}
	/*
	 * The decoder alone on what no encoder writes, F16 from binary32
	 * scales, whose products round below 2^-14 as well as above.
	 */
	static const float scales32[] = { 3.3e-9f, 1.7e-7f, 0.1f, 1.0f / 3,
	    100.3f };
	for (size_t j = 0; j < sizeof scales32 / sizeof scales32[0]; j++) {
		uint8_t scale[4], ks[255];
		uint32_t sb;
		memcpy(&sb, &scales32[j], 4);
		z4_put32(scale, sb);
		for (int i = 0; i < 255; i++)
			ks[i] = (uint8_t)(i - 127);
		frame_with(&f, Z4_FRAME_CHUNK, Z4_DT_F16, NULL, 2 * 255);
		f.nxform = 1;
		f.xform[0] = (struct z4_xform_step){ .id = Z4_XF_GRID,
		    .param_size = 6, .param = { Z4_DT_F16, 0 } };
		z4_put32(f.xform[0].param + 2, 255);
		f.nplane = 2;
		f.plane[0].raw = scale;
		f.plane[0].raw_size = 4;
		f.plane[1].raw = ks;
		f.plane[1].raw_size = 255;
		int same = z4_chain_decode(&f) == 0;
		for (int i = 0; i < 255 && same; i++)
			same = z4_get16(f.raw + 2 * i) ==
			    ref_f16((float)(i - 127) * scales32[j]);
		CHECK(same);
		z4_frame_release(&f);
	}
	/*
	 * INT8 per row from a binary32 scale, dequantised in single
	 * precision, then rounded to BF16 or F16: no binary16 scale gives
	 * those roundings, so the grid takes binary32 scales, found from
	 * the intervals the elements allow.
	 */
	enum { R8 = 8, C8 = 512 };
	uint8_t *i8 = malloc(2 * R8 * C8);
	for (int d = 0; d < 2; d++) {
		unsigned dt = d ? Z4_DT_F16 : Z4_DT_BF16;
		for (size_t r = 0; r < R8; r++) {
			float s8 = (0.0131f + 0.0017f * (float)r) / 127;
			for (size_t i = 0; i < C8; i++) {
				int kk = i == 0 ? 127 : i == 1 ? -1 :
				    (int)(rnd(&seed) % 255) - 127;
				float v = (float)kk * s8;
				uint32_t u;
				memcpy(&u, &v, 4);
				z4_put16(i8 + 2 * (r * C8 + i), d ? ref_f16(v) :
				    (uint16_t)((u + 0x7fff + (u >> 16 & 1)) >> 16));
			}
		}
		matrix_with(&f, dt, i8, 2 * R8 * C8, R8, C8);
		CHECK(z4_frame_encode(&f, &o) == 0 && f.nxform == 1 &&
		    f.xform[0].id == Z4_XF_GRID && f.xform[0].param[1] == 0);
		memset(f.raw, 0, f.raw_size);
		CHECK(z4_chain_decode(&f) == 0 &&
		    memcmp(f.raw, i8, 2 * R8 * C8) == 0);
		z4_frame_release(&f);
	}
	free(i8);

	/*
	 * Rows of 32 holding 127 s and s, each rounded to BF16 by up to
	 * 2^-8, over 2048 scales from 2^-20 to 2^20: the magnitudes span
	 * up to 128 to 1, and the grid passes over no row of them.
	 */
	enum { RS = 2048, CS = 32 };
	uint8_t *span = malloc(2 * RS * CS);
	for (size_t r = 0; r < RS; r++) {
		float sc = ldexpf(1 + (float)(rnd(&seed) % 4096) / 4096,
		    (int)(rnd(&seed) % 41) - 20);
		for (size_t i = 0; i < CS; i++) {
			int kk = i == 0 ? 127 : i == 1 ? 1 :
			    (int)(rnd(&seed) % 255) - 127;
			float v = (float)kk * sc;
			uint32_t u;
			memcpy(&u, &v, 4);
			z4_put16(span + 2 * (r * CS + i),
			    (uint16_t)((u + 0x7fff + (u >> 16 & 1)) >> 16));
		}
	}
	matrix_with(&f, Z4_DT_BF16, span, 2 * RS * CS, RS, CS);
	CHECK(z4_chain_push(&f, &z4_xform_grid_row) == 0 && f.nplane == 2);
	memset(f.raw, 0, f.raw_size);
	CHECK(z4_chain_decode(&f) == 0 &&
	    memcmp(f.raw, span, 2 * RS * CS) == 0);
	z4_frame_release(&f);
	free(span);

	/* GPTQ-like groups of 64 in F16: the grid finds the integers. */
	for (size_t g = 0; g < NG; g++) {
		float scale = 0.001953125f * (float)(1000 + 37 * g) / 1024;
		for (size_t i = 0; i < G; i++)
			z4_put16(q + 2 * (g * G + i),
			    ref_f16((float)want[g * G + i] * scale));
	}
	frame_with(&f, Z4_FRAME_CHUNK, Z4_DT_F16, q, sizeof q);
	CHECK(z4_chain_push(&f, &z4_xform_grid_64) == 0 && f.nplane == 2 &&
	    memcmp(f.plane[1].raw, want, G * NG) == 0);
	z4_frame_release(&f);
}

/* ------------------------------------------------------------------
 * DELTA-MODEL (transform 7): a float chunk coded against its reference.
 */

static const unsigned model_dtypes[] = { Z4_DT_BF16, Z4_DT_F16, Z4_DT_F32 };

static uint32_t
elem(const uint8_t *p, size_t i, unsigned w)
{
	return w == 2 ? z4_get16(p + 2 * i) : z4_get32(p + 4 * i);
}

static void
set_elem(uint8_t *p, size_t i, unsigned w, uint32_t v)
{
	if (w == 2)
		z4_put16(p + 2 * i, (uint16_t)v);
	else
		z4_put32(p + 4 * i, v);
}

/*
 * The bits of a weight of dtype from 32 random bits: any sign and
 * mantissa, one of eight exponents (about 2^-11 to 2^-4 for BF16 and
 * F32, 2^-8 to 2^-1 for F16), as in a trained layer.
 */
static uint32_t
weight(unsigned dtype, uint32_t r)
{
	switch (dtype) {
	case Z4_DT_BF16:
		return (r >> 31) << 15 | (116 + (r >> 7 & 7)) << 7 | (r & 0x7f);
	case Z4_DT_F16:
		return (r >> 31) << 15 | (7 + (r >> 10 & 7)) << 10 |
		    (r & 0x3ff);
	default:
		return (r >> 31) << 31 | (116 + (r >> 23 & 7)) << 23 |
		    (r & 0x7fffff);
	}
}

/*
 * The next float up (or down) from bits u of a w-byte float, one unit
 * in the last place: -0.0 is just below +0.0.  Not for the largest
 * values of either sign.
 */
static uint32_t
ulp_step(uint32_t u, unsigned w, int up)
{
	uint32_t sign = 1u << (8 * w - 1);
	if (!(u & sign))
		return up ? u + 1 : u ? u - 1 : sign;
	return up ? ((u & (sign - 1)) ? u - 1 : 0) : u + 1;
}

/* A CHUNK frame of dtype holding cur (n bytes), ref its reference's. */
static void
model_frame(struct z4_frame *f, unsigned dtype, const uint8_t *cur,
    const uint8_t *ref, size_t n)
{
	z4_frame_init(f);
	f->kind = Z4_FRAME_CHUNK;
	f->tensor.dtype = dtype;
	f->tensor.flags = Z4_TENSOR_SHAPE_UNKNOWN;
	if (z4_frame_reserve(f, n) || (f->refbuf = malloc(n ? n : 1)) == NULL)
		abort();
	memcpy(f->raw, cur, n);
	f->raw_size = n;
	memcpy(f->refbuf, ref, n);
	f->ref_cap = f->ref_size = n;
	f->have_ref = 1;
	f->nplane = 1;
	f->plane[0].raw = f->raw;
	f->plane[0].raw_size = n;
}

/*
 * Undo the chain of f (DELTA-MODEL pushed) with the m bytes at p as its
 * plane.  The reference's bytes are taken as fetched and checked
 * (ref_ready): the transform's decoder alone is tested.  f->raw is
 * scribbled on first, so what it holds after is what was decoded.
 */
static int
model_undo(struct z4_frame *f, const uint8_t *p, size_t m)
{
	memset(f->raw, 0xa5, f->raw_size);
	f->plane[0].raw = p;
	f->plane[0].raw_size = m;
	f->ref_ready = 1;
	return z4_chain_decode(f);
}

/*
 * DELTA-MODEL on n bytes of cur against ref, a chunk of dtype: 1 if it
 * does not apply; 0 if it made one plane that decodes back to exactly
 * cur (*coded gets the plane's size); -1 if anything else.
 */
static int
model_roundtrip(unsigned dtype, const uint8_t *cur, const uint8_t *ref,
    size_t n, size_t *coded)
{
	struct z4_frame f;
	int ret;

	model_frame(&f, dtype, cur, ref, n);
	ret = z4_chain_push(&f, &z4_xform_delta_model);
	if (ret == 0) {
		*coded = f.plane[0].raw_size;
		ret = f.nxform == 1 && f.xform[0].id == Z4_XF_DELTA_MODEL &&
		    f.nplane == 1 && *coded <= n &&
		    model_undo(&f, f.plane[0].raw, *coded) == 0 &&
		    f.raw_size == n && memcmp(f.raw, cur, n) == 0 ? 0 : -1;
	} else if (ret != 1) {
		ret = -1;
	}
	z4_frame_release(&f);
	return ret;
}

/*
 * A reference of many tensors with names of every length up to the
 * longest (4096 bytes), some the beginning of others, listed out of
 * order: each is found by name through both kinds of reference, the
 * safetensors file and its z4 stream, and one of another shape or of a
 * name not there is not.
 */
static void
test_ref_names(void)
{
	enum { K = 300, DATA = 8 };
	static char name[Z4_NAME_MAX + 1];
	struct z4_buf json = { 0 };
	uint8_t data[K * DATA];
	size_t len[K];

	memset(name, 'n', sizeof name - 1);
	z4_buf_add(&json, "{", 1);
	for (size_t i = 0; i < K; i++) {
		/* Tensor i: a name of len[i] bytes, data at slot K - 1 - i. */
		len[i] = i == K - 1 ? Z4_NAME_MAX : (i * 37) % 700;
		char entry[128];
		int m = snprintf(entry, sizeof entry,
		    "\":{\"dtype\":\"U8\",\"shape\":[%d],"
		    "\"data_offsets\":[%zu,%zu]}", DATA,
		    (K - 1 - i) * DATA, (K - i) * DATA);
		z4_buf_add(&json, i ? ",\"" : "\"", i ? 2 : 1);
		z4_buf_add(&json, name, len[i]);
		z4_buf_add(&json, entry, (size_t)m);
		for (size_t j = 0; j < DATA; j++)
			data[(K - 1 - i) * DATA + j] = (uint8_t)(i * 7 + j);
	}
	z4_buf_add(&json, "}", 1);
	size_t n = 8 + json.len + sizeof data;
	uint8_t *st = malloc(n);
	z4_put64(st, json.len);
	memcpy(st + 8, json.p, json.len);
	memcpy(st + 8 + json.len, data, sizeof data);
	z4_buf_release(&json);

	struct mem z = compress(st, n, 4096, -1, 3);
	FILE *files[2] = { spill(st, n), spill(z.p, z.len) };
	for (int k = 0; k < 2; k++) {
		struct z4_ref *r;
		CHECK(z4_ref_open(&r, fileno(files[k])) == 0);
		for (size_t i = 0; i < K; i++) {
			struct z4_tensor t = { .dtype = Z4_DT_U8, .ndim = 1,
			    .shape = { DATA } };
			memcpy(t.name, name, len[i]);
			t.name_len = len[i];
			uint8_t got[DATA];
			CHECK(z4_ref_read(r, &t, 0, DATA, got) == 1 &&
			    memcmp(got, data + (K - 1 - i) * DATA, DATA) == 0);
			t.shape[0] = DATA + 1;
			CHECK(z4_ref_read(r, &t, 0, DATA, got) == 0);
		}
		/* A length no tensor's name has. */
		struct z4_tensor t = { .dtype = Z4_DT_U8, .ndim = 1,
		    .shape = { DATA }, .name_len = 701 };
		memcpy(t.name, name, t.name_len);
		uint8_t got[DATA];
		CHECK(z4_ref_read(r, &t, 0, DATA, got) == 0);
		z4_ref_free(r);
		fclose(files[k]);
	}
	free(z.p);
	free(st);
}

/*
 * use_ref becomes a z4 stream of ref (n bytes, a raw tensor of dtype in
 * chunks of chunk bytes), as z4ai -r takes it; returns its file.
 */
static FILE *
ref_open(const uint8_t *ref, size_t n, size_t chunk, int dtype)
{
	struct mem m = compress(ref, n, chunk, dtype, 1);
	FILE *fp = spill(m.p, m.len);
	free(m.p);
	if (z4_ref_open(&use_ref, fileno(fp)))
		abort();
	return fp;
}

static void
ref_close(FILE *fp)
{
	z4_ref_free(use_ref);
	use_ref = NULL;
	fclose(fp);
}

/*
 * Read m with use_ref: its CHUNK frames in *chunks, those coded with
 * DELTA-MODEL alone in *model, the coded bytes of their planes in
 * *plane.  Returns the reader's error, or 0.
 */
static int
model_frames(const struct mem *m, size_t *chunks, size_t *model,
    size_t *plane)
{
	FILE *in = spill(m->p, m->len);
	struct z4_in zi;
	struct z4_reader *r;
	struct z4_frame f;
	int ret;

	*chunks = *model = *plane = 0;
	z4_frame_init(&f);
	if (z4_in_init(&zi, fileno(in)) || z4_reader_new(&r, &zi, 0))
		abort();
	zi.ref = use_ref;
	while ((ret = z4_reader_next(r, &f)) > 0) {
		if (ret != 1 || f.kind != Z4_FRAME_CHUNK)
			continue;
		++*chunks;
		if (f.nxform == 1 && f.xform[0].id == Z4_XF_DELTA_MODEL) {
			++*model;
			for (unsigned i = 0; i < f.nplane; i++)
				*plane += f.plane[i].coded_size;
		}
	}
	z4_reader_free(r);
	z4_frame_release(&f);
	z4_in_release(&zi);
	fclose(in);
	return ret;
}

/*
 * cur (n bytes, a raw tensor of dtype in chunks of chunk bytes) coded
 * at level against ref: 1 if it decodes back exactly with ref.  *model
 * gets the frames coded with DELTA-MODEL alone, *plane the bytes of
 * their planes.
 */
static int
delta_roundtrips(const uint8_t *cur, const uint8_t *ref, size_t n,
    size_t chunk, int dtype, int level, size_t *model, size_t *plane)
{
	FILE *rf = ref_open(ref, n, chunk, dtype);
	struct mem m = compress(cur, n, chunk, dtype, level), o;
	size_t chunks;
	int ok = decode(&m, &o) == 0 && o.len == n &&
	    (n == 0 || memcmp(o.p, cur, n) == 0);
	if (ok)
		free(o.p);
	ok = ok && model_frames(&m, &chunks, model, plane) == 0;
	ref_close(rf);
	free(m.p);
	return ok;
}

/* Special values of each dtype, as bits. */
static const uint32_t specials_bf16[] = {
	0x7fc1, 0xffa5, 0x7f81, 0xff81,		/* NaNs, quiet, signalling */
	0x7f80, 0xff80,				/* infinities */
	0x0001, 0x8001, 0x007f, 0x807f,		/* subnormals */
	0x7f7f, 0xff7f, 0x0000, 0x8000,		/* largest finite; zeros */
};
static const uint32_t specials_f16[] = {
	0x7e01, 0xfe5a, 0x7c01, 0xfc01,
	0x7c00, 0xfc00,
	0x0001, 0x8001, 0x03ff, 0x83ff,
	0x7bff, 0xfbff, 0x0000, 0x8000,
};
static const uint32_t specials_f32[] = {
	0x7fc00001, 0xffc0beef, 0x7f800001, 0xff812345,
	0x7f800000, 0xff800000,
	0x00000001, 0x80000001, 0x007fffff, 0x807fffff,
	0x7f7fffff, 0xff7fffff, 0x00000000, 0x80000000,
};
#define NSPECIAL (sizeof specials_f32 / sizeof specials_f32[0])

static uint32_t
special(unsigned dtype, uint32_t r)
{
	r %= NSPECIAL;
	return dtype == Z4_DT_BF16 ? specials_bf16[r] :
	    dtype == Z4_DT_F16 ? specials_f16[r] : specials_f32[r];
}

/*
 * One case: DELTA-MODEL alone on cur against ref (n bytes) must give
 * want (0: it applies, 1: it does not, -2: either) and, when it
 * applies, decode back exactly within max bytes; and a stream of cur
 * coded against ref, in chunks of chunk bytes, must decode back exactly
 * whatever chain the selector took.
 */
static void
model_case(const char *what, unsigned dtype, const uint8_t *cur,
    const uint8_t *ref, size_t n, int want, size_t max, size_t chunk)
{
	size_t coded = 0, model, plane;
	int r = model_roundtrip(dtype, cur, ref, n, &coded);
	int ok = r == want || (want == -2 && r >= 0);
	ok = ok && (r != 0 || coded <= max);
	int back = delta_roundtrips(cur, ref, n, chunk, (int)dtype, 3,
	    &model, &plane);
	if (!ok || !back)
		printf("# delta-model %s, %s, %zu bytes: transform %d "
		    "(%zu bytes coded, want %d within %zu), stream %s\n", what,
		    z4_dtype_name(dtype), n, r, coded, want, max,
		    back ? "exact" : "NOT exact");
	CHECK(ok);
	CHECK(back);
}

/*
 * Every kind of change DELTA-MODEL must code exactly, for each float
 * dtype.  The bounds where it must apply are the information in the
 * changes with room for learning, far below the chunk's size.
 */
static void
test_model_changes(void)
{
	enum { N = 1024 };
	static uint8_t ref[4 * N + 8], cur[4 * N + 8];

	for (size_t d = 0; d < 3; d++) {
		unsigned dt = model_dtypes[d], w = z4_dtype_width(dt);
		uint32_t top = w == 2 ? 0xffff : 0xffffffff, s = 2463534242u;
		size_t n = N * w;

		for (size_t i = 0; i < N; i++)
			set_elem(ref, i, w, weight(dt, rnd(&s)));
		/*
		 * Unchanged: one decision per element that is always 0.
		 * Once learned it costs well under 1/32 of a bit (N/256
		 * bytes), and learning it for each of the eight exponents
		 * two bytes at most, beside the coder's own 5 bytes.
		 */
		model_case("unchanged", dt, ref, ref, n, 0, 5 + 16 + N / 256,
		    4096);
		/*
		 * Every element one unit up or down at random: the sign is
		 * a fair coin, 1 bit, and the rest (changed, of size one)
		 * is always the same.  A quarter more for learning and 16
		 * bytes for the coder.
		 */
		for (size_t i = 0; i < N; i++)
			set_elem(cur, i, w, ulp_step(elem(ref, i, w), w,
			    rnd(&s) & 1));
		model_case("+-1 ulp", dt, cur, ref, n, 0, N / 8 * 5 / 4 + 16,
		    4096);
		/* The same in chunks that cut elements: tails everywhere. */
		model_case("+-1 ulp, odd chunks", dt, cur, ref, n, -2, n, 1001);
		/*
		 * +0.0 and -0.0, each becoming the other (one unit apart),
		 * a third unchanged: H(1/3) and 2/3 of a fair sign, 1.58
		 * bits an element (N / 5 bytes), a quarter more to learn.
		 */
		for (size_t i = 0; i < N; i++) {
			uint32_t sign = 1u << (8 * w - 1), z = i % 2 ? 0 : sign;
			set_elem(ref, i, w, z);
			set_elem(cur, i, w, i % 3 == 0 ? z : z ^ sign);
		}
		model_case("+-0.0", dt, cur, ref, n, 0, N / 5 * 5 / 4 + 16,
		    4096);
		/*
		 * NaNs with payloads, infinities, subnormals, the largest
		 * finite values and zeros, in the chunk, in the reference
		 * and in both; the rest unchanged.
		 */
		for (size_t i = 0; i < N; i++) {
			uint32_t v = weight(dt, rnd(&s));
			set_elem(ref, i, w, v);
			set_elem(cur, i, w, v);
			if (i % 8 == 0)
				set_elem(cur, i, w, special(dt, rnd(&s)));
			if (i % 8 == 4)
				set_elem(ref, i, w, special(dt, rnd(&s)));
			if (i % 16 == 2) {
				set_elem(cur, i, w, special(dt, rnd(&s)));
				set_elem(ref, i, w, special(dt, rnd(&s)));
			}
		}
		model_case("specials", dt, cur, ref, n, 0, n, 4096);
		/*
		 * The largest changes there are: the largest bits of each
		 * sign (NaNs) into each other, 2^(8w) - 1 steps apart, and
		 * -0.0 to the largest positive, 2^(8w-1) steps; an eighth of
		 * the elements, the rest unchanged.
		 */
		for (size_t i = 0; i < N; i++) {
			uint32_t v = weight(dt, rnd(&s));
			set_elem(ref, i, w, v);
			set_elem(cur, i, w, v);
			if (i % 8 != 0)
				continue;
			uint32_t a = top >> 1;
			uint32_t b = i % 32 == 24 ? a ^ top : top;
			set_elem(cur, i, w, i % 16 ? a : b);
			set_elem(ref, i, w, i % 16 ? b : a);
		}
		model_case("largest changes", dt, cur, ref, n, 0, n, 4096);
		/* ... and every element so: coded or not, exact. */
		for (size_t i = 0; i < N; i++) {
			set_elem(cur, i, w, top >> 1);
			set_elem(ref, i, w, top);
		}
		model_case("all largest, up", dt, cur, ref, n, -2, n, 4096);
		model_case("all largest, down", dt, ref, cur, n, -2, n, 4096);
		/*
		 * A reference unrelated to the chunk: random bits against
		 * random bits carry 8w bits per element that no coder can
		 * save, so it must not apply; the selector codes it another
		 * way, exactly.
		 */
		for (size_t i = 0; i < N; i++) {
			set_elem(cur, i, w, rnd(&s));
			set_elem(ref, i, w, rnd(&s));
		}
		model_case("random reference", dt, cur, ref, n, 1, 0, 4096);
		size_t model, plane;
		CHECK(delta_roundtrips(cur, ref, n, 4096, (int)dt, 9, &model,
		    &plane) && model == 0);
		/*
		 * Sizes no multiple of the width: 1 to 7 bytes past the
		 * last element, each a XOR with the reference's, alone (no
		 * element at all) and after N elements of which every
		 * fourth moved by one unit.
		 */
		for (size_t i = 0; i < N; i++) {
			uint32_t v = weight(dt, rnd(&s));
			set_elem(ref, i, w, v);
			set_elem(cur, i, w, i % 4 ? v : ulp_step(v, w, i % 8));
		}
		for (size_t t = 1; t <= 7; t++) {
			if (t % w == 0)
				continue;
			for (size_t k = 0; k < 8; k++) {
				ref[n + k] = (uint8_t)rnd(&s);
				cur[n + k] = (uint8_t)(ref[n + k] ^ (k % 3 ?
				    rnd(&s) : 0));
			}
			model_case("tail alone", dt, cur + n, ref + n, t, -2, t,
			    4096);
			/*
			 * A quarter of the elements changed, in alternate
			 * directions: H(1/4) + 1/4 bit of sign, 1.06 bits
			 * an element (N / 6 bytes leave a quarter more),
			 * and 8 bits for each byte of the tail.
			 */
			model_case("tail", dt, cur, ref, n + t, 0,
			    N / 6 + t + 16, 4096);
		}
		/*
		 * One element: the coder's 5 bytes alone are more than it,
		 * so it does not apply; the stream is exact all the same.
		 */
		set_elem(cur, 0, w, ulp_step(elem(ref, 0, w), w, 1));
		model_case("one element", dt, cur, ref, w, 1, 0, 4096);
		model_case("one element, unchanged", dt, ref, ref, w, 1, 0,
		    4096);
	}
}

/*
 * An RL-like step: 97% of the elements unchanged, the rest one unit up
 * or down.  The selector must pick DELTA-MODEL (transform 7), alone in
 * the chain, at the default level and at the highest, and its plane must
 * come within a quarter of the information in the change: which elements
 * changed, N H(q) bits for a fraction q changed (no coder that is not
 * told where the changes are can do better), and one bit of sign for
 * each changed one, their size being always one.  64 bytes more cover
 * the coder's own bytes and the first decisions of the eight exponents.
 */
static void
test_model_selected(void)
{
	enum { SIZE = 64 << 10 };
	uint8_t *ref = malloc(SIZE), *cur = malloc(SIZE);

	for (size_t d = 0; d < 3; d++) {
		unsigned dt = model_dtypes[d], w = z4_dtype_width(dt);
		size_t n = SIZE / w, changed = 0, model, plane;
		uint32_t s = 88172645u;
		for (size_t i = 0; i < n; i++) {
			uint32_t v = weight(dt, rnd(&s));
			set_elem(ref, i, w, v);
			if (rnd(&s) % 100 < 3) {
				v = ulp_step(v, w, rnd(&s) & 1);
				changed++;
			}
			set_elem(cur, i, w, v);
		}
		double q = (double)changed / (double)n;
		double bits = (double)n * -(q * log2(q) + (1 - q) *
		    log2(1 - q)) + (double)changed;
		size_t bound = (size_t)(bits / 8 * 1.25) + 64;
		for (int level = 3; level <= 9; level += 6) {
			int ok = delta_roundtrips(cur, ref, SIZE, SIZE, (int)dt,
			    level, &model, &plane);
			CHECK(ok && model == 1);
			CHECK(plane <= bound);
			if (level == 3)
				printf("# delta-model, RL-like %s: %zu of %zu "
				    "changed, %zu bytes (bound %zu)\n",
				    z4_dtype_name(dt), changed, n, plane,
				    bound);
		}
	}
	free(ref);
	free(cur);
}

/*
 * A DELTA-MODEL plane damaged.  The transform's own checks must reject
 * a plane one byte short or long and one whose first byte is not 0;
 * other damage it may decode to other bytes, which the frame's checksum
 * of the decoded bytes then rejects: every bit flipped in the plane of
 * a stream reaches the decoder, and must fail or decode to the original.  A stream of deltas
 * decoded without its reference or with another one must fail so.
 */
/*
 * A change of one unit has two codings, the short one (its own bit) and
 * the long one (escape, then a size of 0 from the tree); only the short
 * one is valid.  The reference's elements are all alike, so every
 * element has the same context, and the plane is made here bit by bit:
 * element 0 one unit up the long way, the rest unchanged.  Written the
 * short way the same plane decodes.
 */
static void
test_model_one_coding(void)
{
	enum { N = 64 };
	uint8_t ref[4 * N], cur[4 * N], plane[64];

	for (size_t d = 0; d < 3; d++) {
		unsigned dt = model_dtypes[d], w = z4_dtype_width(dt);
		unsigned tree = w == 2 ? 4 : 5;
		for (size_t i = 0; i < N; i++)
			set_elem(ref, i, w, w == 2 ? 0x3c00 : 0x3f800000);
		memcpy(cur, ref, N * w);
		set_elem(cur, 0, w, w == 2 ? 0x3c01 : 0x3f800001);
		for (int longway = 0; longway < 2; longway++) {
			struct z4_rc_model changed = { Z4_RC_PROB_INIT, 0 };
			struct z4_rc_model other[8];
			struct z4_rc_enc rc;
			struct z4_frame f;
			for (unsigned i = 0; i < 8; i++)
				other[i] = changed;
			z4_rc_enc_init(&rc, plane, sizeof plane);
			z4_rc_bit(&rc, &changed, 1);
			z4_rc_bit(&rc, &other[0], 0);	/* up */
			z4_rc_bit(&rc, &other[1], longway);	/* escape */
			for (unsigned i = 0; longway && i < tree; i++)
				z4_rc_bit(&rc, &other[2 + i], 0);
			for (size_t i = 1; i < N; i++)
				z4_rc_bit(&rc, &changed, 0);
			size_t m = z4_rc_enc_finish(&rc);
			CHECK(m <= sizeof plane);
			model_frame(&f, dt, cur, ref, N * w);
			CHECK(z4_chain_push(&f, &z4_xform_delta_model) == 0);
			int err = model_undo(&f, plane, m);
			CHECK(longway ? err == Z4_E_DECODE : err == 0 &&
			    memcmp(f.raw, cur, N * w) == 0);
			z4_frame_release(&f);
		}
	}
}

static void
test_model_damage(void)
{
	enum { N = 1024 };
	static uint8_t ref[4 * N], cur[4 * N], bad[4 * N + 1];

	for (size_t d = 0; d < 3; d++) {
		unsigned dt = model_dtypes[d], w = z4_dtype_width(dt);
		size_t n = N * w;
		uint32_t s = 1234567u;
		struct z4_frame f;
		for (size_t i = 0; i < N; i++) {
			uint32_t v = weight(dt, rnd(&s));
			set_elem(ref, i, w, v);
			set_elem(cur, i, w, i % 3 ? v : ulp_step(v, w,
			    rnd(&s) & 1));
		}
		model_frame(&f, dt, cur, ref, n);
		CHECK(z4_chain_push(&f, &z4_xform_delta_model) == 0);
		size_t m = f.plane[0].raw_size;
		uint8_t *plane = malloc(m);
		memcpy(plane, f.plane[0].raw, m);
		CHECK(m > 16 && m < n && plane[0] == 0);
		CHECK(model_undo(&f, plane, m) == 0 &&
		    memcmp(f.raw, cur, n) == 0);

		CHECK(model_undo(&f, plane, m - 1) == Z4_E_DECODE);
		CHECK(model_undo(&f, plane, 5) == Z4_E_DECODE);
		CHECK(model_undo(&f, plane, 0) == Z4_E_DECODE);
		memcpy(bad, plane, m);
		bad[m] = 0;
		CHECK(model_undo(&f, bad, m + 1) == Z4_E_DECODE);
		bad[m] = 0xff;
		CHECK(model_undo(&f, bad, m + 1) == Z4_E_DECODE);
		bad[0] = 1;
		CHECK(model_undo(&f, bad, m) == Z4_E_DECODE);
		bad[0] = 0x80;
		CHECK(model_undo(&f, bad, m) == Z4_E_DECODE);
		/* A plane longer than the chunk cannot be one. */
		memset(bad, 0, sizeof bad);
		CHECK(model_undo(&f, bad, n + 1) == Z4_E_CORRUPT);
		/* Every bit flipped: rejected or other bytes, no crash. */
		int other = 0, wrong = 0;
		memcpy(bad, plane, m);
		for (size_t i = 0; i < m; i++) {
			for (int b = 0; b < 8; b++) {
				bad[i] ^= (uint8_t)(1 << b);
				int err = model_undo(&f, bad, m);
				other += err != 0 && err != Z4_E_DECODE;
				wrong += err == 0 && memcmp(f.raw, cur, n) != 0;
				bad[i] ^= (uint8_t)(1 << b);
			}
		}
		CHECK(other == 0);
		/* Without its reference's bytes: needs one. */
		f.ref_ready = 0;
		f.plane[0].raw = plane;
		f.plane[0].raw_size = m;
		CHECK(z4_chain_decode(&f) == Z4_E_REF_MISSING);
		z4_frame_release(&f);

		/* In a stream: the one frame's payload is that plane. */
		FILE *rf = ref_open(ref, n, 4096, (int)dt);
		struct mem good = compress(cur, n, 4096, (int)dt, 3), o;
		size_t off = frame_at(&good, 0);
		uint8_t *h = good.p + off;
		size_t head = Z4_FRAME_FIXED_SIZE + z4_get16(h + 2) + 4, sizes;
		size_t payload = payload_of(h, &sizes);
		CHECK(h[0] == Z4_FRAME_CHUNK && payload == m &&
		    memcmp(h + head, plane, m) == 0);
		CHECK(decode(&good, &o) == 0 && o.len == n &&
		    memcmp(o.p, cur, n) == 0);
		free(o.p);
		int silent = 0, same = 0, rejected = 0;
		for (size_t i = 0; payload == m && i < m; i++) {
			for (int b = 0; b < 8; b++) {
				h[head + i] ^= (uint8_t)(1 << b);
				int err = decode(&good, &o);
				if (err < 0)
					rejected++;
				else if (o.len == n && memcmp(o.p, cur, n) == 0)
					same++;
				else
					silent++;
				if (err >= 0)
					free(o.p);
				h[head + i] ^= (uint8_t)(1 << b);
			}
		}
		CHECK(silent == 0);
		CHECK(rejected + same == (int)m * 8 && rejected > 0);
		printf("# delta-model damage, %s: %zu bytes, %d of %zu bit "
		    "flips decode to other bytes alone, %d rejected in a "
		    "stream, %d decode to the original\n", z4_dtype_name(dt),
		    m, wrong, m * 8, rejected, same);
		CHECK(decode(&good, NULL) == 0);
		ref_close(rf);
		/* No reference, or one whose bytes differ in one place. */
		CHECK(decode(&good, NULL) == Z4_E_REF_MISSING);
		ref[n / 2] ^= 0x10;
		rf = ref_open(ref, n, 4096, (int)dt);
		CHECK(decode(&good, NULL) == Z4_E_REF_MISMATCH);
		ref_close(rf);
		free(good.p);
		free(plane);
	}
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

/*
 * PACKED: every width and shift on sizes around its groups of 8, into
 * buffers of exactly the coded and decoded sizes (the vector loops must
 * not read or write past them); one known coding; each thing the
 * decoder must reject; and what the selector makes of a float chunk.
 */
static void
test_packed(void)
{
	static const size_t sizes[] = { 1, 2, 7, 8, 9, 15, 16, 17, 31, 32,
	    33, 47, 48, 49, 63, 64, 65, 95, 96, 97, 100, 1000, 4097, 70001 };
	uint32_t seed = 2463534242u;
	void *state = NULL;

	for (unsigned b = 1; b <= 7; b++) {
		for (unsigned sh = 0; b + sh <= 8; sh++) {
			for (size_t k = 0; k < sizeof sizes / sizeof *sizes;
			    k++) {
				size_t n = sizes[k], want = 1 + (n * b + 7) / 8;
				/* back takes n + 1 bytes below. */
				uint8_t *src = malloc(n), *back = malloc(n + 1);
				uint8_t *dst = malloc(want);
				for (size_t i = 0; i < n; i++)
					src[i] = (uint8_t)((rnd(&seed) &
					    ((1u << b) - 1)) << sh);
				/* The top live bit in use: B is b. */
				src[n / 2] |= (uint8_t)(1u << (b + sh - 1));
				src[0] |= (uint8_t)(1u << sh);
				struct z4_code_in in = { src, n, 3, NULL };
				size_t out = 0;
				CHECK(z4_packed_size(&in) == want);
				CHECK(z4_coder_packed.encode(&state, dst, want,
				    &out, &in) == 0 && out == want &&
				    dst[0] == ((b - 1) | sh << 3));
				CHECK(z4_coder_packed.decode(&state, back, n,
				    dst, want) == 0 &&
				    memcmp(back, src, n) == 0);
				/* The fields, bit by bit, as z4-frame(5) says. */
				uint8_t *bits = calloc(want, 1);
				for (size_t i = 0; i < n * b; i++)
					bits[1 + i / 8] |= (uint8_t)((src[i / b] >>
					    (sh + i % b) & 1) << i % 8);
				CHECK(memcmp(dst + 1, bits + 1, want - 1) == 0);
				/* The portable loops agree. */
				z4_simd_off = 1;
				CHECK(z4_coder_packed.encode(&state, bits, want,
				    &out, &in) == 0 && out == want &&
				    memcmp(bits, dst, want) == 0);
				memset(back, 0, n);
				CHECK(z4_coder_packed.decode(&state, back, n,
				    dst, want) == 0 &&
				    memcmp(back, src, n) == 0);
				z4_simd_off = 0;
				free(bits);
				/* A byte short or long. */
				CHECK(z4_coder_packed.decode(&state, back, n,
				    dst, want - 1) == Z4_E_DECODE);
				CHECK(z4_coder_packed.decode(&state, back,
				    n + 1, dst, want) == Z4_E_DECODE ||
				    (n + 1) * b % 8 == 0 ||
				    (n * b + 7) / 8 == ((n + 1) * b + 7) / 8);
				free(src);
				free(back);
				free(dst);
			}
		}
	}

	/*
	 * A large plane is packed with the bits of a sample first: a bit
	 * that only an unsampled byte sets must still be found and kept, and
	 * the plane coded as from its counts.
	 */
	{
		enum { N = 100000 };
		uint8_t *big = malloc(N), *got1 = malloc(N), *got2 = malloc(N);
		uint32_t count[256] = { 0 };
		size_t o1 = 0, o2 = 0;
		memset(big, 0x10, N);
		big[3000] = 0x30;	/* outside the sampled 64 in 4096 */
		count[0x10] = N - 1;
		count[0x30] = 1;
		struct z4_code_in guess = { big, N, 3, NULL };
		struct z4_code_in exact = { big, N, 3, count };
		CHECK(z4_coder_packed.encode(&state, got1, N, &o1, &guess) ==
		    0 && z4_coder_packed.encode(&state, got2, N, &o2, &exact) ==
		    0 && o1 == o2 && o1 == 1 + (2 * N + 7) / 8 &&
		    memcmp(got1, got2, o1) == 0 && got1[0] == ((2 - 1) | 4 << 3));
		memset(got2, 0, N);
		CHECK(z4_coder_packed.decode(&state, got2, N, got1, o1) == 0 &&
		    memcmp(got2, big, N) == 0);
		/* A sample with all 8 bits: nothing to pack. */
		big[0] = 0x81;
		big[1] = 0x7e;
		CHECK(z4_coder_packed.encode(&state, got1, N, &o1, &guess) ==
		    0 && o1 == SIZE_MAX);
		free(big);
		free(got1);
		free(got2);
	}

	/* 2, 4 and 254 keep bits 1-7: fields 1, 2 and 127, 21 bits. */
	static const uint8_t raw[] = { 2, 4, 254 };
	static const uint8_t coded[] = { 0x0e, 0x01, 0xc1, 0x1f };
	uint8_t got[8], dec[3];
	size_t out = 0;
	struct z4_code_in in = { raw, 3, 3, NULL };
	CHECK(z4_coder_packed.encode(&state, got, sizeof got, &out, &in) ==
	    0 && out == 4 && memcmp(got, coded, 4) == 0);
	CHECK(z4_coder_packed.decode(&state, dec, 3, coded, 4) == 0 &&
	    memcmp(dec, raw, 3) == 0);
	uint8_t bad[4];
	memcpy(bad, coded, 4);
	bad[3] |= 0x20;		/* a padding bit */
	CHECK(z4_coder_packed.decode(&state, dec, 3, bad, 4) == Z4_E_DECODE);
	memcpy(bad, coded, 4);
	bad[0] |= 0x40;		/* reserved mode bit */
	CHECK(z4_coder_packed.decode(&state, dec, 3, bad, 4) == Z4_E_DECODE);
	bad[0] = 0x0f;		/* B = 8 */
	CHECK(z4_coder_packed.decode(&state, dec, 3, bad, 4) == Z4_E_DECODE);
	bad[0] = 0x16;		/* B = 7, S = 2: past 8 bits */
	CHECK(z4_coder_packed.decode(&state, dec, 3, bad, 4) == Z4_E_DECODE);
	CHECK(z4_coder_packed.decode(&state, dec, 0, coded, 4) == Z4_E_DECODE);
	CHECK(z4_coder_packed.decode(&state, dec, 3, coded, 0) == Z4_E_DECODE);

	/* All 8 bits, or none: nothing to pack. */
	static const uint8_t full[] = { 1, 128 }, none[] = { 0, 0 };
	struct z4_code_in fi = { full, 2, 3, NULL }, ni = { none, 2, 3, NULL };
	CHECK(z4_packed_size(&fi) == SIZE_MAX && z4_packed_size(&ni) ==
	    SIZE_MAX);

	/*
	 * BF16 weights under 2 at the default level: the top exponent bit
	 * goes, the exponent and first mantissa bit are coded with rANS,
	 * and the low plane's 7 bits are packed.
	 */
	enum { N = 8192 };
	struct z4_frame f;
	struct z4_encode_opts o = { .level = 3 };
	frame_with(&f, Z4_FRAME_CHUNK, Z4_DT_BF16, NULL, 2 * N);
	for (size_t i = 0; i < N; i++)
		set_elem(f.raw, i, 2, weight(Z4_DT_BF16, rnd(&seed)));
	CHECK(z4_frame_encode(&f, &o) == 0 && f.nxform == 1 &&
	    f.xform[0].id == Z4_XF_PLANES && f.nplane == 2 &&
	    f.plane[0].coder == Z4_CODER_PACKED &&
	    f.plane[0].coded_size == 1 + N * 7 / 8 &&
	    f.plane[1].coder == Z4_CODER_RANS);
	z4_frame_release(&f);

	/*
	 * BF16 and F32 chunks the usual layouts do not fit, which PLANES
	 * splits a second time: every mantissa's last bit 0, one weight of
	 * 2 or more, and both, at the default level and at 9.
	 */
	uint8_t *buf = malloc(4 * N);
	for (int kind = 0; kind < 6; kind++) {
		unsigned dt = kind < 3 ? Z4_DT_BF16 : Z4_DT_F32;
		unsigned w = z4_dtype_width(dt);
		for (size_t i = 0; i < N; i++) {
			uint32_t v = weight(dt, rnd(&seed));
			set_elem(buf, i, w, kind % 3 != 1 ? v & ~1u : v);
		}
		if (kind % 3 >= 1)	/* 3.0 */
			set_elem(buf, N / 3, w, w == 2 ? 0x4040 : 0x40400000);
		CHECK(roundtrips(buf, w * N, w * N, (int)dt, 3));
		CHECK(roundtrips(buf, w * N, w * N, (int)dt, 9));
	}
	free(buf);
}

/*
 * PLANES on elements whose live bits are one run or several: an f32 of
 * bf16 or fp16 values, a sign never set (one run from bit 1, which the
 * one-run loops take), odd masks; floats (rotated left by 1) and
 * integers (not rotated), 2, 4 and 8 bytes wide.  The planes, bit by bit as
 * z4-frame(5) lays them out, on sizes around the vector loops' 16 and 32
 * elements; then the way back.
 */
static void
test_planes_runs(void)
{
	/* Live bits of the element as rotated: for floats, bit 0 is the sign. */
	static const uint64_t masks8[] = { ~0ull, ~1ull, ~0ull >> 1,
	    0xfff0000000000001ull, ~0ull << 4, 0xffffffffull };
	static const uint64_t masks4[] = { 0xffff0001, 0xffffe001, 0x7fffe001,
	    0x3f0fe001, 0x80000001, 0xfffffffe, 0x00ff00ff, 0x12345679,
	    0x7ffffffe, 0xfffffff0, 0xffffffff };
	static const uint64_t masks2[] = { 0xfffe, 0x7ffe, 0xfff0, 0xffff,
	    0x7fff, 0xff01, 0x0ff0, 0x8001 };
	static const struct {
		unsigned dt;
		const uint64_t *masks;
		size_t nmask;
	} types[] = {
		{ Z4_DT_F64, masks8, sizeof masks8 / sizeof masks8[0] },
		{ Z4_DT_U64, masks8, sizeof masks8 / sizeof masks8[0] },
		{ Z4_DT_F32, masks4, sizeof masks4 / sizeof masks4[0] },
		{ Z4_DT_U32, masks4, sizeof masks4 / sizeof masks4[0] },
		{ Z4_DT_BF16, masks2, sizeof masks2 / sizeof masks2[0] },
		{ Z4_DT_I16, masks2, sizeof masks2 / sizeof masks2[0] },
	};
	static const size_t sizes[] = { 1, 15, 16, 17, 31, 32, 33, 63, 100 };
	uint32_t seed = 7;

	for (size_t t = 0; t < sizeof types / sizeof types[0]; t++)
	for (size_t m = 0; m < types[t].nmask; m++) {
		for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
			unsigned dt = types[t].dt, w = z4_dtype_width(dt);
			unsigned bits = 8 * w, r = dt == Z4_DT_F64 ||
			    dt == Z4_DT_F32 || dt == Z4_DT_BF16;
			size_t n = sizes[k];
			uint64_t mask = types[t].masks[m], all = 0;
			uint64_t top = bits == 64 ? ~0ull : (1ull << bits) - 1;
			struct z4_frame f;
			frame_with(&f, Z4_FRAME_CHUNK, dt, NULL, w * n);
			for (size_t i = 0; i < n; i++) {
				/* Every live bit set somewhere. */
				uint64_t rot = 0;
				for (int q = 0; q < 4; q++)
					rot = rot << 16 ^ rnd(&seed);
				rot &= mask;
				if (i == n - 1)
					rot = mask & ~all;
				all |= rot;
				z4_putn(f.raw + w * i, r ? (rot >> 1 |
				    rot << (bits - 1)) & top : rot, w);
			}
			CHECK(z4_chain_push(&f, &z4_xform_planes) == 0);
			/* The encoder may keep more bits live, never fewer. */
			const uint8_t *par = f.xform[0].param;
			uint64_t live = z4_getn(par + 3, w);
			CHECK(par[0] == w && par[1] == r && par[2] == 0 &&
			    (live & mask) == mask);
			unsigned nlive = (unsigned)__builtin_popcountll(live);
			unsigned np = (nlive + 7) / 8, pad = 8 * np - nlive;
			CHECK(f.nplane == np);
			for (size_t i = 0; i < n && f.nplane == np; i++) {
				uint64_t v = z4_getn(f.raw + w * i, w);
				uint64_t rot = r ? (v << 1 | v >> (bits - 1)) &
				    top : v;
				uint64_t packed = 0;
				for (unsigned b = 0, at = pad; b < bits; b++)
					if (live >> b & 1)
						packed |= (rot >> b & 1) <<
						    at++;
				for (unsigned q = 0; q < np; q++)
					CHECK(f.plane[q].raw_size == n &&
					    f.plane[q].raw[i] ==
					    (uint8_t)(packed >> 8 * q));
			}
			/* Back, with the AVX2 loops and without. */
			uint8_t *orig = malloc(w * n);
			memcpy(orig, f.raw, w * n);
			for (int off = 0; off < 2; off++) {
				z4_simd_off = off;
				memset(f.raw, 0, w * n);
				CHECK(z4_chain_decode(&f) == 0 &&
				    memcmp(f.raw, orig, w * n) == 0);
			}
			z4_simd_off = 0;
			free(orig);
			z4_frame_release(&f);
		}
	}
}

/*
 * A matrix whose rows come in near copies, as the embeddings of tokens
 * seldom seen do.  Rows 0 to 15 are unrelated; from row 16, each odd row
 * is the even row before it with small changes, and row 17 also holds
 * the awkward pairs: signed zeros, a NaN, an infinity against a finite
 * value, the largest values of either sign (a difference of 2^(8w-1)),
 * and signs that differ.  A tail of less than a row follows.
 */
static void
rows_matrix(uint8_t *buf, unsigned dt, size_t nrow, size_t c, size_t tail,
    uint32_t *seed)
{
	unsigned w = z4_dtype_width(dt);
	/* As wide floats from bf16 values: low halves 0. */
	uint32_t low = dt == Z4_DT_F32 ? 0xffff0000u : ~0u;

	for (size_t r = 0; r < nrow; r++)
		for (size_t j = 0; j < c; j++) {
			size_t i = r * c + j;
			uint32_t v = weight(dt, rnd(seed)) & low;
			if (r >= 16 && r % 2 == 1) {
				v = elem(buf, i - c, w);
				for (unsigned k = rnd(seed) % 4; k > 0; k--)
					v = ulp_step(v, w, rnd(seed) & 1);
				v &= low;
			}
			set_elem(buf, i, w, v);
		}
	/* { row 16, row 17 }, in the top 16 bits of the element. */
	static const uint32_t pairs[][2] = {
		{ 0x0000, 0x8000 }, { 0x8000, 0x0000 }, { 0x7f81, 0x7f81 },
		{ 0x7f80, 0x1234 }, { 0x7fff, 0xffff }, { 0x3c00, 0xbc00 },
	};
	for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++) {
		set_elem(buf, 16 * c + 3 * k, w, pairs[k][0] << (8 * w - 16));
		set_elem(buf, 17 * c + 3 * k, w, pairs[k][1] << (8 * w - 16));
	}
	for (size_t i = 0; i < tail; i++)
		buf[nrow * c * w + i] = (uint8_t)rnd(seed);
}

static void
test_rows(void)
{
	enum { C = 64, R = 40 };
	static const unsigned dts[] = { Z4_DT_BF16, Z4_DT_F32 };
	uint32_t seed = 37;

	for (size_t d = 0; d < 2; d++) {
		unsigned dt = dts[d], w = z4_dtype_width(dt);
		size_t tail = C * w - 1, n = R * C * w + tail;
		uint8_t *buf = malloc(n), *orig = malloc(n);
		rows_matrix(buf, dt, R, C, tail, &seed);
		struct z4_frame f;
		matrix_with(&f, dt, buf, n, R, C);
		CHECK(z4_chain_push(&f, &z4_xform_rows) == 0);
		CHECK(f.nplane == 2 + w && f.xform[0].param[0] == w &&
		    z4_get32(f.xform[0].param + 1) == C);
		/* Each near copy is coded against its row, no other row. */
		size_t nref = 0;
		for (size_t r = 0; r < R; r++) {
			CHECK(f.plane[0].raw[r] == (r >= 16 && r % 2));
			nref += f.plane[0].raw[r] != 0;
		}
		CHECK(f.plane[1 + w].raw_size == (R - nref) * C * w + tail);
		/* Residuals of widened bf16 values keep their low halves 0. */
		for (unsigned b = 0; b < w; b++) {
			CHECK(f.plane[1 + b].raw_size == nref * C);
			size_t nonzero = 0;
			for (size_t i = 0; i < nref * C; i++)
				nonzero += f.plane[1 + b].raw[i] != 0;
			CHECK(w == 2 || b >= 2 || nonzero == 0);
		}
		memcpy(orig, buf, n);
		memset(f.raw, 0, n);
		CHECK(z4_chain_decode(&f) == 0 && f.raw_size == n &&
		    memcmp(f.raw, orig, n) == 0);

		/* Damage: each must be refused, none read out of bounds. */
		uint8_t *map = (uint8_t *)f.plane[0].raw;
		map[17] = 18;	/* further back than the first row */
		CHECK(z4_chain_decode(&f) == Z4_E_CORRUPT);
		map[17] = 0;	/* a row kept that the planes do not hold */
		CHECK(z4_chain_decode(&f) == Z4_E_CORRUPT);
		map[17] = 17;	/* against row 0: other bytes, but valid */
		CHECK(z4_chain_decode(&f) == 0 && memcmp(f.raw, orig, n));
		map[17] = 1;
		f.plane[1 + w].raw_size += C * w;	/* a row more */
		CHECK(z4_chain_decode(&f) == Z4_E_CORRUPT);
		f.plane[1 + w].raw_size -= C * w;
		f.plane[w].raw_size--;
		CHECK(z4_chain_decode(&f) == Z4_E_CORRUPT);
		f.plane[w].raw_size++;
		f.xform[0].param[0] = 3;
		CHECK(z4_chain_decode(&f) == Z4_E_CORRUPT);
		f.xform[0].param[0] = (uint8_t)w;
		z4_put32(f.xform[0].param + 1, 0);
		CHECK(z4_chain_decode(&f) == Z4_E_CORRUPT);
		z4_put32(f.xform[0].param + 1, C);
		z4_put32(f.xform[0].param + 5, C * w);
		CHECK(z4_chain_decode(&f) == Z4_E_CORRUPT);
		z4_put32(f.xform[0].param + 5, 0);
		CHECK(z4_chain_decode(&f) == 0 && memcmp(f.raw, orig, n) == 0);
		z4_frame_release(&f);

		/* A chunk that starts 10 bytes into row 3 of its tensor. */
		size_t at = 3 * C * w + 10;
		matrix_with(&f, dt, buf + at, n - at, R, C);
		f.chunk_offset = at;
		CHECK(z4_chain_push(&f, &z4_xform_rows) == 0 &&
		    z4_get32(f.xform[0].param + 5) == C * w - 10 &&
		    f.plane[0].raw_size == R - 4 && f.plane[0].raw[13] == 1);
		memset(f.raw, 0, n - at);
		CHECK(z4_chain_decode(&f) == 0 &&
		    memcmp(f.raw, orig + at, n - at) == 0);
		z4_frame_release(&f);

		/*
		 * Rows that resemble no other, in value or even in sign (all
		 * positive), short rows, a vector: none.
		 */
		for (int k = 0; k < 4; k++) {
			uint32_t pos = k == 3 ? ~0u >> (33 - 8 * w) : ~0u;
			for (size_t i = 0; i < R * C; i++)
				set_elem(buf, i, w, weight(dt, rnd(&seed)) & pos);
			matrix_with(&f, dt, buf, R * C * w, k == 1 ? R * 4 : R,
			    k == 1 ? C / 4 : C);
			f.tensor.ndim = k == 2 ? 1 : 2;
			if (k == 1)
				memcpy(buf + C * w, buf, C * w);
			CHECK(z4_chain_push(&f, &z4_xform_rows) == 1);
			z4_frame_release(&f);
		}

		/* Rows longer than the sample a comparison looks at. */
		enum { CW = 300, RW = 20 };
		uint8_t *wide = malloc(RW * CW * w);
		rows_matrix(wide, dt, RW, CW, 0, &seed);
		matrix_with(&f, dt, wide, RW * CW * w, RW, CW);
		CHECK(z4_chain_push(&f, &z4_xform_rows) == 0 &&
		    f.plane[0].raw[17] == 1 && f.plane[0].raw[19] == 1 &&
		    f.plane[0].raw[15] == 0);
		memset(f.raw, 0, RW * CW * w);
		CHECK(z4_chain_decode(&f) == 0 &&
		    memcmp(f.raw, wide, RW * CW * w) == 0);
		z4_frame_release(&f);
		free(wide);

		/* The selector takes it, and the format carries it. */
		rows_matrix(buf, dt, R, C, tail, &seed);
		struct z4_encode_opts o = { .level = 3 };
		matrix_with(&f, dt, buf, R * C * w, R, C);
		CHECK(z4_frame_encode(&f, &o) == 0 && f.nxform == 2 &&
		    f.xform[0].id == Z4_XF_ROWS && f.xform[1].id == Z4_XF_PLANES);
		z4_frame_release(&f);
		char json[128];
		int hn = snprintf(json, sizeof json, "{\"e\":{\"dtype\":\"%s\","
		    "\"shape\":[%d,%d],\"data_offsets\":[0,%zu]}}",
		    dt == Z4_DT_BF16 ? "BF16" : "F32", R, C, (size_t)R * C * w);
		size_t m = 8 + (size_t)hn + R * C * w;
		uint8_t *st = malloc(m);
		z4_put64(st, (uint64_t)hn);
		memcpy(st + 8, json, (size_t)hn);
		memcpy(st + 8 + hn, buf, R * C * w);
		CHECK(roundtrips(st, m, m, -1, 3));
		CHECK(roundtrips(st, m, 21 * C * w + 6, -1, 9));
		free(st);
		free(buf);
		free(orig);
	}
}

/*
 * Glue of 64 KiB or more is tried as 2- and 4-byte floats: bf16 weights
 * in a raw file become planes, at a ratio a plain coding cannot reach;
 * random bytes stay as they are.  Both come back, in chunks of 128 KiB
 * and of 2 MiB (a sample decides between the chains).
 */
static void
test_glue_views(void)
{
	enum { N = 1 << 20 };
	struct z4_encode_opts o = { .level = 3 };
	uint8_t *buf = malloc(2 * N);
	uint32_t seed = 29;

	for (int floats = 0; floats < 2; floats++) {
		for (size_t i = 0; i < N; i++)
			set_elem(buf, i, 2, floats ?
			    weight(Z4_DT_BF16, rnd(&seed)) : rnd(&seed));
		struct z4_frame f;
		frame_with(&f, Z4_FRAME_GLUE, 0, buf, 128u << 10);
		CHECK(z4_frame_encode(&f, &o) == 0 &&
		    f.nxform == (unsigned)floats &&
		    (!floats || f.xform[0].id == Z4_XF_PLANES));
		z4_frame_release(&f);
		struct mem m = compress(buf, 2 * N, 2 * N, -1, 3);
		CHECK(floats ? m.len < 2 * N * 10 / 14 : m.len > 2 * N);
		free(m.p);
		CHECK(roundtrips(buf, 2 * N, 128u << 10, -1, 3));
		CHECK(roundtrips(buf, 2 * N, 2 * N, -1, 3));
	}
	free(buf);
}

/*
 * The vector loops and the portable ones give the same bytes back: a
 * palette of 16 BF16 values, a half-pruned BF16 chunk, and a skewed byte
 * plane of 2 MiB (counted on a sample only with AVX2), each coded and
 * decoded with and without AVX2, every way round.
 */
static void
test_simd_both_ways(void)
{
	enum { N = 1 << 20 };
	uint8_t *buf = malloc(N);
	uint32_t seed = 31;

	for (int kind = 0; kind < 3; kind++) {
		size_t n = kind == 2 ? N : 64u << 10;
		int dt = kind == 2 ? Z4_DT_U8 : Z4_DT_BF16;
		for (size_t i = 0; i < n / 2; i++) {
			uint32_t r = rnd(&seed);
			if (kind == 0)
				set_elem(buf, i, 2, 0x3c00 + (r % 16) * 3);
			else if (kind == 1)
				set_elem(buf, i, 2, r % 2 ? 0 :
				    weight(Z4_DT_BF16, r));
			else
				set_elem(buf, i, 2,
				    0x6464 + (r & r >> 8 & 0x0f0f));
		}
		struct mem m[2];
		for (int off = 0; off < 2; off++) {
			z4_simd_off = off;
			m[off] = compress(buf, n, n, dt, 3);
		}
		for (int c = 0; c < 2; c++)
			for (int off = 0; off < 2; off++) {
				struct mem o = { NULL, 0 };
				z4_simd_off = off;
				CHECK(decode(&m[c], &o) == 0 && o.len == n &&
				    memcmp(o.p, buf, n) == 0);
				if (o.len == n)
					free(o.p);
			}
		z4_simd_off = 0;
		free(m[0].p);
		free(m[1].p);
	}
	free(buf);
}

/*
 * FOLD on each float type: trained weights (0, -0, subnormals, and
 * magnitudes up to 2) fold; one value of 2^-70 or of 5 does not.  At
 * level 9 a BF16 or F32 matrix of them takes FOLD, then PLANES; damaged
 * steps are refused.
 */
static void
test_fold(void)
{
	enum { N = 8191 };
	static const unsigned dts[] = { Z4_DT_BF16, Z4_DT_F32, Z4_DT_F16 };
	uint32_t seed = 91;
	uint8_t *buf = malloc(4 * N), *orig = malloc(4 * N);

	for (size_t d = 0; d < 3; d++) {
		unsigned dt = dts[d], w = z4_dtype_width(dt);
		for (size_t i = 0; i < N; i++) {
			uint32_t r = rnd(&seed);
			/*
			 * Magnitudes from an exponential distribution, as
			 * trained weights thin out; for F16, 2^-6 and up,
			 * which keep its exponent's bit 3 set.
			 */
			float x = -0.05f * logf(((float)(r & 0xffff) + 0.5f) /
			    65536.0f);
			x = (x > 1.9f ? 1.9f : x) + (dt == Z4_DT_F16 ? 0.02f :
			    0.0f);
			x = r >> 31 ? -x : x;
			x = i % 97 == 0 ? 0.0f : i % 89 == 0 ? -0.0f :
			    i % 83 == 0 ? 1.5f : x;
			uint32_t v;
			memcpy(&v, &x, 4);
			if (dt == Z4_DT_BF16)
				z4_put16(buf + 2 * i, (uint16_t)(v >> 16));
			else if (dt == Z4_DT_F32)
				z4_put32(buf + 4 * i, i % 79 ? v : 1);
			else	/* F16 from the F32 fields, rounded down */
				z4_put16(buf + 2 * i, (uint16_t)((v >> 16 &
				    0x8000) | (v & 0x7fffffff ?
				    ((v >> 23 & 0xff) - 112) << 10 |
				    (v >> 13 & 0x3ff) : 0)));
		}
		size_t n = N * w;
		memcpy(orig, buf, n);
		struct z4_frame f;
		matrix_with(&f, dt, buf, n, 1, N);
		CHECK(z4_chain_push(&f, &z4_xform_fold) == 0 && f.nplane == 1);
		uint32_t or = 0;
		for (size_t i = 0; i < N; i++)
			or |= w == 2 ? z4_get16(f.plane[0].raw + 2 * i) :
			    z4_get32(f.plane[0].raw + 4 * i);
		CHECK((or >> f.xform[0].param[2] & 1) == 0);
		memset(f.raw, 0, n);
		CHECK(z4_chain_decode(&f) == 0 && f.raw_size == n &&
		    memcmp(f.raw, orig, n) == 0);
		/* Damage: bit P set, a part element, bad parameters. */
		uint8_t *el = (uint8_t *)f.plane[0].raw;
		el[(w == 2 ? 2 : 4) * 5 + (w == 2 ? 1 : 3)] |= 0x20;
		CHECK(z4_chain_decode(&f) == Z4_E_CORRUPT);
		el[(w == 2 ? 2 : 4) * 5 + (w == 2 ? 1 : 3)] &= 0xdf;
		f.plane[0].raw_size--;
		CHECK(z4_chain_decode(&f) == Z4_E_CORRUPT);
		f.plane[0].raw_size++;
		uint8_t *pm = f.xform[0].param;
		pm[1] = pm[2];
		CHECK(z4_chain_decode(&f) == Z4_E_CORRUPT);
		pm[1] = (uint8_t)(dt == Z4_DT_F32 ? 23 : dt == Z4_DT_BF16 ?
		    7 : 10);
		pm[2] = (uint8_t)(8 * w);
		CHECK(z4_chain_decode(&f) == Z4_E_CORRUPT);
		pm[2] = (uint8_t)(dt == Z4_DT_F32 ? 29 : 13);
		pm[0] = 3;
		CHECK(z4_chain_decode(&f) == Z4_E_CORRUPT);
		pm[0] = (uint8_t)w;
		CHECK(z4_chain_decode(&f) == 0 && memcmp(f.raw, orig, n) == 0);
		z4_frame_release(&f);

		/*
		 * Level 9: FOLD, then PLANES, whose top plane is exponents
		 * and two mantissa bits (an F16's has five).
		 */
		struct z4_encode_opts o = { .level = 9 };
		matrix_with(&f, dt, orig, n, 1, N);
		CHECK(z4_frame_encode(&f, &o) == 0 && (dt == Z4_DT_F16 ||
		    (f.nxform == 2 && f.xform[0].id == Z4_XF_FOLD &&
		    f.xform[1].id == Z4_XF_PLANES)));
		z4_frame_release(&f);
		CHECK(roundtrips(orig, n, n, (int)dt, 9));
		CHECK(roundtrips(orig, n, n, (int)dt, 3));

		/* One value too small, or too large, to fold. */
		for (int k = 0; k < 2; k++) {
			float x = k ? 5.0f : 0x1p-70f;
			uint32_t v;
			memcpy(&v, &x, 4);
			memcpy(buf, orig, n);
			if (dt == Z4_DT_BF16)
				z4_put16(buf + 2 * 77, (uint16_t)(v >> 16));
			else if (dt == Z4_DT_F32)
				z4_put32(buf + 4 * 77, v);
			else	/* 2^-10 and 5 */
				z4_put16(buf + 2 * 77, k ? 0x4500 : 0x1400);
			matrix_with(&f, dt, buf, n, 1, N);
			CHECK(z4_chain_push(&f, &z4_xform_fold) == 1);
			z4_frame_release(&f);
		}
	}
	free(buf);
	free(orig);
}

/*
 * ZEROS in both mask layouts: BF16 elements under 2:4 sparsity get a
 * mask byte for each 4, half zeros at random a bit each (stored, as
 * random bytes are, they cost least so), and both decode back whatever
 * bits the last mask byte has over and with a byte after the last
 * element.  A nibble mask with a high bit set or a bit past the end, a
 * layout byte other than 4, unused bits as many as the layout's, and
 * other sizes of parameters are refused.
 */
static void
test_zeros_layouts(void)
{
	enum { N = 4099 };
	uint8_t *buf = malloc(2 * N + 1), *orig = malloc(2 * N + 1);
	uint32_t seed = 2024;

	for (unsigned k = 0; k < 2; k++)
		for (size_t n = N - 3; n <= N; n++) {
			size_t size = 2 * n + (n == N), groups = (n + 3) / 4;
			for (size_t g = 0; g < groups; g++) {
				/* The 6 ways of keeping 2 of 4. */
				static const uint8_t keep[6] = { 3, 5, 6, 9,
				    10, 12 };
				uint32_t r = rnd(&seed);
				for (size_t i = 4 * g; i < 4 * g + 4 && i < n;
				    i++) {
					unsigned on = k ? rnd(&seed) & 1 :
					    keep[r % 6] >> (i % 4) & 1;
					uint16_t v = (uint16_t)(0x3c00 +
					    (rnd(&seed) & 0x83ff));
					z4_put16(buf + 2 * i, on ? (i % 37 ?
					    v : 0x8000) : 0);
				}
			}
			buf[size - 1] = n == N ? 0x5a : buf[size - 1];
			memcpy(orig, buf, size);
			struct z4_frame f;
			matrix_with(&f, Z4_DT_BF16, buf, size, 1, n);
			CHECK(z4_chain_push(&f, &z4_xform_zeros) == 0);
			uint8_t *pm = f.xform[0].param;
			uint8_t *mask = (uint8_t *)f.plane[0].raw;
			size_t mbytes = f.plane[0].raw_size;
			CHECK(k ? f.xform[0].param_size == 3 &&
			    mbytes == (n + 7) / 8 && pm[2] == 8 * mbytes - n :
			    f.xform[0].param_size == 4 && pm[3] == 4 &&
			    mbytes == groups && pm[2] == 4 * groups - n);
			memset(f.raw, 0, size);
			CHECK(z4_chain_decode(&f) == 0 && f.raw_size == size &&
			    memcmp(f.raw, orig, size) == 0);
			if (k == 0) {
				uint8_t last = mask[mbytes - 1], p2 = pm[2];
				mask[7] |= 0x40;
				CHECK(z4_chain_decode(&f) == Z4_E_CORRUPT);
				mask[7] &= 0x0f;
				mask[mbytes - 1] |= (uint8_t)(1u << (4 - p2));
				CHECK(z4_chain_decode(&f) == Z4_E_CORRUPT);
				mask[mbytes - 1] = last;
				pm[3] = 8;
				CHECK(z4_chain_decode(&f) == Z4_E_CORRUPT);
				pm[3] = 4;
				pm[2] = 4;
				CHECK(z4_chain_decode(&f) == Z4_E_CORRUPT);
				pm[2] = p2;
				f.xform[0].param_size = 5;
				CHECK(z4_chain_decode(&f) == Z4_E_CORRUPT);
				f.xform[0].param_size = 4;
				CHECK(z4_chain_decode(&f) == 0 &&
				    memcmp(f.raw, orig, size) == 0);
			}
			z4_frame_release(&f);
			for (int level = 1; level <= 9; level += 4)
				CHECK(roundtrips(orig, size, size, Z4_DT_BF16,
				    level));
		}

	/* The example of z4-frame(5), in both layouts. */
	static const uint8_t ten[20] = { 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00,
	    0x00, 0x00, 0x00, 0x80, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00,
	    0x00, 0x40, 0x40 };
	static const uint8_t nibbles[3] = { 0x02, 0x03, 0x02 };
	struct z4_frame f;
	matrix_with(&f, Z4_DT_BF16, ten, sizeof ten, 1, 10);
	CHECK(z4_chain_push(&f, &z4_xform_zeros) == 0 &&
	    f.xform[0].param_size == 3 && f.xform[0].param[2] == 6 &&
	    f.plane[0].raw_size == 2 && f.plane[0].raw[0] == 0x32 &&
	    f.plane[0].raw[1] == 0x02);
	f.xform[0].param_size = 4;
	f.xform[0].param[2] = 2;
	f.xform[0].param[3] = 4;
	f.plane[0].raw = nibbles;
	f.plane[0].raw_size = sizeof nibbles;
	memset(f.raw, 0, sizeof ten);
	CHECK(z4_chain_decode(&f) == 0 && f.raw_size == sizeof ten &&
	    memcmp(f.raw, ten, sizeof ten) == 0);
	z4_frame_release(&f);
	free(buf);
	free(orig);
}

/*
 * A quantised matrix, rows x cols of U8 around 128, whose spread differs
 * from column to column and row to row, as folded scales leave it.
 */
static void
quantised(uint8_t *q, size_t rows, size_t cols, uint32_t seed)
{
	for (size_t r = 0; r < rows; r++)
		for (size_t c = 0; c < cols; c++) {
			/* A sum of uniforms: near normal, of spread 1. */
			int32_t g = 0;
			for (int k = 0; k < 4; k++)
				g += (int32_t)(rnd(&seed) & 1023) - 512;
			int32_t scale = 3 + (int32_t)(c % 8) * 8 +
			    (int32_t)(r % 3) * 3;
			int32_t v = 128 + g * scale / 1182;
			q[r * cols + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
		}
}

/* Bits of an order-0 code of the n bytes at p: what a table reaches. */
static double
order0_bits(const uint8_t *p, size_t n)
{
	uint32_t count[256] = { 0 };
	for (size_t i = 0; i < n; i++)
		count[p[i]]++;
	return z4_entropy(count, 256, n) * (double)n;
}

/* Undo BYTE-MODEL from plane p of m bytes. */
static int
bytes_undo(struct z4_frame *f, const uint8_t *p, size_t m)
{
	memset(f->raw, 0xa5, f->raw_size);
	f->plane[0].raw = p;
	f->plane[0].raw_size = m;
	return z4_chain_decode(f);
}

/*
 * BYTE-MODEL: quantised matrices code below their order-0 entropy and
 * back exactly, I8 as U8 with the sign flipped; the edges of the value
 * range, tiny and odd shapes; every parameter and plane it must refuse.
 */
static void
test_byte_model(void)
{
	enum { R = 256, C = 64, N = R * C };
	static uint8_t q[N], s8[N], orig[N], bad[N + 1];
	struct z4_frame f;

	quantised(q, R, C, 77);
	matrix_with(&f, Z4_DT_U8, q, N, R, C);
	CHECK(z4_chain_push(&f, &z4_xform_byte_model) == 0);
	size_t m = f.plane[0].raw_size;
	uint8_t *plane = malloc(m), *p8 = NULL;
	memcpy(plane, f.plane[0].raw, m);
	CHECK(f.xform[0].param_size == 5 && z4_get32(f.xform[0].param) == C &&
	    f.xform[0].param[4] == 128 && plane[0] == 0);
	/* Column and row spreads are structure an order-0 code pays for. */
	CHECK((double)m * 8 < 0.97 * order0_bits(q, N));
	CHECK(bytes_undo(&f, plane, m) == 0 && memcmp(f.raw, q, N) == 0);

	/* Refusals. */
	CHECK(bytes_undo(&f, plane, m - 1) == Z4_E_DECODE);
	CHECK(bytes_undo(&f, plane, 0) == Z4_E_DECODE);
	memcpy(bad, plane, m);
	bad[m] = 0;
	CHECK(bytes_undo(&f, bad, m + 1) == Z4_E_DECODE);
	bad[0] = 1;
	CHECK(bytes_undo(&f, bad, m) == Z4_E_DECODE);
	memset(bad, 0, sizeof bad);
	CHECK(bytes_undo(&f, bad, N + 1) == Z4_E_CORRUPT);
	f.xform[0].param_size = 4;
	CHECK(bytes_undo(&f, plane, m) == Z4_E_CORRUPT);
	f.xform[0].param_size = 6;
	CHECK(bytes_undo(&f, plane, m) == Z4_E_CORRUPT);
	f.xform[0].param_size = 5;
	z4_put32(f.xform[0].param, 0);
	CHECK(bytes_undo(&f, plane, m) == Z4_E_CORRUPT);
	z4_put32(f.xform[0].param, N + 1);
	CHECK(bytes_undo(&f, plane, m) == Z4_E_CORRUPT);
	z4_put32(f.xform[0].param, C);
	f.tensor.dtype = Z4_DT_F8_E4M3;
	CHECK(bytes_undo(&f, plane, m) == Z4_E_CORRUPT);
	f.tensor.dtype = Z4_DT_U8;
	/* Another centre: the distances run past the range, or differ. */
	f.xform[0].param[4] = 250;
	int err = bytes_undo(&f, plane, m);
	CHECK(err == Z4_E_DECODE || (err == 0 && memcmp(f.raw, q, N) != 0));
	f.xform[0].param[4] = 128;
	/* Every bit flipped: refused or other bytes, no crash. */
	int other = 0;
	memcpy(bad, plane, m);
	for (size_t i = 0; i < m; i += 7)
		for (int b = 0; b < 8; b++) {
			bad[i] ^= (uint8_t)(1 << b);
			err = bytes_undo(&f, bad, m);
			other += err != 0 && err != Z4_E_DECODE;
			bad[i] ^= (uint8_t)(1 << b);
		}
	CHECK(other == 0);
	CHECK(bytes_undo(&f, plane, m) == 0 && memcmp(f.raw, q, N) == 0);
	z4_frame_release(&f);

	/* I8: the same values less 128 code to the same plane. */
	for (size_t i = 0; i < N; i++)
		s8[i] = (uint8_t)(q[i] ^ 0x80);
	matrix_with(&f, Z4_DT_I8, s8, N, R, C);
	CHECK(z4_chain_push(&f, &z4_xform_byte_model) == 0 &&
	    f.plane[0].raw_size == m && f.xform[0].param[4] == 128 &&
	    memcmp(f.plane[0].raw, plane, m) == 0);
	p8 = malloc(m);
	memcpy(p8, f.plane[0].raw, m);
	CHECK(bytes_undo(&f, p8, m) == 0 && memcmp(f.raw, s8, N) == 0);
	z4_frame_release(&f);

	/*
	 * Shapes and values at the edges: one element; all alike; only 0
	 * and 255 (distances of 8 bits, both signs); a column [500, 1],
	 * whose rows are taken as 500 long, as a depthwise filter's
	 * [3, 3, C, 1] are C long; random bytes, which it leaves.
	 */
	static const struct {
		size_t n, rows, cols, c;
		int kind;
	} cases[] = {
		{ 1, 1, 1, 1, 0 }, { 300, 10, 30, 30, 1 },
		{ 300, 10, 30, 30, 2 }, { 500, 500, 1, 500, 3 },
		{ 9 * 40, 9, 40, 40, 4 }, { 4000, 40, 100, 100, 5 },
	};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		size_t n = cases[k].n;
		uint32_t seed = 99 + (uint32_t)k;
		for (size_t i = 0; i < n; i++) {
			uint32_t r = rnd(&seed);
			switch (cases[k].kind) {
			case 0: orig[i] = 200; break;
			case 1: orig[i] = 17; break;
			case 2: orig[i] = r & 1 ? 255 : 0; break;
			case 5: orig[i] = (uint8_t)r; break;
			default: orig[i] = (uint8_t)(120 + r % 5 + (r >> 8) % 7);
			}
		}
		if (cases[k].kind == 4) {
			frame_with(&f, Z4_FRAME_CHUNK, Z4_DT_U8, orig, n);
			f.tensor.ndim = 4;
			f.tensor.shape[0] = f.tensor.shape[1] = 3;
			f.tensor.shape[2] = cases[k].cols;
			f.tensor.shape[3] = 1;
		} else {
			matrix_with(&f, Z4_DT_U8, orig, n, cases[k].rows,
			    cases[k].cols);
		}
		err = z4_chain_push(&f, &z4_xform_byte_model);
		if (cases[k].kind == 5 || cases[k].kind == 0) {
			/* Nothing to gain: it does not apply. */
			CHECK(err == 1);
		} else {
			CHECK(err == 0 && f.plane[0].raw_size < n &&
			    z4_get32(f.xform[0].param) == cases[k].c);
			memcpy(bad, f.plane[0].raw, f.plane[0].raw_size);
			CHECK(bytes_undo(&f, bad, f.plane[0].raw_size) == 0 &&
			    memcmp(f.raw, orig, n) == 0);
		}
		z4_frame_release(&f);
		for (int level = 1; level <= 9; level += 4)
			CHECK(roundtrips(orig, n, n, Z4_DT_U8, level) &&
			    roundtrips(orig, n, n, Z4_DT_I8, level));
	}
	CHECK(roundtrips(q, N, 1000, Z4_DT_U8, 3));

	/* The example of z4-frame(5), both ways. */
	static const uint8_t ex[16] = { 0x80, 0x82, 0x7f, 0x80, 0x81, 0x85,
	    0x7e, 0x80, 0x80, 0x83, 0x7d, 0x7f, 0x7f, 0x86, 0x7a, 0x81 };
	static const uint8_t ex_plane[13] = { 0x00, 0x12, 0x6d, 0x4f, 0xa4,
	    0xe2, 0xd8, 0xc2, 0x30, 0xdf, 0x4d, 0x60, 0x00 };
	static const uint8_t ex_params[5] = { 0x04, 0x00, 0x00, 0x00, 0x80 };
	matrix_with(&f, Z4_DT_U8, ex, sizeof ex, 4, 4);
	CHECK(z4_chain_push(&f, &z4_xform_byte_model) == 0 &&
	    f.xform[0].param_size == 5 &&
	    memcmp(f.xform[0].param, ex_params, 5) == 0 &&
	    f.plane[0].raw_size == sizeof ex_plane &&
	    memcmp(f.plane[0].raw, ex_plane, sizeof ex_plane) == 0);
	CHECK(bytes_undo(&f, ex_plane, sizeof ex_plane) == 0 &&
	    memcmp(f.raw, ex, sizeof ex) == 0);
	z4_frame_release(&f);
	free(plane);
	free(p8);
}

/*
 * Index entries code their offsets as zigzag differences from the end
 * of the previous entry: 0 and negative ones decode, and one that would
 * take an offset below 0 or an end past 2^64 - 1 is rejected.
 */
static void
test_index_deltas(void)
{
	static const uint8_t head[] = { 1, 0, 1, 'a', 7, 0 };
	struct {
		uint8_t tail[24];
		size_t n;
		int err;
		uint64_t data, frame;
	} cases[] = {
		{ { 0, 5, 0, 9 }, 4, 0, 100, 200 },	/* right after */
		{ { 3, 5, 4, 9 }, 4, 0, 98, 202 },	/* -2, +2 */
		{ { 0xc7, 0x01, 5, 0, 9 }, 5, 0, 0, 200 },	/* -100: 0 */
		{ { 0xc9, 0x01, 5, 0, 9 }, 5, Z4_E_CORRUPT, 0, 0 },	/* -101 */
		{ { 0, 5, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		    0xff, 0x01, 9 }, 13, Z4_E_CORRUPT, 0, 0 },	/* -2^63 */
		{ { 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		    0x01, 0, 9 }, 13, Z4_E_CORRUPT, 0, 0 },	/* end > 2^64 */
		{ { 0, 5, 0 }, 3, Z4_E_CORRUPT, 0, 0 },		/* cut short */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint8_t buf[sizeof head + 24];
		memcpy(buf, head, sizeof head);
		memcpy(buf + sizeof head, cases[i].tail, cases[i].n);
		struct z4_cursor c;
		struct z4_index_ends ends;
		struct z4_index_entry e;
		z4_index_ends_init(&ends, Z4_FORMAT_MINOR);
		ends.data = 100;
		ends.frame = 200;
		z4_cursor_init(&c, buf, sizeof head + cases[i].n);
		int err = z4_index_parse(&c, &ends, &e);
		CHECK(err == cases[i].err);
		if (err == 0)
			CHECK(e.data_offset == cases[i].data &&
			    e.frame_offset == cases[i].frame &&
			    e.data_size == 5 && e.frame_size == 9 &&
			    ends.data == e.data_offset + 5 &&
			    ends.frame == e.frame_offset + 9);
	}
}

/* OFFSETS on text t: 0 and the text it codes to, or 1 if it gives up. */
static int
offsets_coded(const char *t, char *coded, size_t cap)
{
	struct z4_frame f;
	size_t n = strlen(t);
	frame_with(&f, Z4_FRAME_GLUE, Z4_DT_OPAQUE, t, n);
	int ret = z4_chain_push(&f, &z4_xform_offsets);
	if (ret == 0) {
		CHECK(f.nplane == 1 && f.plane[0].raw_size < cap);
		memcpy(coded, f.plane[0].raw, f.plane[0].raw_size);
		coded[f.plane[0].raw_size] = '\0';
		memset(f.raw, 0, n);
		CHECK(z4_chain_decode(&f) == 0 && f.raw_size == n &&
		    memcmp(f.raw, t, n) == 0);
	}
	z4_frame_release(&f);
	return ret;
}

/* OFFSETS undone on coded text c: the error, and the text in out. */
static int
offsets_undone(const char *c, char *out, size_t cap)
{
	struct z4_frame f;
	struct z4_xform_step step = { .id = Z4_XF_OFFSETS };
	struct z4_plane undone = { 0 };
	frame_with(&f, Z4_FRAME_GLUE, Z4_DT_OPAQUE, c, strlen(c));
	int err = z4_xform_offsets.decode(&f, &step, 0, &undone);
	if (err == 0) {
		CHECK(undone.raw_size < cap);
		memcpy(out, undone.raw, undone.raw_size);
		out[undone.raw_size] = '\0';
	}
	free(undone.rbuf);
	z4_frame_release(&f);
	return err;
}

static void
test_offsets(void)
{
	static const struct {
		const char *text, *coded;
	} good[] = {
		{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],"
		  "\"data_offsets\":[0,8]},\"b\":{\"data_offsets\":[8,40]}}",
		  "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],"
		  "\"data_offsets\":[0,8]},\"b\":{\"data_offsets\":[0,32]}}" },
		/* Out of order, empty, and at the ends of the range. */
		{ "\"data_offsets\":[100,100]\"data_offsets\":[7,0]"
		  "\"data_offsets\":[0,18446744073709551615]",
		  "\"data_offsets\":[100,0]\"data_offsets\":[-93,-7]"
		  "\"data_offsets\":[0,18446744073709551615]" },
		{ "\"data_offsets\":[18446744073709551615,0]x",
		  "\"data_offsets\":[18446744073709551615,"
		  "-18446744073709551615]x" },
	};
	char out[256];
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		CHECK(offsets_coded(good[i].text, out, sizeof out) == 0 &&
		    strcmp(out, good[i].coded) == 0);
		CHECK(offsets_undone(good[i].coded, out, sizeof out) == 0 &&
		    strcmp(out, good[i].text) == 0);
	}
	/* The encoder gives up on a key without a pair in shortest form. */
	static const char *const off[] = {
		"no key here", "\"data_offsets\":[01,2]",
		"\"data_offsets\":[1, 2]", "\"data_offsets\":[-1,2]",
		"\"data_offsets\":[1,2", "\"data_offsets\":[1,2,3]",
		"\"data_offsets\":[18446744073709551616,0]",
		"\"data_offsets\":[0,1]\"data_offsets\":[]",
	};
	for (size_t i = 0; i < sizeof off / sizeof off[0]; i++)
		CHECK(offsets_coded(off[i], out, sizeof out) == 1);
	/* The decoder rejects what the encoder never writes. */
	static const char *const bad[] = {
		"\"data_offsets\":[-0,2]", "\"data_offsets\":[0,-01]",
		"\"data_offsets\":[-1,2]", "\"data_offsets\":[5,-6]",
		"\"data_offsets\":[18446744073709551615,1]",
		"\"data_offsets\":[1,2", "\"data_offsets\":[+1,2]",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(offsets_undone(bad[i], out, sizeof out) ==
		    Z4_E_CORRUPT);
	CHECK(offsets_undone("plain text", out, sizeof out) == 0 &&
	    strcmp(out, "plain text") == 0);
	/*
	 * The header of a safetensors file of 40 tensors gets it at every
	 * level but 0, where nothing is coded.
	 */
	char json[4096];
	size_t hn = 0;
	for (int i = 0; i < 40; i++)
		hn += (size_t)snprintf(json + hn, sizeof json - hn,
		    "%s\"layer.%d.weight\":{\"dtype\":\"F32\",\"shape\":"
		    "[16],\"data_offsets\":[%d,%d]}", i ? "," : "{", i,
		    64 * i, 64 * i + 64);
	hn += (size_t)snprintf(json + hn, sizeof json - hn, "}");
	struct mem st = { malloc(8 + hn + 2560), 8 + hn + 2560 };
	z4_put64(st.p, hn);
	memcpy(st.p + 8, json, hn);
	for (size_t i = 0; i < 2560; i++)
		st.p[8 + hn + i] = (uint8_t)(i * 7 + (i >> 3));
	for (int level = 0; level <= 9; level += 3) {
		struct mem m = compress(st.p, st.len, 4096, -1, level);
		size_t at = frame_at(&m, 0);
		size_t meta = after_sizes(&m, 0);
		CHECK(m.p[at] == Z4_FRAME_GLUE);
		CHECK((m.p[at + meta] == 1 && m.p[at + meta + 1] ==
		    Z4_XF_OFFSETS) == (level > 0));
		free(m.p);
		CHECK(roundtrips(st.p, st.len, 4096, -1, level));
	}
	free(st.p);
}

/*
 * A stream decoded both ways, in parts (z4_planes_fused) and with its
 * planes whole (Z4_READ_PLANES): the same bytes, or the same error.
 */
static int
decode_both(const struct mem *m, struct mem *o)
{
	struct mem whole;
	read_flags = Z4_READ_PLANES;
	int a = decode(m, &whole);
	read_flags = 0;
	int b = decode(m, o);
	CHECK(a == b);
	if (a == 0 && b == 0)
		CHECK(whole.len == o->len && memcmp(whole.p, o->p, o->len) == 0);
	if (a == 0)
		free(whole.p);
	if (b != 0)
		o->p = NULL;
	return b;
}

/*
 * The fused decoder on BF16 and F32 chunks of every size around its part
 * and round sizes, with rANS, packed and stored planes, and FOLD at level
 * 9, with the vector loops and without; that it is the one that decodes
 * them at level 3; and damage, every bit of a small stream, and bits of
 * one with FOLD.
 */
static void
test_fused_parts(void)
{
	/* From 256 KiB, the rANS plane has 64 states. */
	static const size_t sizes[] = { 1, 7, 31, 33, 4095, 4096, 4097,
	    8205, 70001, 300001 };
	enum { MAX = 300001 };
	uint32_t seed = 5;
	uint8_t *f32 = malloc(4 * MAX), *bf16 = malloc(2 * MAX);

	for (size_t i = 0; i < MAX; i++) {
		uint32_t r = rnd(&seed);
		float x = 0.02f * ((float)(r & 0xffff) / 65536.0f - 0.5f) *
		    (float)(1 + (r >> 28));
		uint32_t v;
		memcpy(&v, &x, 4);
		z4_put32(f32 + 4 * i, v & 0xffffe000u);	/* dead low bits */
		z4_put16(bf16 + 2 * i, (uint16_t)(v >> 16));
	}
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		for (int dt = Z4_DT_BF16; dt <= Z4_DT_F32; dt += 3) {
			const uint8_t *buf = dt == Z4_DT_F32 ? f32 : bf16;
			size_t n = sizes[k] * (dt == Z4_DT_F32 ? 4 : 2);
			struct mem m = compress(buf, n, 1u << 20, dt, 9), o;
			CHECK(decode_both(&m, &o) == 0 && o.len == n &&
			    memcmp(o.p, buf, n) == 0);
			free(o.p);
			free(m.p);
			m = compress(buf, n, 1u << 20, dt, 3);
			CHECK(decode_both(&m, &o) == 0 && o.len == n &&
			    memcmp(o.p, buf, n) == 0);
			free(o.p);
			/* The portable loops decode the same. */
			z4_simd_off = 1;
			CHECK(decode_both(&m, &o) == 0 && o.len == n &&
			    memcmp(o.p, buf, n) == 0);
			z4_simd_off = 0;
			free(o.p);
			/* The first frame (of 1 MiB at most) is fused. */
			FILE *in = spill(m.p, m.len);
			struct z4_in zi;
			struct z4_frame f;
			struct z4_frame_head h;
			z4_frame_init(&f);
			if (z4_in_init(&zi, fileno(in)) ||
			    z4_in_skip(&zi, Z4_STREAM_HEADER_SIZE))
				abort();
			CHECK(z4_frame_read(&zi, &f, &h, Z4_READ_DEFER) == 0);
			/* Exponent planes of 256 KiB and more: digrams. */
			int digrams = 0;
			for (unsigned i = 0; i < f.nplane; i++)
				digrams |= f.plane[i].coder == Z4_CODER_RANS &&
				    (f.plane[i].coded[0] & 8);
			CHECK(digrams == (sizes[k] == 300001));
			CHECK(sizes[k] < 64 ||
			    z4_planes_fused(&f, h.raw_checksum) == 0);
			CHECK(sizes[k] < 64 || (h.raw_size <= n &&
			    memcmp(f.raw, buf, h.raw_size) == 0));
			z4_frame_release(&f);
			z4_in_release(&zi);
			fclose(in);
			free(m.p);
		}
	}
	struct mem m = compress(bf16, 600, 1u << 20, Z4_DT_BF16, 3), o;
	int errs[64] = { 0 };
	for (size_t i = 0; i < m.len; i++) {
		for (int b = 0; b < 8; b++) {
			m.p[i] ^= (uint8_t)(1 << b);
			int err = decode_both(&m, &o);
			errs[-err & 63]++;
			free(o.p);
			m.p[i] ^= (uint8_t)(1 << b);
		}
	}
	printf("# fused: %zu bit flips, %d rejected as damaged planes, %d by "
	    "the checksum, %d decode to the original\n", m.len * 8,
	    errs[-Z4_E_DECODE & 63], errs[-Z4_E_CHECKSUM & 63], errs[0]);
	CHECK(errs[0] == 0);
	free(m.p);
	/* FOLD then PLANES: every 5th byte, all its bits. */
	m = compress(bf16, 2 * 8192, 1u << 20, Z4_DT_BF16, 9);
	memset(errs, 0, sizeof errs);
	for (size_t i = 0; i < m.len; i += 5) {
		for (int b = 0; b < 8; b++) {
			m.p[i] ^= (uint8_t)(1 << b);
			errs[-decode_both(&m, &o) & 63]++;
			free(o.p);
			m.p[i] ^= (uint8_t)(1 << b);
		}
	}
	printf("# fused with FOLD: %d rejected as damaged planes, %d as "
	    "corrupt, %d by the checksum\n", errs[-Z4_E_DECODE & 63],
	    errs[-Z4_E_CORRUPT & 63], errs[-Z4_E_CHECKSUM & 63]);
	CHECK(errs[0] == 0);
	/* FOLD's error, where the planes decode well: P moved down. */
	size_t at = frame_at(&m, 0);
	static const uint8_t fold[] = { Z4_XF_FOLD, 3, 2, 7, 13 };
	uint8_t *hit = memmem(m.p + at, 64, fold, sizeof fold);
	CHECK(hit != NULL);
	if (hit != NULL) {
		hit[4] = 12;
		refix(&m, at);
		CHECK(decode_both(&m, &o) == Z4_E_CORRUPT);
	}
	free(m.p);
	free(f32);
	free(bf16);
}

/* Every plane of f is stored, its coded bytes its raw ones. */
static int
all_stored(const struct z4_frame *f)
{
	for (unsigned i = 0; i < f->nplane; i++)
		if (f->plane[i].coder != Z4_CODER_STORED ||
		    f->plane[i].coded != f->plane[i].raw ||
		    f->plane[i].coded_size != f->plane[i].raw_size)
			return 0;
	return 1;
}

/*
 * z4_frame_detect (z4pal): a palette, a grid and a pruned tensor get
 * their transform with planes stored, and decode back; random floats,
 * glue and a frame already coded are left as they are.
 */
static void
test_detect(void)
{
	enum { N = 4096 };
	struct z4_encode_opts o = { .level = 3, .detect = 1 };
	static const uint16_t pal[5] = { 0x3f80, 0xbf80, 0x3f00, 0x0000,
	    0x4000 };
	uint8_t *src = malloc(2 * N), *grid = malloc(4 * N);
	uint32_t seed = 77;
	struct z4_frame f;

	for (unsigned k = 0; k < 3; k++) {
		const uint8_t *in = src;
		size_t n = 2 * N;
		unsigned dt = Z4_DT_BF16, id = Z4_XF_PALETTE;
		for (size_t i = 0; i < N; i++) {
			uint32_t r = rnd(&seed);
			z4_put16(src + 2 * i, k == 0 ? pal[r % 5] :
			    r % 2 ? 0 : (uint16_t)(0x3c00 + (r >> 8 & 0x7ff)));
		}
		if (k == 1)
			id = Z4_XF_ZEROS;
		if (k == 2) {
			/* Integers -100..100 times a scale per row of 256. */
			for (size_t i = 0; i < N; i++) {
				float v = (float)((int)(rnd(&seed) % 201) - 100) *
				    (0.01f + 0.001f * (float)(i / 256));
				memcpy(grid + 4 * i, &v, 4);
			}
			in = grid;
			n = 4 * N;
			dt = Z4_DT_F32;
			id = Z4_XF_GRID;
		}
		matrix_with(&f, dt, in, n, n / (dt == Z4_DT_F32 ? 1024 : 512),
		    256);
		CHECK(z4_frame_detect(&f, &o) == 0 && f.nxform >= 1 &&
		    f.xform[0].id == id && all_stored(&f));
		memset(f.raw, 0, n);
		CHECK(z4_chain_decode(&f) == 0 && memcmp(f.raw, in, n) == 0);
		z4_frame_release(&f);
	}
	/*
	 * Floats of a few exponents, for PLANES and not a palette: the frame
	 * is what it was.
	 */
	for (size_t i = 0; i < N; i++)
		z4_put16(src + 2 * i, (uint16_t)(0x3c00 + rnd(&seed) % 0x400));
	matrix_with(&f, Z4_DT_BF16, src, 2 * N, 16, 256);
	struct z4_encode_opts full = { .level = 3 };
	CHECK(z4_frame_encode(&f, &full) == 0 && f.nxform == 1 &&
	    f.xform[0].id == Z4_XF_PLANES);
	z4_frame_release(&f);
	matrix_with(&f, Z4_DT_BF16, src, 2 * N, 16, 256);
	CHECK(z4_frame_detect(&f, &o) == 0 && f.nxform == 0 &&
	    f.nplane == 1 && f.plane[0].raw == f.raw &&
	    f.plane[0].raw_size == 2 * N && all_stored(&f) &&
	    memcmp(f.raw, src, 2 * N) == 0);
	z4_frame_release(&f);
	/* Glue of palette bytes is not a tensor: left alone. */
	for (size_t i = 0; i < N; i++)
		z4_put16(src + 2 * i, pal[rnd(&seed) % 5]);
	frame_with(&f, Z4_FRAME_GLUE, 0, src, 2 * N);
	f.plane[0].coded = f.raw;
	f.plane[0].coded_size = 2 * N;
	CHECK(z4_frame_detect(&f, &o) == 0 && f.nxform == 0 &&
	    f.nplane == 1 && all_stored(&f));
	z4_frame_release(&f);
	/* A chunk coded already keeps its chain and its coded planes. */
	matrix_with(&f, Z4_DT_BF16, src, 2 * N, 16, 256);
	CHECK(z4_frame_encode(&f, &full) == 0 && f.nxform == 1 &&
	    !all_stored(&f));
	size_t coded = f.plane[1].coded_size;
	CHECK(z4_frame_detect(&f, &o) == 0 && f.nxform == 1 &&
	    f.plane[1].coded_size == coded && !all_stored(&f));
	z4_frame_release(&f);
	free(src);
	free(grid);
}

/*
 * A pool with no thread, one and three: frames come back in order, each
 * coded, whether or not the caller waits for some first; waiting for
 * more than are queued, or with none queued, returns.
 */
static void
test_pool(void)
{
	enum { NF = 20, N = 3000 };
	static const unsigned threads[] = { 0, 1, 3 };
	struct z4_encode_opts o = { .level = 1 };
	struct z4_frame fr[NF];
	uint8_t *src = malloc(2 * N);
	uint32_t seed = 5;

	for (size_t i = 0; i < N; i++)
		z4_put16(src + 2 * i, (uint16_t)(0x3c00 + rnd(&seed) % 0x300));
	for (unsigned t = 0; t < 3; t++) {
		struct z4_pool *p;
		CHECK(z4_pool_new(&p, threads[t]) == 0);
		z4_pool_wait(p, 4);
		for (unsigned i = 0; i < NF; i++) {
			frame_with(&fr[i], Z4_FRAME_CHUNK, Z4_DT_BF16, src,
			    2 * N - 2 * i);
			CHECK(z4_pool_put(p, &fr[i], &o) == 0);
		}
		z4_pool_wait(p, 8);
		for (unsigned i = 0; i < NF; i++) {
			struct z4_frame *f;
			if (i == 10)
				z4_pool_wait(p, 100);
			CHECK(z4_pool_take(p, &f) == 0 && f == &fr[i] &&
			    f->nxform == 1);
			memset(f->raw, 0, f->raw_size);
			CHECK(z4_chain_decode(f) == 0 &&
			    f->raw_size == 2 * N - 2 * i &&
			    memcmp(f->raw, src, f->raw_size) == 0);
		}
		struct z4_frame *none;
		CHECK(z4_pool_take(p, &none) == Z4_E_USAGE && none == NULL);
		z4_pool_free(p);
		for (unsigned i = 0; i < NF; i++)
			z4_frame_release(&fr[i]);
	}
	free(src);
}

int
main(void)
{
	test_simd_both_ways();
	test_planes_runs();
	test_rows();
	test_fold();
	test_zeros_layouts();
	test_byte_model();
	test_offsets();
	test_fused_parts();
	test_dtypes();
	test_rans();
	test_rans_table();
	test_rans_digrams();
	test_rans_digram_spec();
	test_rans_roots_spec();
	test_packed();
	test_grid();
	test_roundtrips();
	test_crafted();
	test_index_deltas();
	test_damage_everywhere();
	test_extract();
	test_refs();
	test_refs_sampled();
	test_ref_names();
	test_select_sampled();
	test_glue_views();
	test_model_changes();
	test_model_selected();
	test_model_damage();
	test_model_one_coding();
	test_detect();
	test_pool();
	printf("unit: %d passed, %d failed\n", checks - failures, failures);
	return failures != 0;
}

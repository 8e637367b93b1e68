/*
 * fuzz_coders.c - the plane coders and the transforms alone, on any
 * bytes.  Input: the decoded size (2 bytes), a selector byte, then the
 * coded bytes.  Every coder decodes them into a buffer of exactly
 * the decoded size, twice with the same context (the second must agree
 * with the first); a chain of transforms undoes planes, parameters and
 * reference bytes (for DELTA, ZEROS-REF and DELTA-MODEL) cut from them;
 * and rANS, PACKED (on the bytes with some bits cleared), the planes
 * transform and DELTA-MODEL (the first half of the bytes against the
 * first half XOR the second) must round-trip them.
 */
#include "fuzz.h"

/* Decode src with each coder; a kept context must not change a thing. */
static void
coders(const uint8_t *src, size_t cn, size_t n)
{
	uint8_t *a = malloc(n ? n : 1), *b = malloc(n ? n : 1);

	if (a == NULL || b == NULL)
		abort();
	for (unsigned id = 0; id < Z4_CODER_COUNT; id++) {
		const struct z4_coder *c = z4_coder_get(id);
		void *state = NULL;
		int ea = c->decode(&state, a, n, src, cn);
		int eb = c->decode(&state, b, n, src, cn);
		if (ea != eb || (ea == 0 && n && memcmp(a, b, n) != 0))
			abort();
		if (c->free_state)
			c->free_state(state);
	}
	free(a);
	free(b);
}

/* A chain of transforms and planes from the cursor, undone. */
static void
chain_decode(struct z4_cursor *c, size_t n, unsigned sel)
{
	struct z4_frame f;
	size_t same = z4_cur16(c) % 4096;

	z4_frame_init(&f);
	f.kind = Z4_FRAME_CHUNK;
	/* A dtype, which DELTA-MODEL's parameters must repeat. */
	f.tensor.dtype = (sel >> 1) % Z4_DT_COUNT;
	f.nxform = 1 + (sel >> 7);
	for (unsigned i = 0; i < f.nxform; i++) {
		struct z4_xform_step *s = &f.xform[i];
		s->id = 1 + z4_cur8(c) % Z4_XF_OFFSETS;
		if (z4_xform_get(s->id) == NULL)
			s->id = Z4_XF_PLANES;
		s->param_size = z4_cur8(c) % (Z4_PARAM_MAX + 1);
		memcpy(s->param, z4_cur_bytes(c, 16), 16);
	}
	f.nplane = 1 + z4_cur8(c) % Z4_PLANE_MAX;
	f.raw_size = n;
	for (unsigned k = 0; k < f.nplane; k++) {
		struct z4_plane *p = &f.plane[k];
		/* One size for all planes, or any sizes. */
		p->raw_size = sel & 1 ? same : z4_cur16(c) % 4096;
		if (z4_plane_reserve_raw(p, p->raw_size))
			abort();
		for (size_t i = 0; i < p->raw_size; i++)
			p->rbuf[i] = (uint8_t)z4_cur8(c);
		p->raw = p->rbuf;
	}
	/* The reference's bytes, as if fetched and checked already. */
	if ((f.refbuf = malloc(n ? n : 1)) == NULL)
		abort();
	for (size_t i = 0; i < n; i++)
		f.refbuf[i] = (uint8_t)z4_cur8(c);
	f.ref_cap = f.ref_size = n;
	f.ref_ready = 1;
	if (z4_chain_decode(&f) == 0 && f.raw_size != n)
		abort();
	z4_frame_release(&f);
}

/*
 * DELTA-MODEL on the first half of the n bytes at p against a reference
 * that differs from it by the second half (XOR): when it applies, it
 * must decode back exactly.
 */
static void
model_roundtrip(const uint8_t *p, size_t n, unsigned sel)
{
	static const unsigned dtypes[3] = {
		Z4_DT_BF16, Z4_DT_F16, Z4_DT_F32,
	};
	size_t h = n / 2;
	struct z4_frame f;

	if (h == 0)
		return;
	z4_frame_init(&f);
	f.kind = Z4_FRAME_CHUNK;
	f.tensor.dtype = dtypes[(sel >> 1) % 3];
	if (z4_frame_reserve(&f, h) || (f.refbuf = malloc(h)) == NULL)
		abort();
	memcpy(f.raw, p, h);
	for (size_t i = 0; i < h; i++)
		f.refbuf[i] = p[i] ^ p[h + i];
	f.raw_size = h;
	f.ref_cap = f.ref_size = h;
	f.have_ref = 1;
	f.nplane = 1;
	f.plane[0].raw = f.raw;
	f.plane[0].raw_size = h;
	int err = z4_chain_push(&f, &z4_xform_delta_model);
	if (err < 0 || (err == 0 && (f.nplane != 1 ||
	    f.plane[0].raw_size > h)))
		abort();
	if (err == 0) {
		memset(f.raw, 0xa5, h);
		f.ref_ready = 1;
		if (z4_chain_decode(&f) != 0 || f.raw_size != h ||
		    memcmp(f.raw, p, h) != 0)
			abort();
	}
	z4_frame_release(&f);
}

/*
 * The n bytes at p with some bits cleared, packed into exactly the size
 * PACKED promises, must decode back exactly.
 */
static void
packed_roundtrip(const uint8_t *p, size_t n, unsigned sel)
{
	uint8_t keep = (uint8_t)((0x7fu >> (sel & 7)) << (sel >> 3 & 1));
	uint8_t *src = malloc(n ? n : 1), *back = malloc(n ? n : 1);
	void *state = NULL;

	if (src == NULL || back == NULL)
		abort();
	for (size_t i = 0; i < n; i++)
		src[i] = p[i] & keep;
	struct z4_code_in in = { src, n, 3, NULL };
	size_t size = z4_packed_size(&in), cn;
	if (size != SIZE_MAX) {
		uint8_t *coded = malloc(size);
		if (coded == NULL ||
		    z4_coder_packed.encode(&state, coded, size, &cn, &in) ||
		    cn != size ||
		    z4_coder_packed.decode(&state, back, n, coded, cn) ||
		    memcmp(back, src, n) != 0)
			abort();
		free(coded);
	}
	free(src);
	free(back);
}

/* The n bytes at p as a plane: rANS, then the planes transform. */
static void
roundtrip(const uint8_t *p, size_t n, unsigned sel)
{
	uint32_t count[256] = { 0 };
	struct z4_code_in in = { p, n, (int)(sel >> 1) % 10, NULL };
	size_t cap = z4_coder_rans.bound(n), cn;
	uint8_t *coded = malloc(cap), *back = malloc(n ? n : 1);
	void *state = NULL;
	struct z4_frame f;

	if (coded == NULL || back == NULL)
		abort();
	if (sel & 0x40) {
		for (size_t i = 0; i < n; i++)
			count[p[i]]++;
		in.count = count;
	}
	if (n > 0) {
		if (z4_coder_rans.encode(&state, coded, cap, &cn, &in) ||
		    cn > cap ||
		    z4_coder_rans.decode(&state, back, n, coded, cn) ||
		    memcmp(back, p, n) != 0)
			abort();
		z4_coder_rans.free_state(state);
	}

	z4_frame_init(&f);
	f.kind = Z4_FRAME_CHUNK;
	f.tensor.dtype = sel % Z4_DT_COUNT;
	if (z4_frame_reserve(&f, n))
		abort();
	if (n)
		memcpy(f.raw, p, n);
	f.raw_size = n;
	f.nplane = 1;
	f.plane[0].raw = f.raw;
	f.plane[0].raw_size = n;
	/* One step, or two when the first made planes of the same width. */
	for (unsigned i = 0; i < 1 + (sel >> 7); i++)
		if (z4_chain_push(&f, &z4_xform_planes) < 0)
			abort();
	if (f.nxform > 0) {
		/* The planes must hold it all. */
		memset(f.raw, 0xa5, n);
		if (z4_chain_decode(&f) != 0 || f.raw_size != n ||
		    memcmp(f.raw, p, n) != 0)
			abort();
	}
	z4_frame_release(&f);
	free(coded);
	free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct z4_cursor c;

	if (size < 3)
		return 0;
	size_t n = z4_get16(data);
	unsigned sel = data[2];
	const uint8_t *src = data + 3;
	size_t cn = size - 3;

	coders(src, cn, n);
	z4_cursor_init(&c, src, cn);
	chain_decode(&c, n % 4096, sel);
	roundtrip(src, cn, sel);
	packed_roundtrip(src, cn, sel);
	model_roundtrip(src, cn, sel);
	return 0;
}

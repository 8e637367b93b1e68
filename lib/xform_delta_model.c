/*
 * xform_delta_model.c - a float chunk coded element by element against
 * its reference, each element's change modelled in the context of the
 * reference element's exponent.
 *
 * Between two saves of a run, a weight moves by an update whose size
 * hardly depends on the weight; counted in steps of the weight's own
 * precision, that is many steps for a small weight and few or none for a
 * large one.  So the change of each element, as a difference of ordered
 * integers (the float's bits with the sign folded so that integer order
 * is numeric order: one step is one unit in the last place), is coded
 * with adaptive binary probabilities chosen by the reference element's
 * exponent: whether it changed, its sign, whether it is more than one
 * unit, the position of the leading 1 of its size, and the three bits
 * after that; the lower bits go as they are.  Adaptive probabilities
 * cost no table, so every exponent gets its own, and small tensors pay
 * nothing to be modelled.
 *
 * Parameters: Dtype (BF16, F16 or F32), W (its width), then DELTA's hash
 * and source fields.  One plane out: the range coder's bytes
 * (rangecoder.h), never longer than the chunk (else it does not apply).
 */
#include <stdlib.h>

#include "internal.h"
#include "rangecoder.h"

#define NEXP 256
#define SIZE_BITS_MAX 5		/* the leading 1 of a 32-bit change */
#define TOP_BITS 3

/*
 * The probabilities of one context, an exponent.  They are set to their
 * start the first time the exponent is met in a chunk: a chunk meets a
 * few dozen of the 256, so most are never touched.
 */
struct context {
	struct z4_rc_model changed, negative;
	struct z4_rc_model size[1u << SIZE_BITS_MAX];
	struct z4_rc_model top[32][1u << TOP_BITS];
};

struct model {
	uint8_t ready[NEXP];
	struct context ctx[NEXP];
};

struct geometry {
	unsigned w, ebits_shift, emask, size_bits;
};

static int
geometry(unsigned dtype, struct geometry *g)
{
	switch (dtype) {
	case Z4_DT_BF16:
		*g = (struct geometry){ 2, 7, 0xff, 4 };
		return 0;
	case Z4_DT_F16:
		*g = (struct geometry){ 2, 10, 0x1f, 4 };
		return 0;
	case Z4_DT_F32:
		*g = (struct geometry){ 4, 23, 0xff, 5 };
		return 0;
	default:
		return 1;
	}
}

static void
model_init(struct model *m)
{
	memset(m->ready, 0, sizeof m->ready);
}

static struct context *
context(struct model *m, unsigned e)
{
	struct context *c = &m->ctx[e];
	if (!m->ready[e]) {
		struct z4_rc_model *p = (struct z4_rc_model *)c;
		for (size_t i = 0; i < sizeof *c / sizeof *p; i++)
			p[i] = (struct z4_rc_model){ Z4_RC_PROB_INIT, 0 };
		m->ready[e] = 1;
	}
	return c;
}

static uint32_t
load(const uint8_t *p, unsigned w)
{
	return w == 2 ? z4_get16(p) : z4_get32(p);
}

/* Bits to ordered integer: -0.0 is -1, the largest negative -2^(8w-1). */
static int64_t
ordered(uint32_t u, unsigned w)
{
	uint32_t sign = 1u << (8 * w - 1);
	return u & sign ? -(int64_t)(u & (sign - 1)) - 1 : (int64_t)u;
}

static uint32_t
unordered(int64_t o, unsigned w)
{
	uint32_t sign = 1u << (8 * w - 1);
	return o < 0 ? sign | (uint32_t)(-(o + 1)) : (uint32_t)o;
}

static void
encode_change(struct z4_rc_enc *rc, struct context *m,
    int64_t d, unsigned size_bits)
{
	z4_rc_bit(rc, &m->changed, d != 0);
	if (d == 0)
		return;
	z4_rc_bit(rc, &m->negative, d < 0);
	uint64_t mag = d < 0 ? (uint64_t)-d : (uint64_t)d;
	unsigned k = 63 - (unsigned)__builtin_clzll(mag), node = 1;
	z4_rc_bit(rc, &m->size[0], k != 0);
	for (unsigned i = size_bits; k && i-- > 0;) {
		unsigned b = k >> i & 1;
		z4_rc_bit(rc, &m->size[node], b);
		node = node << 1 | b;
	}
	node = 1;
	unsigned t = k < TOP_BITS ? k : TOP_BITS;
	for (unsigned i = 0; i < t; i++) {
		unsigned b = mag >> (k - 1 - i) & 1;
		z4_rc_bit(rc, &m->top[k][node], b);
		node = node << 1 | b;
	}
	for (unsigned left = k - t; left > 0;) {
		unsigned c = left > 8 ? 8 : left;
		left -= c;
		z4_rc_direct(rc, (uint32_t)(mag >> left), c);
	}
}

/* One change into *d; nonzero for a coding no encoder writes. */
static int
decode_change(struct z4_rc_dec *rc, struct context *m, unsigned size_bits,
    int64_t *d)
{
	*d = 0;
	if (!z4_rc_dec_bit(rc, &m->changed))
		return 0;
	unsigned neg = z4_rc_dec_bit(rc, &m->negative), node = 1;
	unsigned k = 0;
	if (z4_rc_dec_bit(rc, &m->size[0])) {
		for (unsigned i = 0; i < size_bits; i++)
			node = node << 1 | z4_rc_dec_bit(rc, &m->size[node]);
		k = node - (1u << size_bits);
		if (k == 0)
			return 1;	/* a size of one unit has its own bit */
	}
	unsigned t = k < TOP_BITS ? k : TOP_BITS;
	uint64_t mag = 1;
	node = 1;
	for (unsigned i = 0; i < t; i++) {
		unsigned b = z4_rc_dec_bit(rc, &m->top[k][node]);
		node = node << 1 | b;
		mag = mag << 1 | b;
	}
	for (unsigned left = k - t; left > 0;) {
		unsigned c = left > 8 ? 8 : left;
		left -= c;
		mag = mag << c | z4_rc_dec_direct(rc, c);
	}
	*d = neg ? -(int64_t)mag : (int64_t)mag;
	return 0;
}

/*
 * The kernel, encoding: n bytes of cur against ref into dst (capacity
 * cap); returns the coded size, past cap when it does not fit.
 */
static size_t
model_encode(struct model *m, const struct geometry *g, const uint8_t *cur,
    const uint8_t *ref, size_t n, uint8_t *dst, size_t cap)
{
	struct z4_rc_enc rc;
	size_t count = n / g->w, i;

	model_init(m);
	z4_rc_enc_init(&rc, dst, cap);
	for (i = 0; i < count && rc.pos <= cap; i++) {
		uint32_t r = load(ref + i * g->w, g->w);
		uint32_t c = load(cur + i * g->w, g->w);
		encode_change(&rc, context(m, r >> g->ebits_shift & g->emask),
		    ordered(c, g->w) - ordered(r, g->w), g->size_bits);
	}
	for (i *= g->w; i < n; i++)
		z4_rc_direct(&rc, cur[i] ^ ref[i], 8);
	return z4_rc_enc_finish(&rc);
}

/* The kernel, decoding into out (n bytes); nonzero if src is damaged. */
static int
model_decode(struct model *m, const struct geometry *g, const uint8_t *src,
    size_t cn, const uint8_t *ref, uint8_t *out, size_t n)
{
	struct z4_rc_dec rc;
	size_t count = n / g->w, i;
	int64_t lo = -((int64_t)1 << (8 * g->w - 1)), hi = -lo - 1;

	model_init(m);
	if (z4_rc_dec_init(&rc, src, cn))
		return 1;
	for (i = 0; i < count && !rc.overrun; i++) {
		uint32_t r = load(ref + i * g->w, g->w);
		int64_t d;
		if (decode_change(&rc, context(m, r >> g->ebits_shift &
		    g->emask), g->size_bits, &d))
			return 1;
		int64_t o = ordered(r, g->w) + d;
		if (o < lo || o > hi)
			return 1;
		uint32_t u = unordered(o, g->w);
		if (g->w == 2)
			z4_put16(out + i * 2, (uint16_t)u);
		else
			z4_put32(out + i * 4, u);
	}
	for (i = count * g->w; i < n; i++)
		out[i] = (uint8_t)(ref[i] ^ z4_rc_dec_direct(&rc, 8));
	return z4_rc_dec_finish(&rc);
}

static int
parse_params(const struct z4_frame *f, const struct z4_xform_step *s,
    struct geometry *g)
{
	if (z4_delta_check(s) || geometry(s->param[0], g) ||
	    s->param[1] != g->w || s->param[0] != f->tensor.dtype)
		return Z4_E_CORRUPT;
	return 0;
}

static unsigned
model_inputs(const struct z4_xform_step *s)
{
	struct geometry g;
	return z4_delta_check(s) || geometry(s->param[0], &g) ? 0 : 1;
}

static int
model_decode_step(struct z4_frame *f, const struct z4_xform_step *s,
    unsigned first, struct z4_plane *out)
{
	const struct z4_plane *in = &f->plane[first];
	struct geometry g;
	int err;

	if ((err = parse_params(f, s, &g)))
		return err;
	if (s != &f->xform[0] || f->kind != Z4_FRAME_CHUNK ||
	    in->raw_size > f->raw_size)
		return Z4_E_CORRUPT;
	if ((err = z4_delta_reference(f)) ||
	    (err = z4_plane_reserve_raw(out, f->raw_size ? f->raw_size : 1)))
		return err;
	struct model *m = malloc(sizeof *m);
	if (m == NULL)
		return Z4_E_NOMEM;
	err = model_decode(m, &g, in->raw, in->raw_size, f->refbuf, out->rbuf,
	    f->raw_size) ? Z4_E_DECODE : 0;
	free(m);
	out->raw = out->rbuf;
	out->raw_size = f->raw_size;
	return err;
}

static int
model_encode_step(struct z4_frame *f, struct z4_xform_step *s,
    const uint8_t *src, size_t n, unsigned first)
{
	struct z4_plane *p = &f->plane[first];
	struct geometry g;
	int err;

	if (f->nxform != 0 || f->kind != Z4_FRAME_CHUNK || !f->have_ref ||
	    f->ref_size != n || n == 0 || geometry(f->tensor.dtype, &g))
		return 1;
	if ((err = z4_plane_reserve_raw(p, n)))
		return err;
	struct model *m = malloc(sizeof *m);
	if (m == NULL)
		return Z4_E_NOMEM;
	size_t size = model_encode(m, &g, src, f->refbuf, n, p->rbuf, n);
	free(m);
	if (size > n)
		return 1;
	p->raw = p->rbuf;
	p->raw_size = size;
	f->nplane = first + 1;
	s->param[0] = (uint8_t)f->tensor.dtype;
	s->param[1] = (uint8_t)g.w;
	z4_delta_describe(f, s);
	return 0;
}

const struct z4_xform z4_xform_delta_model = {
	.id = Z4_XF_DELTA_MODEL,
	.name = "delta-model",
	.inputs = model_inputs,
	.encode = model_encode_step,
	.decode = model_decode_step,
};

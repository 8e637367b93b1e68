/*
 * xform_byte_model.c - 1-byte integers (U8 and I8: quantised weights)
 * coded one at a time with adaptive probabilities, mixed from contexts
 * of the element's column, its row and the element above it.
 *
 * The values of a quantised layer spread around its zero point by a
 * scale that changes from one output channel (column) to the next, as a
 * folded batch norm or a channel that learned more leaves it, and from
 * one input (row) to the next.  A table per tensor pays for the mixture
 * of those spreads.  Here each value's distance from the centre is coded
 * a binary decision at a time, and each decision's probability is mixed
 * from three: the tensor's own; one in the context of the mean distance
 * so far in the element's column and of the distance of the element just
 * above; and one in the context of the mean distances so far in its
 * column and in its row.  Contexts cost no table and learn as they go,
 * so a tensor of a few hundred elements is modelled as cheaply as a
 * large one.
 *
 * Parameters: C (u32, elements a row) and Mu (the centre, a byte).  One
 * plane out: the range coder's bytes (rangecoder.h), shorter than the
 * chunk (else it does not apply).  z4-frame(5) gives every rule and
 * constant below, since a decoder must compute exactly the same
 * probabilities.
 */
#include <pthread.h>
#include <stdlib.h>

#include "internal.h"
#include "rangecoder.h"

#define KEY_TOP 8		/* keys 0 to 7 tell the bit length */
#define KEY_SIGN 36
#define NKEY 37
#define TOP_BITS 3		/* bits below the leading 1 that are modelled */
#define MEAN_CLASSES 16		/* 15 by mean distance, and "none yet" */
#define UP_CLASSES 6
#define UP_NONE 3		/* the first row's: as if 20 above */
#define INHERIT_COUNT 16	/* a context's, starting from the tensor's own */
#define UNSET 0xffu
#define WEIGHT_START 21845	/* a third, in 2^-16 */
#define WEIGHT_MAX (1 << 22)
#define RATE_SHIFT 12

/* Mean distances that part the column and row classes. */
static const uint8_t mean_edge[MEAN_CLASSES - 2] = {
	6, 8, 10, 12, 14, 16, 18, 20, 23, 26, 30, 35, 42, 50
};
static const uint8_t up_edge[UP_CLASSES - 1] = { 8, 14, 20, 28, 40 };

/* 4096 / (1 + exp(-x)) at x = -8, -7.5, ..., 8: squash()'s knots. */
static const uint16_t squash_knot[33] = {
	1, 2, 4, 6, 10, 17, 27, 45, 74, 120, 194, 311, 488, 747, 1102, 1546,
	2048, 2550, 2994, 3349, 3608, 3785, 3902, 3976, 4022, 4051, 4069,
	4079, 4086, 4090, 4092, 4094, 4095
};

static int16_t stretch_of[4096];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

/* The logistic of d / 256 in 2^-12, d clamped to +-2047: 1 to 4095. */
static inline unsigned
squash(int32_t d)
{
	if (d > 2047)
		d = 2047;
	if (d < -2047)
		d = -2047;
	unsigned x = (unsigned)(d + 2048), i = x >> 7, w = x & 127;
	return (squash_knot[i] * (128 - w) + squash_knot[i + 1] * w) >> 7;
}

static void
tables_init(void)
{
	/* stretch: the least d whose squash reaches p; 2047 past the top. */
	unsigned p = 0;
	for (int32_t d = -2047; d <= 2047; d++)
		for (unsigned v = squash(d); p <= v; p++)
			stretch_of[p] = (int16_t)d;
	for (; p < 4096; p++)
		stretch_of[p] = 2047;
}

/*
 * Each decision has three probabilities (rangecoder.h's, moved toward
 * each bit seen): the tensor's own, and two in contexts.  A context's
 * starts, the first time it is met, where the tensor's own is then.
 */
struct model {
	struct z4_rc_model own[NKEY];
	struct z4_rc_model near[MEAN_CLASSES][UP_CLASSES][NKEY];
	struct z4_rc_model mean[MEAN_CLASSES][MEAN_CLASSES][NKEY];
	int32_t weight[NKEY][3];
};

static void
model_init(struct model *m)
{
	for (unsigned k = 0; k < NKEY; k++) {
		m->own[k] = (struct z4_rc_model){ Z4_RC_PROB_INIT, 0 };
		for (unsigned i = 0; i < 3; i++)
			m->weight[k][i] = WEIGHT_START;
	}
	struct z4_rc_model unset = { 0, UNSET };
	for (unsigned a = 0; a < MEAN_CLASSES; a++)
		for (unsigned k = 0; k < NKEY; k++) {
			for (unsigned b = 0; b < UP_CLASSES; b++)
				m->near[a][b][k] = unset;
			for (unsigned b = 0; b < MEAN_CLASSES; b++)
				m->mean[a][b][k] = unset;
		}
}

/*
 * v / 2^k rounded down, for negative v too: what gcc and clang make of a
 * right shift of a signed value (C leaves it to the compiler).
 */
static inline int64_t
floor_shift(int64_t v, unsigned k)
{
	return v >> k;
}

/* The contexts of one element. */
struct where {
	unsigned col, row, up;
};

/* The three probabilities of a decision, stretched, and their mix. */
struct mixed {
	struct z4_rc_model *c[3];
	int32_t st[3];
	unsigned p1;
};

/*
 * The probability (of a 0, in 2^-15, as the range coder takes it) that
 * decision key gives in the contexts at w; x keeps what learn() needs.
 */
static inline uint32_t
predict(struct model *m, unsigned key, const struct where *w,
    struct mixed *x)
{
	x->c[0] = &m->own[key];
	x->c[1] = &m->near[w->col][w->up][key];
	x->c[2] = &m->mean[w->col][w->row][key];
	int64_t dot = 0;
	for (unsigned i = 0; i < 3; i++) {
		struct z4_rc_model *c = x->c[i];
		if (c->n == UNSET) {
			c->p = m->own[key].p;
			c->n = INHERIT_COUNT;
		}
		x->st[i] = stretch_of[((1u << Z4_RC_PROB_BITS) - c->p) >> 3];
		dot += (int64_t)m->weight[key][i] * x->st[i];
	}
	x->p1 = squash((int32_t)floor_shift(dot, 16));
	return (4096 - x->p1) << 3;	/* 8 to 32760 */
}

static inline void
learn(struct model *m, unsigned key, const struct mixed *x, unsigned bit)
{
	int32_t err = (int32_t)(bit << 12) - (int32_t)x->p1;
	for (unsigned i = 0; i < 3; i++) {
		int64_t w = m->weight[key][i] +
		    floor_shift((int64_t)x->st[i] * err, RATE_SHIFT);
		m->weight[key][i] = (int32_t)(w > WEIGHT_MAX ? WEIGHT_MAX :
		    w < -WEIGHT_MAX ? -WEIGHT_MAX : w);
		z4_rc_update(x->c[i], bit);
	}
}

static inline uint32_t
clamp_p0(uint32_t p0)
{
	return p0 < Z4_RC_PROB_MIN ? Z4_RC_PROB_MIN :
	    p0 > Z4_RC_PROB_MAX ? Z4_RC_PROB_MAX : p0;
}

/*
 * Where the next element is, and the running sums of distances: of each
 * column that has a second row (fewer than half the chunk's values), and
 * of the row so far.  A column's sum stops growing short of 2^32, which
 * changes no class: it has fewer than 2^26 rows, and 50 times that is
 * less.
 */
struct walk {
	size_t cols, c, r, summed;
	uint32_t *col_sum;
	uint64_t row_sum;
};

static unsigned
mean_class(uint64_t sum, uint64_t count)
{
	unsigned k = 0;
	if (count == 0)
		return MEAN_CLASSES - 1;
	while (k < MEAN_CLASSES - 2 && sum >= mean_edge[k] * count)
		k++;
	return k;
}

static unsigned
up_class(unsigned d)
{
	unsigned k = 0;
	while (k < UP_CLASSES - 1 && d >= up_edge[k])
		k++;
	return k;
}

static unsigned
distance(unsigned u, unsigned mu)
{
	return u > mu ? u - mu : mu - u;
}

static void
locate(const struct walk *k, const uint8_t *u, size_t i, unsigned mu,
    struct where *w)
{
	/* Row 0 has no sum: its columns may be past those summed. */
	w->col = k->r ? mean_class(k->col_sum[k->c], k->r) : MEAN_CLASSES - 1;
	w->row = mean_class(k->row_sum, k->c);
	w->up = i >= k->cols ? up_class(distance(u[i - k->cols], mu)) :
	    UP_NONE;
}

static void
step(struct walk *k, unsigned d)
{
	if (k->c < k->summed)
		k->col_sum[k->c] += k->col_sum[k->c] > UINT32_MAX - d ? 0 : d;
	k->row_sum += d;
	if (++k->c == k->cols) {
		k->c = 0;
		k->r++;
		k->row_sum = 0;
	}
}

static inline void
code(struct z4_rc_enc *rc, struct model *m, unsigned key,
    const struct where *w, unsigned bit)
{
	struct mixed x;
	z4_rc_bit_p(rc, clamp_p0(predict(m, key, w, &x)), bit);
	learn(m, key, &x, bit);
}

static inline unsigned
decode(struct z4_rc_dec *rc, struct model *m, unsigned key,
    const struct where *w)
{
	struct mixed x;
	unsigned bit = z4_rc_dec_bit_p(rc, clamp_p0(predict(m, key, w, &x)));
	learn(m, key, &x, bit);
	return bit;
}

/*
 * The first key of the bits below the leading 1 of a distance of bl bits
 * (2 to 8): the first bit, the second after a 0 or a 1, then the third.
 */
static unsigned
top_key(unsigned bl)
{
	return KEY_TOP + (bl - 2) * 4;
}

/*
 * One distance d of bl bits, and whether the value is below the centre:
 * the bit length as a tree (4 or more; if so, 8; then its two low bits),
 * up to TOP_BITS bits below the leading 1, the rest as they are, then
 * the side.
 */
static void
put_distance(struct z4_rc_enc *rc, struct model *m, const struct where *w,
    unsigned d, unsigned bl, unsigned below)
{
	unsigned hi = bl >= 4, base = hi ? 4 : 0;
	code(rc, m, 0, w, hi);
	if (hi)
		code(rc, m, 4, w, bl == 8);
	if (bl != 8) {
		code(rc, m, base + 1, w, bl >> 1 & 1);
		code(rc, m, base + 2 + (bl >> 1 & 1), w, bl & 1);
	}
	unsigned below_top = bl > 1 ? bl - 1 : 0;
	unsigned t = below_top < TOP_BITS ? below_top : TOP_BITS;
	for (unsigned i = 0, node = 0; i < t; i++) {
		unsigned bit = d >> (below_top - 1 - i) & 1;
		code(rc, m, top_key(bl) + (i == 0 ? 0 : i == 1 ? 1 + node : 3),
		    w, bit);
		node = bit;
	}
	if (below_top > t)
		z4_rc_direct(rc, d, below_top - t);
	if (d)
		code(rc, m, KEY_SIGN, w, below);
}

/* The inverse of put_distance: the distance, *below its side. */
static unsigned
get_distance(struct z4_rc_dec *rc, struct model *m, const struct where *w,
    unsigned *below)
{
	unsigned hi = decode(rc, m, 0, w), bl = 8;
	if (!hi || !decode(rc, m, 4, w)) {
		unsigned base = hi ? 4 : 0, b1 = decode(rc, m, base + 1, w);
		bl = (hi ? 4 : 0) | b1 << 1 | decode(rc, m, base + 2 + b1, w);
	}
	unsigned below_top = bl > 1 ? bl - 1 : 0;
	unsigned t = below_top < TOP_BITS ? below_top : TOP_BITS;
	unsigned d = bl ? 1 : 0;
	for (unsigned i = 0, node = 0; i < t; i++) {
		node = decode(rc, m, top_key(bl) + (i == 0 ? 0 : i == 1 ?
		    1 + node : 3), w);
		d = d << 1 | node;
	}
	if (below_top > t)
		d = d << (below_top - t) | z4_rc_dec_direct(rc, below_top - t);
	*below = d && decode(rc, m, KEY_SIGN, w);
	return d;
}

/*
 * The kernel, encoding the n values u (bytes, I8 already flipped to
 * order) into dst; returns the coded size, past cap when it does not fit.
 */
static size_t
model_encode(struct model *m, struct walk *k, const uint8_t *u, size_t n,
    unsigned mu, uint8_t *dst, size_t cap)
{
	struct z4_rc_enc rc;
	struct where w;

	model_init(m);
	z4_rc_enc_init(&rc, dst, cap);
	for (size_t i = 0; i < n && rc.pos <= cap; i++) {
		unsigned d = distance(u[i], mu);
		locate(k, u, i, mu, &w);
		put_distance(&rc, m, &w, d,
		    d ? 32 - (unsigned)__builtin_clz(d) : 0, u[i] < mu);
		step(k, d);
	}
	return z4_rc_enc_finish(&rc);
}

/* The kernel, decoding n values into u; nonzero if src is damaged. */
static int
model_decode(struct model *m, struct walk *k, const uint8_t *src,
    size_t cn, uint8_t *u, size_t n, unsigned mu)
{
	struct z4_rc_dec rc;
	struct where w;

	model_init(m);
	if (z4_rc_dec_init(&rc, src, cn))
		return 1;
	for (size_t i = 0; i < n && !rc.overrun; i++) {
		unsigned below;
		locate(k, u, i, mu, &w);
		unsigned d = get_distance(&rc, m, &w, &below);
		if (below ? d > mu : d > 255 - mu)
			return 1;
		u[i] = (uint8_t)(below ? mu - d : mu + d);
		step(k, d);
	}
	return z4_rc_dec_finish(&rc);
}

/* The types it codes. */
static int
byte_typed(unsigned dtype)
{
	return dtype == Z4_DT_U8 || dtype == Z4_DT_I8;
}

/* I8 is coded in the order of its values: its sign bit flipped. */
static unsigned
flip_of(unsigned dtype)
{
	return dtype == Z4_DT_I8 ? 0x80 : 0;
}

static void
flip(uint8_t *p, size_t n, unsigned by)
{
	for (size_t i = 0; by && i < n; i++)
		p[i] ^= (uint8_t)by;
}

static int
parse_params(const struct z4_frame *f, const struct z4_xform_step *s,
    size_t *cols, unsigned *mu)
{
	if (s->param_size != 5)
		return Z4_E_CORRUPT;
	*cols = z4_get32(s->param);
	*mu = s->param[4];
	if (*cols == 0 || *cols > (f->raw_size ? f->raw_size : 1))
		return Z4_E_CORRUPT;
	return 0;
}

static unsigned
byte_model_inputs(const struct z4_xform_step *s)
{
	return s->param_size == 5 && z4_get32(s->param) != 0 ? 1 : 0;
}

/* The kernels' memory: the model and the column sums, for n values. */
static int
start(struct model **m, struct walk *k, size_t cols, size_t n)
{
	k->summed = n - cols < cols ? n - cols : cols;
	*m = malloc(sizeof **m);
	k->col_sum = calloc(k->summed ? k->summed : 1, sizeof *k->col_sum);
	k->cols = cols;
	k->c = k->r = 0;
	k->row_sum = 0;
	pthread_once(&tables_once, tables_init);
	if (*m == NULL || k->col_sum == NULL) {
		free(*m);
		free(k->col_sum);
		return Z4_E_NOMEM;
	}
	return 0;
}

static void
finish(struct model *m, struct walk *k)
{
	free(m);
	free(k->col_sum);
}

static int
byte_model_decode_step(struct z4_frame *f, const struct z4_xform_step *s,
    unsigned first, struct z4_plane *out)
{
	const struct z4_plane *in = &f->plane[first];
	struct model *m;
	struct walk k;
	size_t cols;
	unsigned mu;
	int err;

	if ((err = parse_params(f, s, &cols, &mu)))
		return err;
	if (s != &f->xform[0] || f->kind != Z4_FRAME_CHUNK ||
	    !byte_typed(f->tensor.dtype) || in->raw_size > f->raw_size)
		return Z4_E_CORRUPT;
	if ((err = z4_plane_reserve_raw(out, f->raw_size ? f->raw_size : 1)) ||
	    (err = start(&m, &k, cols, f->raw_size)))
		return err;
	err = model_decode(m, &k, in->raw, in->raw_size, out->rbuf,
	    f->raw_size, mu) ? Z4_E_DECODE : 0;
	finish(m, &k);
	if (!err)
		flip(out->rbuf, f->raw_size, flip_of(f->tensor.dtype));
	out->raw = out->rbuf;
	out->raw_size = f->raw_size;
	return err;
}

/*
 * The row length: the tensor's last dimension, past trailing ones (a
 * depthwise filter [3, 3, C, 1] has rows of C), and no longer than n.
 */
static size_t
row_length(const struct z4_tensor *t, size_t n)
{
	uint64_t c = 1;
	for (unsigned d = t->ndim; d-- > 0 && c == 1;)
		c = t->shape[d];
	return c == 0 || c > n ? n : (size_t)c;
}

static int
byte_model_encode_step(struct z4_frame *f, struct z4_xform_step *s,
    const uint8_t *src, size_t n, unsigned first)
{
	struct z4_plane *p = &f->plane[first];
	unsigned by = flip_of(f->tensor.dtype);
	struct model *m;
	struct walk k;
	int err;

	if (f->nxform != 0 || f->kind != Z4_FRAME_CHUNK || n == 0 ||
	    !byte_typed(f->tensor.dtype))
		return 1;
	size_t cols = row_length(&f->tensor, n), count[256] = { 0 }, seen = 0;
	/* U8 is coded as it is; I8 from a flipped copy. */
	uint8_t *flipped = NULL;
	const uint8_t *u = src;
	if (by) {
		if ((flipped = malloc(n)) == NULL)
			return Z4_E_NOMEM;
		memcpy(flipped, src, n);
		flip(flipped, n, by);
		u = flipped;
	}
	for (size_t i = 0; i < n; i++)
		count[u[i]]++;
	unsigned mu = 0;	/* the median */
	while (seen + count[mu] <= (n - 1) / 2)
		seen += count[mu++];
	if ((err = z4_plane_reserve_raw(p, n)) ||
	    (err = start(&m, &k, cols, n))) {
		free(flipped);
		return err;
	}
	size_t size = model_encode(m, &k, u, n, mu, p->rbuf, n);
	finish(m, &k);
	free(flipped);
	if (size >= n)
		return 1;
	p->raw = p->rbuf;
	p->raw_size = size;
	f->nplane = first + 1;
	z4_put32(s->param, (uint32_t)cols);
	s->param[4] = (uint8_t)mu;
	s->param_size = 5;
	return 0;
}

const struct z4_xform z4_xform_byte_model = {
	.id = Z4_XF_BYTE_MODEL,
	.name = "byte-model",
	.inputs = byte_model_inputs,
	.encode = byte_model_encode_step,
	.decode = byte_model_decode_step,
};

/*
 * rangecoder.h - a binary range coder with adaptive probabilities, for
 * models whose contexts are too many to pay a frequency table each.
 *
 * Each binary decision has a probability that it is 0 (struct
 * z4_rc_model), starting at one half and moved toward each outcome coded
 * with it, so a context costs nothing to describe and learns as it goes.
 *
 * The coder keeps a 32-bit range and shifts out a byte whenever the range
 * falls below 2^24.  The encoder's low end has one bit of carry; a byte
 * that a carry could still change waits (cache, and a run of 0xff bytes)
 * until it cannot.  The coded bytes begin with a 0 byte, the cache's
 * first value.  The decoder starts by reading 5 bytes and then one per
 * shift, and ends having read exactly the bytes the encoder wrote: the
 * encoder flushes 4 bytes of its low end after the cached byte.
 *
 * Decoding trusts nothing: reading past the end gives zero bytes and
 * marks the decoder, which then fails at z4_rc_dec_finish.
 */
#ifndef Z4_RANGECODER_H
#define Z4_RANGECODER_H

#include <stddef.h>
#include <stdint.h>

#define Z4_RC_PROB_BITS 15
#define Z4_RC_PROB_INIT (1u << (Z4_RC_PROB_BITS - 1))
#define Z4_RC_PROB_MIN 16
#define Z4_RC_PROB_MAX ((1u << Z4_RC_PROB_BITS) - Z4_RC_PROB_MIN)
#define Z4_RC_COUNT_MAX 126
#define Z4_RC_TOP (1u << 24)

/*
 * A probability that the next bit is 0, in units of 2^-15, and how many
 * bits it has seen (up to 126).  Its n-th update moves it 2 / (2n + 3) of
 * the way toward the bit just seen: a new context learns from its first
 * few bits almost as fast as counting would, an old one settles at a
 * rate of 2/255.  The step is rcp[n] / 2^16 with rcp[n] =
 * floor(2^17 / (2n + 3)), so that encoder and decoder agree to the bit.
 */
struct z4_rc_model {
	uint16_t p;
	uint8_t n;
};

static const uint16_t z4_rc_rcp[Z4_RC_COUNT_MAX + 1] = {
	43690, 26214, 18724, 14563, 11915, 10082, 8738, 7710,
	6898, 6241, 5698, 5242, 4854, 4519, 4228, 3971,
	3744, 3542, 3360, 3196, 3048, 2912, 2788, 2674,
	2570, 2473, 2383, 2299, 2221, 2148, 2080, 2016,
	1956, 1899, 1846, 1795, 1747, 1702, 1659, 1618,
	1579, 1542, 1506, 1472, 1440, 1409, 1379, 1351,
	1323, 1297, 1272, 1248, 1224, 1202, 1180, 1159,
	1139, 1120, 1101, 1083, 1065, 1048, 1032, 1016,
	1000, 985, 970, 956, 942, 929, 916, 903,
	891, 879, 868, 856, 845, 834, 824, 814,
	804, 794, 784, 775, 766, 757, 748, 740,
	732, 724, 716, 708, 700, 693, 686, 679,
	672, 665, 658, 652, 645, 639, 633, 627,
	621, 615, 609, 604, 598, 593, 587, 582,
	577, 572, 567, 562, 557, 553, 548, 543,
	539, 534, 530, 526, 522, 518, 514,
};

static inline void
z4_rc_update(struct z4_rc_model *m, unsigned bit)
{
	uint32_t r = z4_rc_rcp[m->n], p = m->p;
	uint32_t down = p - ((p - Z4_RC_PROB_MIN) * r >> 16);
	uint32_t up = p + ((Z4_RC_PROB_MAX - p) * r >> 16);
	m->p = (uint16_t)(bit ? down : up);
	m->n = (uint8_t)(m->n + (m->n < Z4_RC_COUNT_MAX));
}

struct z4_rc_enc {
	uint8_t *dst;
	size_t cap, pos;	/* pos may pass cap: then the output is lost */
	uint64_t low;		/* 32 bits and a carry */
	uint32_t range;
	uint8_t cache;
	uint64_t pending;	/* 0xff bytes waiting behind cache */
};

struct z4_rc_dec {
	const uint8_t *src;
	size_t n, pos;
	uint32_t range, code;
	int overrun;		/* read past the end of src */
};

static inline void
z4_rc_enc_init(struct z4_rc_enc *e, uint8_t *dst, size_t cap)
{
	e->dst = dst;
	e->cap = cap;
	e->pos = 0;
	e->low = 0;
	e->range = 0xffffffffu;
	e->cache = 0;
	e->pending = 1;		/* the cache's first byte, 0 */
}

static inline void
z4_rc_put(struct z4_rc_enc *e, uint8_t b)
{
	if (e->pos < e->cap)
		e->dst[e->pos] = b;
	e->pos++;
}

/* Shift the top byte of low out, or hold it while a carry may reach it. */
static inline void
z4_rc_shift(struct z4_rc_enc *e)
{
	if (e->low < 0xff000000u || e->low >= 0x100000000u) {
		uint8_t carry = (uint8_t)(e->low >> 32);
		z4_rc_put(e, (uint8_t)(e->cache + carry));
		for (; e->pending > 1; e->pending--)
			z4_rc_put(e, (uint8_t)(0xff + carry));
		e->pending = 0;
		e->cache = (uint8_t)(e->low >> 24);
	}
	e->pending++;
	e->low = (e->low & 0x00ffffffu) << 8;
}

/* A bit whose probability of being 0 is p0 / 2^15 (p0 in MIN to MAX). */
static inline void
z4_rc_bit_p(struct z4_rc_enc *e, uint32_t p0, unsigned bit)
{
	uint32_t bound = (e->range >> Z4_RC_PROB_BITS) * p0;
	if (bit) {
		e->low += bound;
		e->range -= bound;
	} else {
		e->range = bound;
	}
	while (e->range < Z4_RC_TOP) {
		e->range <<= 8;
		z4_rc_shift(e);
	}
}

static inline void
z4_rc_bit(struct z4_rc_enc *e, struct z4_rc_model *m, unsigned bit)
{
	z4_rc_bit_p(e, m->p, bit);
	z4_rc_update(m, bit);
}

/* The low k bits of v (k at most 8), each as likely 0 as 1. */
static inline void
z4_rc_direct(struct z4_rc_enc *e, uint32_t v, unsigned k)
{
	e->range >>= k;
	e->low += (uint64_t)e->range * (v & ((1u << k) - 1));
	while (e->range < Z4_RC_TOP) {
		e->range <<= 8;
		z4_rc_shift(e);
	}
}

/* Flush; returns the coded size, which is past cap if the output is lost. */
static inline size_t
z4_rc_enc_finish(struct z4_rc_enc *e)
{
	for (int i = 0; i < 5; i++)
		z4_rc_shift(e);
	return e->pos;
}

static inline uint8_t
z4_rc_get(struct z4_rc_dec *d)
{
	if (d->pos < d->n)
		return d->src[d->pos++];
	d->overrun = 1;
	return 0;
}

/* Start decoding n bytes at src; nonzero if they cannot be a coding. */
static inline int
z4_rc_dec_init(struct z4_rc_dec *d, const uint8_t *src, size_t n)
{
	d->src = src;
	d->n = n;
	d->pos = 0;
	d->overrun = 0;
	d->range = 0xffffffffu;
	d->code = 0;
	if (z4_rc_get(d) != 0)
		return 1;
	for (int i = 0; i < 4; i++)
		d->code = d->code << 8 | z4_rc_get(d);
	return d->overrun;
}

static inline unsigned
z4_rc_dec_bit_p(struct z4_rc_dec *d, uint32_t p0)
{
	uint32_t bound = (d->range >> Z4_RC_PROB_BITS) * p0;
	unsigned bit = d->code >= bound;
	/* Both outcomes computed, one kept: the bits are unpredictable. */
	d->code -= bit ? bound : 0;
	d->range = bit ? d->range - bound : bound;
	while (d->range < Z4_RC_TOP) {
		d->range <<= 8;
		d->code = d->code << 8 | z4_rc_get(d);
	}
	return bit;
}

static inline unsigned
z4_rc_dec_bit(struct z4_rc_dec *d, struct z4_rc_model *m)
{
	unsigned bit = z4_rc_dec_bit_p(d, m->p);
	z4_rc_update(m, bit);
	return bit;
}

/*
 * k bits (k at most 8) coded by z4_rc_direct.  A damaged coding can give
 * a value of k bits or more; it is clamped, and the checksum of the
 * decoded bytes catches it.
 */
static inline uint32_t
z4_rc_dec_direct(struct z4_rc_dec *d, unsigned k)
{
	d->range >>= k;
	uint32_t v = d->code / d->range;
	if (v >> k)
		v = (1u << k) - 1;
	d->code -= v * d->range;
	while (d->range < Z4_RC_TOP) {
		d->range <<= 8;
		d->code = d->code << 8 | z4_rc_get(d);
	}
	return v;
}

/* Nonzero unless the decoder read exactly the n bytes it was given. */
static inline int
z4_rc_dec_finish(const struct z4_rc_dec *d)
{
	return d->overrun || d->pos != d->n;
}

#endif

/*
 * coder_rans.c - an order-0 range-ANS coder for planes whose bytes are
 * skewed but not repetitive (a float's exponents): near the order-0
 * entropy, where a Huffman code loses a few percent on skewed alphabets,
 * and decoding is a table lookup, a multiply and an add per byte.
 *
 * Layout of a coded plane (all little-endian):
 *   Prob_Bits  u8        B, 10..15: frequencies sum to M = 2^B
 *   Present    32 bytes  bit s set when symbol s occurs
 *   Freqs      varint    one per present symbol, in symbol order, >= 1
 *   States     4 x u32   the decoder's initial states, each in [L, 2^31)
 *   Words      u16...    renormalisation words, read in order
 * Four states are interleaved: byte i is coded with state i mod 4.  The
 * state lives in [L, 2^31) with L = 2^15 and is renormalised 16 bits at
 * a time.  A decoder must end with every state at L and every word read.
 */
#include <math.h>
#include <stdlib.h>

#include "internal.h"

#define RANS_L (1u << 15)
#define NSTATE 8

struct enc_sym {
	uint32_t x_max;		/* renormalise while x >= x_max */
	uint32_t rcp;		/* reciprocal of freq, for the division */
	uint32_t bias;
	uint16_t cmpl;		/* M - freq */
	uint8_t shift;
};

static size_t
put_varint(uint8_t *p, uint32_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

static int
get_varint(struct z4_cursor *c, uint32_t *v)
{
	*v = 0;
	for (unsigned shift = 0; shift < 21; shift += 7) {
		unsigned b = z4_cur8(c);
		*v |= (uint32_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return c->ok ? 0 : -1;
	}
	return -1;
}

/* Scale counts to frequencies summing to 2^bits, none of them 0. */
static void
normalise(const uint32_t *count, size_t n, unsigned bits, uint32_t *freq)
{
	uint32_t m = 1u << bits, sum = 0;
	unsigned top = 0;

	for (unsigned s = 0; s < 256; s++) {
		freq[s] = 0;
		if (!count[s])
			continue;
		uint64_t f = ((uint64_t)count[s] * m + n / 2) / n;
		freq[s] = f ? (uint32_t)f : 1;
		sum += freq[s];
		if (count[s] > count[top])
			top = s;
	}
	/*
	 * Rounding leaves the sum a little off.  A shortfall goes to the
	 * most frequent symbol; an excess is taken one unit at a time from
	 * the largest frequencies, never below 1.
	 */
	if (sum <= m) {
		freq[top] += m - sum;
		return;
	}
	while (sum > m) {
		unsigned big = top;
		for (unsigned s = 0; s < 256; s++)
			if (freq[s] > freq[big])
				big = s;
		uint32_t take = (freq[big] - 1) / 8 + 1;
		if (take > sum - m)
			take = sum - m;
		freq[big] -= take;
		sum -= take;
	}
}

/* Estimated coded bits of the data for frequencies freq. */
static double
cost(const uint32_t *count, const uint32_t *freq, unsigned bits)
{
	double c = 0;
	for (unsigned s = 0; s < 256; s++)
		if (count[s])
			c += count[s] * (bits - log2(freq[s]));
	return c;
}

static void
enc_init(struct enc_sym *e, uint32_t start, uint32_t freq, unsigned bits)
{
	e->x_max = ((RANS_L >> bits) << 16) * freq;
	e->cmpl = (uint16_t)((1u << bits) - freq);
	if (freq < 2) {
		/* q = x exactly: x + bias + x * (M - 1) = x * M + start. */
		e->rcp = ~0u;
		e->shift = 0;
		e->bias = start + (1u << bits) - 1;
	} else {
		unsigned sh = 0;
		while (freq > (1u << sh))
			sh++;
		e->rcp = (uint32_t)(((1ull << (sh + 31)) + freq - 1) / freq);
		e->shift = (uint8_t)(sh - 1);
		e->bias = start;
	}
}

static size_t
rans_bound(size_t n)
{
	return 1 + 32 + 256 * 3 + 4 * NSTATE + 2 * n + 16;
}

static int
rans_encode(void **state, uint8_t *dst, size_t cap, size_t *out,
    const struct z4_code_in *in)
{
	const uint8_t *src = in->src;
	size_t n = in->n;
	uint32_t own[256] = { 0 }, freq[256];
	const uint32_t *count = in->count;
	struct enc_sym *e;
	int level = in->level;
	unsigned bits = level >= 6 ? 14 : 12;

	(void)state;
	if (cap < rans_bound(n) || n == 0)
		return Z4_E_USAGE;
	if (count == NULL) {
		for (size_t i = 0; i < n; i++)
			own[src[i]]++;
		count = own;
	}
	normalise(count, n, bits, freq);
	if (level >= 6) {
		/* Fewer bits of precision may pay for a smaller table. */
		uint32_t f12[256];
		normalise(count, n, 12, f12);
		if (cost(count, f12, 12) <= cost(count, freq, 14) + 8 * 64) {
			bits = 12;
			memcpy(freq, f12, sizeof freq);
		}
	}
	if ((e = malloc(256 * sizeof *e)) == NULL)
		return Z4_E_NOMEM;
	size_t h = 0;
	dst[h++] = (uint8_t)bits;
	memset(dst + h, 0, 32);
	uint32_t start = 0;
	for (unsigned s = 0; s < 256; s++) {
		if (!freq[s])
			continue;
		dst[1 + s / 8] |= (uint8_t)(1u << s % 8);
		enc_init(&e[s], start, freq[s], bits);
		start += freq[s];
	}
	h += 32;
	for (unsigned s = 0; s < 256; s++)
		if (freq[s])
			h += put_varint(dst + h, freq[s] - 1);
	/* Words go backwards from the end; states are written last. */
	uint8_t *end = dst + cap, *p = end;
	uint32_t x[NSTATE];
	for (unsigned j = 0; j < NSTATE; j++)
		x[j] = RANS_L;
	for (size_t i = n; i-- > 0;) {
		const struct enc_sym *s = &e[src[i]];
		uint32_t *xs = &x[i % NSTATE];
		/*
		 * Branch-free renormalisation: the word is always stored
		 * below p, and p moves over it only when it is needed.
		 */
		uint32_t need = *xs >= s->x_max;
		z4_put16(p - 2, (uint16_t)*xs);
		p -= 2 * need;
		*xs = need ? *xs >> 16 : *xs;
		uint32_t q = (uint32_t)(((uint64_t)*xs * s->rcp) >> 32) >>
		    s->shift;
		*xs += s->bias + q * s->cmpl;
	}
	free(e);
	for (unsigned j = 0; j < NSTATE; j++)
		z4_put32(dst + h + 4 * j, x[j]);
	h += 4 * NSTATE;
	size_t words = (size_t)(end - p);
	memmove(dst + h, p, words);
	*out = h + words;
	return 0;
}

struct dec_table {
	unsigned bits;
	uint8_t sym[1u << 15];
	uint32_t fb[1u << 15];		/* freq << 16 | (slot - start) */
};

static int
read_table(struct z4_cursor *c, struct dec_table *t)
{
	t->bits = z4_cur8(c);
	if (t->bits < 10 || t->bits > 15)
		return Z4_E_DECODE;
	const uint8_t *present = z4_cur_bytes(c, 32);
	uint32_t m = 1u << t->bits, start = 0;
	for (unsigned s = 0; s < 256 && c->ok; s++) {
		if (!(present[s / 8] >> s % 8 & 1))
			continue;
		uint32_t f;
		if (get_varint(c, &f) || f >= m - start)
			return Z4_E_DECODE;
		f++;
		for (uint32_t k = 0; k < f; k++) {
			t->sym[start + k] = (uint8_t)s;
			t->fb[start + k] = f << 16 | k;
		}
		start += f;
	}
	return c->ok && start == m ? 0 : Z4_E_DECODE;
}

static int
rans_decode(void **state, uint8_t *dst, size_t n, const uint8_t *src,
    size_t cn)
{
	struct z4_cursor c;
	struct dec_table *t = *state;
	uint32_t x[NSTATE];
	int err;

	if (t == NULL && (t = *state = malloc(sizeof *t)) == NULL)
		return Z4_E_NOMEM;
	z4_cursor_init(&c, src, cn);
	if ((err = read_table(&c, t)))
		return err;
	for (unsigned j = 0; j < NSTATE; j++) {
		x[j] = z4_cur32(&c);
		if (x[j] < RANS_L || x[j] >= 1u << 31)
			return Z4_E_DECODE;
	}
	if (!c.ok || n == 0)
		return Z4_E_DECODE;
	const uint8_t *p = src + c.pos, *end = src + cn;
	const unsigned bits = t->bits;
	const uint32_t mask = (1u << bits) - 1;
	size_t i = 0;

	/*
	 * Four bytes per round while eight bytes of words remain.  The
	 * renormalisation is branch-free: whether a state needs a word is
	 * data, and a mispredicted branch costs more than the select.
	 */
	for (; i + NSTATE <= n && end - p >= 2 * NSTATE; i += NSTATE) {
		for (unsigned j = 0; j < NSTATE; j++) {
			uint32_t slot = x[j] & mask, fb = t->fb[slot];
			dst[i + j] = t->sym[slot];
			uint32_t y = (fb >> 16) * (x[j] >> bits) + (fb & 0xffff);
			uint32_t need = y < RANS_L;
			uint32_t w = z4_get16(p);
			x[j] = need ? y << 16 | w : y;
			p += 2 * need;
		}
	}
	for (; i < n; i++) {
		unsigned j = i % NSTATE;
		uint32_t slot = x[j] & mask, fb = t->fb[slot];
		dst[i] = t->sym[slot];
		x[j] = (fb >> 16) * (x[j] >> bits) + (fb & 0xffff);
		if (x[j] < RANS_L) {
			if (end - p < 2)
				return Z4_E_DECODE;
			x[j] = x[j] << 16 | z4_get16(p);
			p += 2;
		}
	}
	for (unsigned j = 0; j < NSTATE; j++)
		if (x[j] != RANS_L)
			return Z4_E_DECODE;
	return p == end ? 0 : Z4_E_DECODE;
}

static void
rans_free(void *state)
{
	free(state);
}

const struct z4_coder z4_coder_rans = {
	.id = Z4_CODER_RANS,
	.name = "rans",
	.encode = rans_encode,
	.decode = rans_decode,
	.bound = rans_bound,
	.free_state = rans_free,
};

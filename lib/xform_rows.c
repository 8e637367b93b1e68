/*
 * xform_rows.c - rows of a matrix coded as their difference from an
 * earlier row that they resemble.
 *
 * The embeddings of tokens that training seldom or never saw drift
 * together, so their rows are near copies of each other; rows that
 * resemble no earlier row are kept as they are.  Parameters: W (2 or 4),
 * C (the row length in elements, u32) and H (u32, the bytes before the
 * first whole row: a chunk may start inside a row of its tensor).
 * Planes: one byte a row, 0 for a row kept, else how many rows back the
 * row it is coded against is; then W planes of the residuals, byte k of
 * each in plane k; last the H bytes, the rows kept and the bytes after
 * the last whole row (last, so that the encoder can go on to split them
 * into planes).  A residual is the difference, modulo 2^(8W), of the two
 * elements mapped to integers in the order of their values, as sign and
 * magnitude.
 */
#include <limits.h>
#include <stdlib.h>

#include "internal.h"

#define ROWS_BACK 255		/* the farthest row a row is coded against */
/*
 * Rows are compared on up to ROWS_SAMPLE elements spread over them.  The
 * comparisons of a chunk may look at ROWS_WORK (ROWS_WORK_9 at levels 7
 * to 9) times its elements, or ROWS_FLOOR elements where that is more, a
 * row at most twice its share: a small matrix is searched through, and a
 * large one of rows all alike costs a few passes over it.
 */
#define ROWS_SAMPLE 128
#define ROWS_WORK 1
#define ROWS_WORK_9 4
#define ROWS_FLOOR (4u << 20)
#define ROWS_LOOK 16		/* rows back a first look goes */
#define ROWS_MIN 32		/* elements a signature needs to tell */

static int
parse_params(const struct z4_xform_step *s, unsigned *w, size_t *c,
    size_t *head)
{
	if (s->param_size != 9)
		return Z4_E_CORRUPT;
	*w = s->param[0];
	*c = z4_get32(s->param + 1);
	*head = z4_get32(s->param + 5);
	if ((*w != 2 && *w != 4) || *c == 0 || *c > Z4_CHUNK_MAX / *w ||
	    *head >= *c * *w)
		return Z4_E_CORRUPT;
	return 0;
}

static unsigned
rows_inputs(const struct z4_xform_step *s)
{
	unsigned w;
	size_t c, head;
	return parse_params(s, &w, &c, &head) ? 0 : 2 + w;
}

static inline uint32_t
load(const uint8_t *p, unsigned w)
{
	return w == 2 ? z4_get16(p) : z4_get32(p);
}

static inline uint32_t
all_bits(unsigned w)
{
	return w == 2 ? 0xffffu : ~0u;
}

/*
 * Sign and magnitude, as a float's bits are, to two's complement modulo
 * 2^(8w), and back.  In two's complement, elements are integers in the
 * order of their values, whose differences are small for close values;
 * in sign and magnitude, a difference keeps the low bits that are 0 in
 * both elements 0, whatever its sign, which zigzag coding would not.  -0
 * goes to -2^(8w-1), the one value that no magnitude reaches.
 */
static inline uint32_t
twos(uint32_t x, unsigned w)
{
	uint32_t top = 1u << (8 * w - 1), mag = x & (top - 1);
	return (x & top ? (mag ? 0u - mag : top) : mag) & all_bits(w);
}

static inline uint32_t
sign_mag(uint32_t y, unsigned w)
{
	uint32_t top = 1u << (8 * w - 1), all = all_bits(w);
	y &= all;
	if (y == top)
		return top;
	return y & top ? ((0u - y) & all) | top : y;
}

static int
rows_decode(struct z4_frame *f, const struct z4_xform_step *s,
    unsigned first, struct z4_plane *out)
{
	unsigned w;
	size_t c, head;
	int err;

	if ((err = parse_params(s, &w, &c, &head)))
		return err;
	const struct z4_plane *map = &f->plane[first];
	const struct z4_plane *res = &f->plane[first + 1];
	const struct z4_plane *kept = &f->plane[first + 1 + w];
	size_t nrow = map->raw_size, nref = 0, row = c * w;
	for (size_t r = 0; r < nrow; r++) {
		if (map->raw[r] > r)
			return Z4_E_CORRUPT;
		nref += map->raw[r] != 0;
	}
	if (nrow > Z4_CHUNK_MAX / row)
		return Z4_E_CORRUPT;
	for (unsigned k = 0; k < w; k++)
		if (res[k].raw_size != nref * c)
			return Z4_E_CORRUPT;
	size_t whole = head + (nrow - nref) * row;
	if (kept->raw_size < whole || kept->raw_size - whole >= row)
		return Z4_E_CORRUPT;
	size_t rest = kept->raw_size - whole;
	out->raw_size = head + nrow * row + rest;
	if (out->raw_size > Z4_CHUNK_MAX)
		return Z4_E_LIMIT;
	if ((err = z4_plane_reserve_raw(out, out->raw_size)))
		return err;
	uint8_t *o = out->rbuf + head;
	const uint8_t *k = kept->raw + head;
	size_t at = 0;
	memcpy(out->rbuf, kept->raw, head);
	for (size_t r = 0; r < nrow; r++, o += row) {
		if (map->raw[r] == 0) {
			memcpy(o, k, row);
			k += row;
			continue;
		}
		const uint8_t *ref = o - map->raw[r] * row;
		for (size_t j = 0; j < c; j++, at++) {
			uint32_t z = 0;
			for (unsigned b = 0; b < w; b++)
				z |= (uint32_t)res[b].raw[at] << 8 * b;
			uint32_t x = sign_mag(twos(load(ref + j * w, w), w) +
			    twos(z, w), w);
			for (unsigned b = 0; b < w; b++)
				o[j * w + b] = (uint8_t)(x >> 8 * b);
		}
	}
	memcpy(o, k, rest);
	out->raw = out->rbuf;
	return 0;
}

/*
 * An element as a signed integer in the order of its value, without a
 * branch (-0 and +0 both 0: this is for estimates and signatures).
 */
static inline int64_t
rank(const uint8_t *p, unsigned w)
{
	uint32_t x = load(p, w), neg = x >> (8 * w - 1);
	int64_t mag = (int64_t)(x & (all_bits(w) >> 1));
	return neg ? -mag : mag;
}

/*
 * Bits the residuals of row a against row b (or a row of zeros) take at
 * the k byte offsets at, roughly, or limit or more where they take that
 * many: the bit lengths of the differences, without the dead low bits.
 */
static size_t
cost(const uint8_t *a, const uint8_t *b, const size_t *at, size_t k,
    unsigned w, unsigned dead, size_t limit)
{
	size_t bits = 0;
	for (size_t i = 0; i < k && bits < limit; i++) {
		int64_t d = rank(a + at[i], w) - (b ? rank(b + at[i], w) : 0);
		uint64_t m = (uint64_t)(d < 0 ? -d : d) >> dead;
		bits += m ? 65 - (size_t)__builtin_clzll(m) : 0;
	}
	return bits;
}

/*
 * A row's signature, of up to 64 elements spread over it: their signs,
 * and which are greater than the next.  Near copies share most of both;
 * rows alike only in sign (all positive, say) share half the second.
 */
struct sig {
	uint64_t sign, order;
};

static struct sig
signature(const uint8_t *p, size_t c, unsigned w)
{
	struct sig v = { 0, 0 };
	size_t k = c < 64 ? c : 64;
	for (size_t i = 0; i < k; i++) {
		size_t a = i * c / k, b = (i + 1) % k * c / k;
		int64_t x = rank(p + a * w, w);
		v.sign |= (uint64_t)(x < 0) << i;
		v.order |= (uint64_t)(x > rank(p + b * w, w)) << i;
	}
	return v;
}

/* Whether two signatures agree closely enough to compare the rows. */
static int
alike(struct sig a, struct sig b, size_t c)
{
	size_t bits = c < 64 ? c : 64;
	return (size_t)__builtin_popcountll(a.sign ^ b.sign) * 6 <= bits &&
	    (size_t)__builtin_popcountll(a.order ^ b.order) * 3 <= bits;
}

/*
 * For each of nrow rows, the earlier row to code it against, as how many
 * rows back (0: none), and how many have one.  Rows are compared only
 * where their signatures mostly agree, so that a matrix of unrelated
 * rows costs one look at a few of their elements.
 */
static int
choose(const uint8_t *src, size_t nrow, size_t c, unsigned w, int level,
    uint8_t *back, size_t *nref)
{
	size_t row = c * w, any = 0, k = c < ROWS_SAMPLE ? c : ROWS_SAMPLE;
	size_t work = (level >= 7 ? ROWS_WORK_9 : ROWS_WORK) * nrow * c;
	size_t budget = (work > ROWS_FLOOR ? work : ROWS_FLOOR) / k;
	size_t most = 2 * budget / nrow, at[ROWS_SAMPLE];
	for (size_t i = 0; i < k; i++)
		at[i] = i * c / k * w;
	struct sig *sig = malloc(nrow * sizeof *sig);
	if (sig == NULL)
		return Z4_E_NOMEM;
	for (size_t r = 0; r < nrow; r++) {
		sig[r] = signature(src + r * row, c, w);
		for (size_t q = r; q-- > 0 && r - q <= ROWS_LOOK && !any;)
			any = alike(sig[r], sig[q], c);
	}
	/* Low bits unused in every element are left out of the costs. */
	uint32_t all = 0;
	for (size_t i = 0; any && i < nrow * row; i += w)
		all |= load(src + i, w);
	unsigned dead = all ? (unsigned)__builtin_ctz(all) : 0;
	*nref = 0;
	for (size_t r = 1; any && r < nrow; r++) {
		const uint8_t *p = src + r * row;
		size_t best = SIZE_MAX, tries = 0;
		for (size_t q = r; q-- > 0 && r - q <= ROWS_BACK &&
		    tries < most && budget > 0;) {
			if (!alike(sig[r], sig[q], c))
				continue;
			budget--;
			/*
			 * A residual must take 7 bits an element fewer than
			 * the element itself, roughly what the planes of a row
			 * kept save on it.
			 */
			if (tries++ == 0) {
				best = cost(p, NULL, at, k, w, dead, SIZE_MAX);
				best = best > 7 * k ? best - 7 * k : 0;
			}
			size_t b = cost(p, src + q * row, at, k, w, dead,
			    best);
			if (b < best) {
				best = b;
				back[r] = (uint8_t)(r - q);
			}
		}
		*nref += back[r] != 0;
	}
	free(sig);
	return 0;
}

static int
rows_encode(struct z4_frame *f, struct z4_xform_step *s,
    const uint8_t *src, size_t size, unsigned first)
{
	const struct z4_tensor *t = &f->tensor;
	unsigned w = z4_dtype_width(t->dtype);
	int err;

	if ((t->dtype != Z4_DT_BF16 && t->dtype != Z4_DT_F16 &&
	    t->dtype != Z4_DT_F32) || t->ndim < 2 ||
	    t->shape[t->ndim - 1] < ROWS_MIN ||
	    t->shape[t->ndim - 1] > UINT32_MAX / w ||
	    first + 2 + w > Z4_PLANE_MAX)
		return 1;
	size_t c = (size_t)t->shape[t->ndim - 1], row = c * w;
	/* Rows as the tensor has them: the chunk may start inside one. */
	size_t head = (size_t)((row - f->chunk_offset % row) % row);
	if (head > size)
		return 1;
	size_t nrow = (size - head) / row;
	if (nrow < 2)
		return 1;
	src += head;
	uint8_t *back = calloc(nrow, 1);
	if (back == NULL)
		return Z4_E_NOMEM;
	size_t nref = 0;
	if ((err = choose(src, nrow, c, w, f->level, back, &nref)) ||
	    nref == 0) {
		free(back);
		return err ? err : 1;
	}
	struct z4_plane *map = &f->plane[first];
	struct z4_plane *res = &f->plane[first + 1];
	struct z4_plane *kept = &f->plane[first + 1 + w];
	size_t rest = size - head - nrow * row;
	err = z4_plane_copy(map, back, nrow);
	for (unsigned b = 0; b < w && !err; b++)
		err = z4_plane_reserve_raw(&res[b], nref * c);
	if (!err)
		err = z4_plane_reserve_raw(kept,
		    head + (nrow - nref) * row + rest);
	if (err) {
		free(back);
		return err;
	}
	memcpy(kept->rbuf, src - head, head);
	uint8_t *k = kept->rbuf + head;
	size_t at = 0;
	for (size_t r = 0; r < nrow; r++) {
		const uint8_t *p = src + r * row;
		if (back[r] == 0) {
			memcpy(k, p, row);
			k += row;
			continue;
		}
		const uint8_t *ref = p - back[r] * row;
		for (size_t j = 0; j < c; j++, at++) {
			uint32_t z = sign_mag(twos(load(p + j * w, w), w) -
			    twos(load(ref + j * w, w), w), w);
			for (unsigned b = 0; b < w; b++)
				res[b].rbuf[at] = (uint8_t)(z >> 8 * b);
		}
	}
	memcpy(k, src + nrow * row, rest);
	free(back);
	for (unsigned b = 0; b < w; b++) {
		res[b].raw = res[b].rbuf;
		res[b].raw_size = nref * c;
	}
	kept->raw = kept->rbuf;
	kept->raw_size = head + (nrow - nref) * row + rest;
	f->nplane = first + 2 + w;
	s->param_size = 9;
	s->param[0] = (uint8_t)w;
	z4_put32(s->param + 1, (uint32_t)c);
	z4_put32(s->param + 5, (uint32_t)head);
	return 0;
}

const struct z4_xform z4_xform_rows = {
	.id = Z4_XF_ROWS,
	.name = "rows",
	.inputs = rows_inputs,
	.encode = rows_encode,
	.decode = rows_decode,
};

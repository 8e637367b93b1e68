/*
 * xform_zeros.c - pruned weights: a bit mask of which elements are not
 * zero, and the non-zero elements alone.
 *
 * An element is zero when every bit of it is 0 (so -0.0 is not zero: the
 * result stays exact).  Parameters: W (1, 2, 4 or 8), T (0 .. W-1), U
 * (the unused bits of the mask's last byte, below G), and G, the elements
 * a mask byte holds: 8, or 4 in its low nibble when a fourth byte of
 * parameters says so.  Planes: the mask, bit i mod G of byte i / G set
 * when element i is not zero, unused bits 0; then, when T is not 0, the
 * T bytes after the last whole element; last the non-zero elements, W
 * bytes each, in order (last, so that the encoder can go on to split
 * them into planes).
 *
 * The mask's bytes are what the entropy coder sees.  Under 2:4
 * structured sparsity each nibble is one of 6 patterns: a byte of 8
 * elements is one of 36 values spread over 154, whose table costs more
 * than a mask of 4 KiB can spare, where a byte of 4 is one of 6 values
 * with a table of 9 bytes.  The encoder takes the layout it estimates
 * the smaller as planes are coded below level 7.
 */
#include "internal.h"

/* Elements a mask byte holds in the layout of a fourth parameter byte. */
#define NIBBLES 4

static int
parse_params(const struct z4_xform_step *s, unsigned *w, unsigned *tail,
    unsigned *unused, unsigned *group)
{
	if (s->param_size != 3 && s->param_size != 4)
		return Z4_E_CORRUPT;
	*w = s->param[0];
	*tail = s->param[1];
	*unused = s->param[2];
	*group = s->param_size == 4 ? s->param[3] : 8;
	/* Bytes of 8 have the 3-byte form alone: one coding each. */
	if ((*w != 1 && *w != 2 && *w != 4 && *w != 8) || *tail >= *w ||
	    (s->param_size == 4 && *group != NIBBLES) || *unused >= *group)
		return Z4_E_CORRUPT;
	return 0;
}

static unsigned
zeros_inputs(const struct z4_xform_step *s)
{
	unsigned w, tail, unused, group;
	return parse_params(s, &w, &tail, &unused, &group) ? 0 :
	    2 + (tail != 0);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#include <pthread.h>
#define Z4_ZEROS_AVX2 1
/*
 * For each mask byte, where each of its 8 two-byte elements comes from
 * among the next 8 values: a byte shuffle's indices, 0x80 (a zero) for
 * an element that is 0.
 */
static uint8_t spread16[256][16];

static void
spread16_init(void)
{
	for (unsigned m = 0; m < 256; m++)
		for (unsigned j = 0, k = 0; j < 8; j++) {
			int set = m >> j & 1;
			spread16[m][2 * j] = set ? (uint8_t)(2 * k) : 0x80;
			spread16[m][2 * j + 1] = set ? (uint8_t)(2 * k + 1) : 0x80;
			k += (unsigned)set;
		}
}

/*
 * expand() for 2-byte elements, 8 (one mask byte) a step, while 16 bytes
 * of values can be read; returns the elements done and moves *k.
 */
__attribute__((target("avx2"))) static size_t
expand16_avx2(uint8_t *o, size_t n, const uint8_t *mask, const uint8_t *val,
    size_t nz, size_t *k)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	size_t i = 0, at = *k;

	pthread_once(&once, spread16_init);
	for (; i + 8 <= n && at + 8 <= nz; i += 8) {
		unsigned m = mask[i / 8];
		__m128i v = _mm_loadu_si128((const __m128i *)(val + 2 * at));
		_mm_storeu_si128((__m128i *)(o + 2 * i), _mm_shuffle_epi8(v,
		    _mm_loadu_si128((const __m128i *)spread16[m])));
		at += (size_t)__builtin_popcount(m);
	}
	*k = at;
	return i;
}
#endif

/*
 * The loops of both ways have no branch on the mask, which is as good as
 * random in a pruned tensor: each element is copied from where it would
 * be, and the position moves on by 0 or 1.  w is a constant in each.
 */
static inline __attribute__((always_inline)) void
expand(uint8_t *o, size_t n, const uint8_t *mask, const uint8_t *val,
    size_t nz, const unsigned w)
{
	size_t k = 0, i = 0;

	if (nz == 0) {
		memset(o, 0, n * w);
		return;
	}
#ifdef Z4_ZEROS_AVX2
	if (w == 2 && z4_simd_avx2())
		i = expand16_avx2(o, n, mask, val, nz, &k);
#endif
	for (; i < n; i += 8) {
		unsigned m = mask[i / 8], end = n - i < 8 ? (unsigned)(n - i) : 8;
		for (unsigned j = 0; j < end; j++, m >>= 1) {
			/*
			 * All ones for a set bit: the value k, else the first
			 * value, masked to 0.  k counts the set bits before:
			 * under nz where the bit is set.
			 */
			size_t sel = (size_t)0 - (m & 1);
			uint64_t v = 0;
			memcpy(&v, val + (k * w & sel), w);
			v &= sel;
			memcpy(o + (i + j) * w, &v, w);
			k += m & 1;
		}
	}
}

/* The mask and the non-zero elements of n at src; returns how many. */
static inline __attribute__((always_inline)) size_t
squeeze(const uint8_t *src, size_t n, uint8_t *mask, uint8_t *val,
    const unsigned w)
{
	size_t nz = 0;

	for (size_t i = 0; i < n; i += 8) {
		unsigned m = 0, end = n - i < 8 ? (unsigned)(n - i) : 8;
		for (unsigned j = 0; j < end; j++) {
			const uint8_t *e = src + (i + j) * w;
			uint64_t v = 0;
			memcpy(&v, e, w);
			unsigned bit = v != 0;
			/* nz is at most i + j: inside the n elements of val. */
			memcpy(val + nz * w, e, w);
			nz += bit;
			m |= bit << j;
		}
		mask[i / 8] = (uint8_t)m;
	}
	return nz;
}

/*
 * The bits set in n bytes, eight bytes at a time by halves, quarters and
 * nibbles: a build for any x86-64 has no popcount instruction to use.
 */
static size_t
bits_set(const uint8_t *p, size_t n)
{
	size_t count = 0, i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t v;
		memcpy(&v, p + i, 8);
		v -= v >> 1 & 0x5555555555555555ull;
		v = (v & 0x3333333333333333ull) + (v >> 2 & 0x3333333333333333ull);
		v = (v + (v >> 4)) & 0x0f0f0f0f0f0f0f0full;
		count += (size_t)(v * 0x0101010101010101ull >> 56);
	}
	for (; i < n; i++)
		count += (size_t)__builtin_popcount(p[i]);
	return count;
}

/*
 * The bit mask that expand() reads, of a mask of nibbles: two a byte,
 * into the frame's scratch buffer, idle while transforms are undone.
 */
static int
pack_nibbles(struct z4_frame *f, const struct z4_plane *mask,
    const uint8_t **bits)
{
	size_t size = mask->raw_size;
	int err;

	if ((err = z4_frame_reserve_scratch(f, (size + 1) / 2)))
		return err;
	uint8_t *b = f->scratch;
	for (size_t j = 0; j < size; j++) {
		if (mask->raw[j] > 15)
			return Z4_E_CORRUPT;
		if (j % 2)
			b[j / 2] |= (uint8_t)(mask->raw[j] << 4);
		else
			b[j / 2] = mask->raw[j];
	}
	*bits = b;
	return 0;
}

static int
zeros_decode(struct z4_frame *f, const struct z4_xform_step *s,
    unsigned first, struct z4_plane *out)
{
	unsigned w, tail, unused, group;
	int err;

	if ((err = parse_params(s, &w, &tail, &unused, &group)))
		return err;
	const struct z4_plane *mask = &f->plane[first];
	const struct z4_plane *tp = &f->plane[first + 1];
	const struct z4_plane *val = &f->plane[first + 1 + (tail != 0)];
	if (mask->raw_size == 0 || (tail && tp->raw_size != tail))
		return Z4_E_CORRUPT;
	const uint8_t *bits = mask->raw;
	if (group == NIBBLES && (err = pack_nibbles(f, mask, &bits)))
		return err;
	size_t n = group * mask->raw_size - unused, nz = 0;
	if (mask->raw[mask->raw_size - 1] >> (group - unused))
		return Z4_E_CORRUPT;	/* set bits past the last element */
	nz = bits_set(bits, (n + 7) / 8);
	if (val->raw_size != nz * w)
		return Z4_E_CORRUPT;
	out->raw_size = n * w + tail;
	if (out->raw_size > Z4_CHUNK_MAX)
		return Z4_E_LIMIT;
	if ((err = z4_plane_reserve_raw(out, out->raw_size)))
		return err;
	switch (w) {
	case 1: expand(out->rbuf, n, bits, val->raw, nz, 1); break;
	case 2: expand(out->rbuf, n, bits, val->raw, nz, 2); break;
	case 4: expand(out->rbuf, n, bits, val->raw, nz, 4); break;
	default: expand(out->rbuf, n, bits, val->raw, nz, 8); break;
	}
	if (tail)
		memcpy(out->rbuf + n * w, tp->raw, tail);
	out->raw = out->rbuf;
	return 0;
}

/*
 * Bits a plane of the bytes counted comes to as code_plane() codes it
 * below level 7: RANS where z4_rans_pays() against the fallback, the
 * bits of the bytes stored or packed, its order-0 entropy with a table
 * of roughly 6 bits a value present and a bit for each absent one
 * between the first and the last present; else the fallback.
 */
static double
plane_bits(const uint32_t *count, unsigned size, double fallback)
{
	size_t total = 0;
	unsigned lo = size, hi = 0, present = 0;

	for (unsigned v = 0; v < size; v++)
		if (count[v]) {
			total += count[v];
			present++;
			lo = v < lo ? v : lo;
			hi = v;
		}
	double bits = z4_entropy(count, size, total) * (double)total;
	if (!z4_rans_pays(bits / 8, fallback / 8))
		return fallback;
	bits += 6.0 * present;
	if (present < hi - lo + 1)
		bits += hi - lo - 1;
	return bits < fallback ? bits : fallback;
}

/* Whether the mask of mbytes bytes costs less as nibbles, by estimate. */
static int
nibbles_pay(const uint8_t *mask, size_t mbytes)
{
	uint32_t count[256] = { 0 }, nibble[16] = { 0 };

	for (size_t j = 0; j < mbytes; j++)
		count[mask[j]]++;
	for (unsigned v = 0; v < 256; v++) {
		nibble[v & 15] += count[v];
		nibble[v >> 4] += count[v];
	}
	/* Stored as bytes; packed 4 bits a nibble, with a byte of mode. */
	return plane_bits(nibble, 16, 8.0 * (double)mbytes + 8) <
	    plane_bits(count, 256, 8.0 * (double)mbytes);
}

static int
zeros_encode(struct z4_frame *f, struct z4_xform_step *s,
    const uint8_t *src, size_t size, unsigned first)
{
	unsigned w = z4_dtype_width(f->tensor.dtype);
	int err;

	if (w < 1 || size < w || first + 3 > Z4_PLANE_MAX)
		return 1;
	size_t n = size / w, tail = size % w, nz = 0;
	struct z4_plane *mask = &f->plane[first];
	struct z4_plane *tp = &f->plane[first + 1];
	struct z4_plane *val = &f->plane[first + 1 + (tail != 0)];
	size_t mbytes = (n + 7) / 8;
	/* Room for the mask as nibbles, should they pay. */
	if ((err = z4_plane_reserve_raw(mask, (n + NIBBLES - 1) / NIBBLES)) ||
	    (err = z4_plane_reserve_raw(val, n * w)))
		return err;
	switch (w) {
	case 1: nz = squeeze(src, n, mask->rbuf, val->rbuf, 1); break;
	case 2: nz = squeeze(src, n, mask->rbuf, val->rbuf, 2); break;
	case 4: nz = squeeze(src, n, mask->rbuf, val->rbuf, 4); break;
	default: nz = squeeze(src, n, mask->rbuf, val->rbuf, 8); break;
	}
	mask->raw = mask->rbuf;
	mask->raw_size = mbytes;
	val->raw = val->rbuf;
	val->raw_size = nz * w;
	if (tail && (err = z4_plane_copy(tp, src + n * w, tail)))
		return err;
	f->nplane = first + 2 + (tail != 0);
	s->param_size = 3;
	s->param[0] = (uint8_t)w;
	s->param[1] = (uint8_t)tail;
	s->param[2] = (uint8_t)(8 * mbytes - n);
	if (nibbles_pay(mask->rbuf, mbytes)) {
		/* From the last down, so no byte is read after it is written. */
		size_t nbytes = (n + NIBBLES - 1) / NIBBLES;
		for (size_t j = nbytes; j-- > 0;)
			mask->rbuf[j] = mask->rbuf[j / 2] >> 4 * (j % 2) & 15;
		mask->raw_size = nbytes;
		s->param_size = 4;
		s->param[2] = (uint8_t)(NIBBLES * nbytes - n);
		s->param[3] = NIBBLES;
	}
	return 0;
}

const struct z4_xform z4_xform_zeros = {
	.id = Z4_XF_ZEROS,
	.name = "zeros",
	.inputs = zeros_inputs,
	.encode = zeros_encode,
	.decode = zeros_decode,
};

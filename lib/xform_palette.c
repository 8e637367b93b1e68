/*
 * xform_palette.c - elements that take few distinct values (INT8, INT4
 * or FP8 values dequantised into F32, BF16 or F16) become a palette and
 * one byte of index per element.
 *
 * Parameters: W (1, 2, 4 or 8), T (0 .. W-1).  Planes: the palette, K
 * values (1 <= K <= 256) in increasing order of their bit patterns as
 * W-byte integers, written as the first value and then each one's
 * difference from the one before (small numbers: the palette of a
 * quantised tensor is close to an arithmetic progression); when T is
 * not 0, the T bytes after the last whole element; last the indices,
 * one byte per element, each below K.  The index plane is what the
 * entropy coder sees: at most 8 bits per element, whatever the container
 * width, and near the entropy of the quantised values.
 */
#include <stdlib.h>

#include "internal.h"

#define PALETTE_MAX 256


static int
parse_params(const struct z4_xform_step *s, unsigned *w, unsigned *tail)
{
	if (s->param_size != 2)
		return Z4_E_CORRUPT;
	*w = s->param[0];
	*tail = s->param[1];
	if ((*w != 1 && *w != 2 && *w != 4 && *w != 8) || *tail >= *w)
		return Z4_E_CORRUPT;
	return 0;
}

static unsigned
palette_inputs(const struct z4_xform_step *s)
{
	unsigned w, tail;
	return parse_params(s, &w, &tail) ? 0 : 2 + (tail != 0);
}

/* Each index's value: w a constant, so each copy is one move. */
static inline __attribute__((always_inline)) void
look_up(uint8_t *o, const uint8_t *idx, size_t n, const uint8_t *values,
    const unsigned w)
{
	for (size_t i = 0; i < n; i++)
		memcpy(o + i * w, values + (size_t)idx[i] * w, w);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define Z4_PALETTE_AVX2 1
/*
 * A palette of at most 16 values of 2 bytes (INT4 in BF16 or F16): the
 * low and the high bytes of the values are two tables of 16 that a byte
 * shuffle looks up, 16 indices at once; interleaved, they are the
 * elements.  Returns how many it did; the indices are below 16.
 */
__attribute__((target("avx2"))) static size_t
look_up16(uint8_t *o, const uint8_t *idx, size_t n, const uint8_t *values,
    size_t k)
{
	uint8_t lo[16] = { 0 }, hi[16] = { 0 };
	for (size_t j = 0; j < k; j++) {
		lo[j] = values[2 * j];
		hi[j] = values[2 * j + 1];
	}
	const __m128i tlo = _mm_loadu_si128((const __m128i *)lo);
	const __m128i thi = _mm_loadu_si128((const __m128i *)hi);
	size_t i = 0;
	for (; i + 16 <= n; i += 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(idx + i));
		__m128i a = _mm_shuffle_epi8(tlo, x);
		__m128i b = _mm_shuffle_epi8(thi, x);
		_mm_storeu_si128((__m128i *)(o + 2 * i),
		    _mm_unpacklo_epi8(a, b));
		_mm_storeu_si128((__m128i *)(o + 2 * i + 16),
		    _mm_unpackhi_epi8(a, b));
	}
	return i;
}
#endif

static int
palette_decode(struct z4_frame *f, const struct z4_xform_step *s,
    unsigned first, struct z4_plane *out)
{
	unsigned w, tail;
	int err;

	if ((err = parse_params(s, &w, &tail)))
		return err;
	const struct z4_plane *pal = &f->plane[first];
	const struct z4_plane *tp = &f->plane[first + 1];
	const struct z4_plane *idx = &f->plane[first + 1 + (tail != 0)];
	size_t k = pal->raw_size / w, n = idx->raw_size;
	if (pal->raw_size % w || k == 0 || k > PALETTE_MAX ||
	    (tail && tp->raw_size != tail))
		return Z4_E_CORRUPT;
	out->raw_size = n * w + tail;
	if (out->raw_size > Z4_CHUNK_MAX)
		return Z4_E_LIMIT;
	if ((err = z4_plane_reserve_raw(out, out->raw_size)))
		return err;
	uint8_t values[PALETTE_MAX * 8];
	uint64_t v = 0;
	for (size_t j = 0; j < k; j++) {
		v += z4_getn(pal->raw + j * w, w);
		z4_putn(values + j * w, v, w);
	}
	/* Bytes against a byte, which the compiler does 16 or 32 at a time. */
	uint8_t last = (uint8_t)(k - 1), bad = 0;
	for (size_t i = 0; i < n; i++)
		bad |= idx->raw[i] > last;
	if (bad)
		return Z4_E_CORRUPT;
	size_t i = 0;
#ifdef Z4_PALETTE_AVX2
	if (w == 2 && k <= 16 && z4_simd_avx2())
		i = look_up16(out->rbuf, idx->raw, n, values, k);
#endif
	switch (w) {
	case 1: look_up(out->rbuf, idx->raw, n, values, 1); break;
	case 2: look_up(out->rbuf + 2 * i, idx->raw + i, n - i, values, 2);
		break;
	case 4: look_up(out->rbuf, idx->raw, n, values, 4); break;
	default: look_up(out->rbuf, idx->raw, n, values, 8); break;
	}
	if (tail)
		memcpy(out->rbuf + n * w, tp->raw, tail);
	out->raw = out->rbuf;
	return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/*
 * Elements of at most 2 bytes: a bitmap of the values present, then a
 * table from value to index.  Returns the count, or 0 past 256.
 */
static size_t
index_narrow(const uint8_t *src, size_t n, unsigned w, uint64_t *values,
    uint8_t *idx)
{
	uint64_t seen[1024] = { 0 };
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned v = w == 1 ? src[i] : z4_get16(src + 2 * i);
		seen[v / 64] |= 1ull << v % 64;
	}
	for (unsigned j = 0; j < 1024; j++)
		k += (size_t)__builtin_popcountll(seen[j]);
	if (k > PALETTE_MAX)
		return 0;
	uint8_t *at = malloc(65536);
	if (at == NULL)
		return SIZE_MAX;
	/* The values present, in order: the set bits of each word. */
	k = 0;
	for (unsigned j = 0; j < 1024; j++)
		for (uint64_t b = seen[j]; b != 0; b &= b - 1) {
			unsigned v = 64 * j + (unsigned)__builtin_ctzll(b);
			at[v] = (uint8_t)k;
			values[k++] = v;
		}
	if (w == 1)
		for (size_t i = 0; i < n; i++)
			idx[i] = at[src[i]];
	else
		for (size_t i = 0; i < n; i++)
			idx[i] = at[z4_get16(src + 2 * i)];
	free(at);
	return k;
}

/*
 * The distinct values of n elements, sorted, if there are at most 256:
 * returns their count, or 0 if there are more.  An open-addressing set
 * of 512 slots; a value of the all-ones pattern is tracked apart, since
 * it marks empty slots.
 */
static size_t
distinct(const uint8_t *src, size_t n, unsigned w, uint64_t *values)
{
	uint64_t set[2 * PALETTE_MAX];
	size_t k = 0;
	int ones = 0;
	const uint64_t empty = ~0ull;

	memset(set, 0xff, sizeof set);
	for (size_t i = 0; i < n; i++) {
		uint64_t v = z4_getn(src + i * w, w);
		if (v == empty) {
			if (!ones && k == PALETTE_MAX)
				return 0;
			k += !ones;
			ones = 1;
			continue;
		}
		size_t h = (size_t)((v * 0x9E3779B97F4A7C15ull) >> 55);
		while (set[h] != empty && set[h] != v)
			h = (h + 1) & (2 * PALETTE_MAX - 1);
		if (set[h] == v)
			continue;
		if (k == PALETTE_MAX)
			return 0;
		set[h] = v;
		k++;
	}
	size_t m = 0;
	for (size_t i = 0; i < 2 * PALETTE_MAX; i++)
		if (set[i] != empty)
			values[m++] = set[i];
	if (ones)
		values[m++] = empty;
	qsort(values, m, sizeof *values, cmp_u64);
	return m;
}

static int
palette_encode(struct z4_frame *f, struct z4_xform_step *s,
    const uint8_t *src, size_t size, unsigned first)
{
	unsigned w = z4_dtype_width(f->tensor.dtype);
	uint64_t values[PALETTE_MAX];
	int err;

	if (w < 1 || size < w || first + 3 > Z4_PLANE_MAX)
		return 1;
	size_t n = size / w, tail = size % w, k;
	struct z4_plane *pal = &f->plane[first];
	struct z4_plane *tp = &f->plane[first + 1];
	struct z4_plane *idx = &f->plane[first + 1 + (tail != 0)];
	if ((err = z4_plane_reserve_raw(idx, n)))
		return err;
	if (w <= 2)
		k = index_narrow(src, n, w, values, idx->rbuf);
	else
		k = distinct(src, n, w, values);
	if (k == SIZE_MAX)
		return Z4_E_NOMEM;
	if (k == 0)
		return 1;
	if ((err = z4_plane_reserve_raw(pal, k * w)))
		return err;
	for (size_t j = 0; j < k; j++)
		z4_putn(pal->rbuf + j * w, values[j] - (j ? values[j - 1] : 0), w);
	for (size_t i = 0; i < n && w > 2; i++) {
		uint64_t v = z4_getn(src + i * w, w);
		size_t lo = 0, hi = k;
		while (hi - lo > 1) {
			size_t mid = (lo + hi) / 2;
			if (values[mid] <= v)
				lo = mid;
			else
				hi = mid;
		}
		idx->rbuf[i] = (uint8_t)lo;
	}
	pal->raw = pal->rbuf;
	pal->raw_size = k * w;
	idx->raw = idx->rbuf;
	idx->raw_size = n;
	if (tail && (err = z4_plane_copy(tp, src + n * w, tail)))
		return err;
	f->nplane = first + 2 + (tail != 0);
	s->param_size = 2;
	s->param[0] = (uint8_t)w;
	s->param[1] = (uint8_t)tail;
	return 0;
}

const struct z4_xform z4_xform_palette = {
	.id = Z4_XF_PALETTE,
	.name = "palette",
	.inputs = palette_inputs,
	.encode = palette_encode,
	.decode = palette_decode,
};

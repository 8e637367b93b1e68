/*
 * select.c - choosing how to code a frame: the transform chain for its
 * dtype, then for each plane the smallest of the coders worth trying.
 *
 * Trying a coder costs a pass over the plane, so cheap measurements
 * decide which are tried.  One histogram gives the order-0 entropy, which
 * is what rANS will reach; the count of bytes equal to their predecessor,
 * against the count an order-0 source would give, tells whether there is
 * repetition for zstd's matches to find.  Higher levels try more.
 */
#include <math.h>
#include <stdlib.h>

#include "internal.h"

/* zstd level for each z4 level, 1 to 9. */
/*
 * zstd level for each z4 level, 1 to 9.  Tensor planes have little for
 * matches to find, so the top levels stop where zstd is still tens of
 * MB/s; glue, small and repetitive, gets zstd -19 at every level.
 */
static const int zstd_level[10] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 };

struct plane_stats {
	uint32_t count[256];
	double entropy;		/* order-0, bits per byte */
	double repeats;		/* bytes equal to the previous one */
	double expected;	/* ... for an order-0 source */
};

/* Byte counts of n bytes at p, added to count. */
static void
histogram(const uint8_t *p, size_t n, uint32_t *count)
{
	uint32_t c[4][256] = { { 0 } };
	size_t i = 0;

	for (; i + 4 <= n; i += 4) {
		c[0][p[i]]++;
		c[1][p[i + 1]]++;
		c[2][p[i + 2]]++;
		c[3][p[i + 3]]++;
	}
	for (; i < n; i++)
		c[0][p[i]]++;
	for (unsigned s = 0; s < 256; s++)
		count[s] += c[0][s] + c[1][s] + c[2][s] + c[3][s];
}

double
z4_entropy(const uint32_t *count, unsigned size, size_t total)
{
	double h = 0;
	for (unsigned s = 0; s < size; s++) {
		double q = (double)count[s] / (double)total;
		if (q > 0)
			h -= q * log2(q);
	}
	return h;
}

/*
 * rANS pays when the entropy is a percent below the bits the bytes use.
 * Below that, on a float's mantissa planes, it wins a tenth of a percent
 * at best and halves the decoding speed, so only levels 7 to 9 try it,
 * and only on planes below 256 KiB, whose decoding takes little time
 * either way.
 */
int
z4_rans_pays(double rans, double beat)
{
	return rans + 64 < 0.99 * beat;
}

/*
 * Whether a big plane is plainly incompressible to an order-0 coder but
 * for the bits no byte uses, from one 4 KiB block in 16: a float's low
 * mantissa bytes are, and counting all their bytes costs a fifth of the
 * time of coding a chunk.
 */
static int
looks_random(const uint8_t *p, size_t n)
{
	uint32_t count[256] = { 0 };
	size_t got = 0;
	unsigned used = 0;

	if (n < (1u << 20))
		return 0;
	for (size_t i = 0; i + 4096 <= n; i += 16 * 4096, got += 4096)
		histogram(p + i, 4096, count);
	for (unsigned v = 0; v < 256; v++)
		used |= count[v] ? v : 0;
	/*
	 * rANS is tried below 7.92 bits a byte (of the bits the bytes
	 * use); a sample of 16 KiB or more reads a little low, so the
	 * margin is generous.
	 */
	return z4_entropy(count, 256, got) > __builtin_popcount(used) - 0.05;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define Z4_SELECT_AVX2 1
/*
 * Add to set (a bitmap of 256 bits: bit v % 8 of byte v / 8) every byte
 * of n at p that it lacks, and count each such byte once in count.  A
 * byte's bit is found with two table lookups in registers, 32 bytes a
 * step; a step with a byte missing is done again byte by byte, which is
 * rare once the set holds a sample's bytes.
 */
__attribute__((target("avx2"))) static void
add_missing(const uint8_t *p, size_t n, uint8_t *set, uint32_t *count)
{
	const __m256i bits = _mm256_setr_epi8(1, 2, 4, 8, 16, 32, 64,
	    (char)128, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64,
	    (char)128, 0, 0, 0, 0, 0, 0, 0, 0);
	const __m256i low5 = _mm256_set1_epi8(0x1f), low3 = _mm256_set1_epi8(7);
	const __m256i fifteen = _mm256_set1_epi8(15);
	size_t i = 0;

	for (;;) {
		__m256i lo = _mm256_broadcastsi128_si256(
		    _mm_loadu_si128((const __m128i *)set));
		__m256i hi = _mm256_broadcastsi128_si256(
		    _mm_loadu_si128((const __m128i *)(set + 16)));
		for (; i + 32 <= n; i += 32) {
			__m256i v = _mm256_loadu_si256((const __m256i *)(p + i));
			__m256i at = _mm256_and_si256(_mm256_srli_epi16(v, 3),
			    low5);
			__m256i byte = _mm256_blendv_epi8(
			    _mm256_shuffle_epi8(lo, at),
			    _mm256_shuffle_epi8(hi, at),
			    _mm256_cmpgt_epi8(at, fifteen));
			__m256i bit = _mm256_shuffle_epi8(bits,
			    _mm256_and_si256(v, low3));
			__m256i miss = _mm256_cmpeq_epi8(_mm256_and_si256(byte,
			    bit), _mm256_setzero_si256());
			if (!_mm256_testz_si256(miss, miss))
				break;
		}
		if (i + 32 > n)
			break;
		for (size_t k = i; k < i + 32; k++)
			if (!(set[p[k] / 8] >> p[k] % 8 & 1)) {
				set[p[k] / 8] |= (uint8_t)(1u << p[k] % 8);
				count[p[k]]++;
			}
		i += 32;
	}
	for (; i < n; i++)
		if (!(set[p[i] / 8] >> p[i] % 8 & 1)) {
			set[p[i] / 8] |= (uint8_t)(1u << p[i] % 8);
			count[p[i]]++;
		}
}
#endif

/*
 * Counts for a plane of SAMPLED_COUNTS or more below level 7, from one
 * 4 KiB block in 4, scaled to the plane's size (rANS takes counts that
 * add up to it), and every byte the plane holds that the sample missed
 * counted once, so that rANS has a frequency for each: a quarter of the
 * time of counting it all, for a table a hair less exact.  Returns 0,
 * counting nothing, where the CPU lacks AVX2; *total gets the sum.
 */
#define SAMPLED_COUNTS (1u << 20)

static int
count_sampled(const uint8_t *p, size_t n, uint32_t *count, size_t *total)
{
#ifdef Z4_SELECT_AVX2
	uint8_t set[32] = { 0 };
	size_t got = 0;

	if (!z4_simd_avx2())
		return 0;
	for (size_t i = 0; i + 4096 <= n; i += 4 * 4096, got += 4096)
		histogram(p + i, 4096, count);
	*total = 0;
	for (unsigned v = 0; v < 256; v++) {
		count[v] = (uint32_t)((uint64_t)count[v] * n / got);
		if (count[v])
			set[v / 8] |= (uint8_t)(1u << v % 8);
	}
	add_missing(p, n, set, count);
	for (unsigned v = 0; v < 256; v++)
		*total += count[v];
	return 1;
#else
	(void)p, (void)n, (void)count, (void)total;
	return 0;
#endif
}

/*
 * The histogram, and repeats counted on a sample: one 64-byte block in
 * every 16, enough to tell text or runs from noise.  With sampled, the
 * histogram is count_sampled()'s.
 */
static void
measure(const uint8_t *p, size_t n, struct plane_stats *st, int sampled)
{
	size_t rep = 0, sampled_rep = 0, i, total = n;

	memset(st->count, 0, sizeof st->count);
	if (!sampled || !count_sampled(p, n, st->count, &total))
		histogram(p, n, st->count);
	for (i = 1; i + 64 <= n; i += 1024) {
		for (size_t k = i; k < i + 64; k++)
			rep += p[k] == p[k - 1];
		sampled_rep += 64;
	}
	double sq = 0;
	for (unsigned s = 0; s < 256; s++) {
		double q = (double)st->count[s] / (double)total;
		sq += q * q;
	}
	st->entropy = z4_entropy(st->count, 256, total);
	st->repeats = (double)rep;
	st->expected = sq * (double)sampled_rep;
}

/*
 * Code p with coder c into the frame's scratch buffer; if that beats the
 * best so far, the scratch buffer becomes the plane's coded buffer.
 */
static int
try_coder(struct z4_frame *f, struct z4_plane *p, const struct z4_coder *c,
    int level, const uint32_t *count)
{
	struct z4_code_in in = {
		.src = p->raw, .n = p->raw_size, .level = level, .count = count,
	};
	size_t cap = c->bound(p->raw_size), n;
	int err = 0;

	if ((err = z4_frame_reserve_scratch(f, cap)))
		return err;
	err = c->encode(&f->coder_state[c->id], f->scratch, f->scratch_cap,
	    &n, &in);
	if (err || n >= p->coded_size)
		return err;
	uint8_t *t = p->cbuf;
	size_t tcap = p->ccap;
	p->cbuf = f->scratch;
	p->ccap = f->scratch_cap;
	f->scratch = t;
	f->scratch_cap = tcap;
	p->coder = c->id;
	p->coded = p->cbuf;
	p->coded_size = n;
	return 0;
}

/*
 * Samples of large chunks and planes: SAMPLE_PIECES pieces spread over
 * them, of SAMPLE_PIECE bytes or a little less.
 */
#define SAMPLE_PIECES 4
/* The fuzzing build makes it small, so small inputs are sampled too. */
#ifndef Z4_SAMPLE_PIECE
#define Z4_SAMPLE_PIECE (64u << 10)
#endif
#define SAMPLE_PIECE Z4_SAMPLE_PIECE

/*
 * A sample of the n bytes at p, whose pieces are whole units that start
 * on a unit (unit at most SAMPLE_PIECE, n at least SAMPLE_PIECES pieces):
 * a new buffer of *m bytes, or NULL.
 */
static uint8_t *
take_sample(const uint8_t *p, size_t n, size_t unit, size_t *m)
{
	size_t piece = SAMPLE_PIECE / unit * unit;
	uint8_t *sample = malloc(SAMPLE_PIECES * piece);

	*m = SAMPLE_PIECES * piece;
	for (unsigned j = 0; j < SAMPLE_PIECES && sample; j++)
		memcpy(sample + j * piece, p + n / SAMPLE_PIECES * j / unit *
		    unit, piece);
	return sample;
}

/*
 * Whether zstd is worth a pass over a plane of 1 MiB or more, below level
 * 7: coded at zl, a sample of the plane must be 1% smaller than the best
 * so far, scaled to the sample's size.  At 12 or 19 zstd runs at tens of
 * MB/s, where rANS and PACKED run at hundreds.  On byte-wide tensors
 * without matches to find, its Huffman literals come within a hair of
 * rANS, so a sample that only ties is not worth the pass: the plane loses
 * under 1% at most.
 */
static int
zstd_worth_trying(struct z4_frame *f, const struct z4_plane *p, int level,
    int zl)
{
	size_t n = p->raw_size, m, out;
	if (level >= 7 || n < (1u << 20) || p->coder == Z4_CODER_STORED)
		return 1;
	uint8_t *sample = take_sample(p->raw, n, 1, &m);
	uint8_t *dst = malloc(z4_coder_zstd.bound(m));
	int worth = 1;
	if (sample != NULL && dst != NULL) {
		struct z4_code_in in = { sample, m, zl, NULL };
		if (z4_coder_zstd.encode(&f->coder_state[Z4_CODER_ZSTD], dst,
		    z4_coder_zstd.bound(m), &out, &in) == 0)
			worth = (double)out <= 0.99 * (double)p->coded_size *
			    (double)m / (double)n;
	}
	free(sample);
	free(dst);
	return worth;
}

/* A plane's raw bytes as its coded ones. */
static void
store_plane(struct z4_plane *p)
{
	p->coder = Z4_CODER_STORED;
	p->coded = p->raw;
	p->coded_size = p->raw_size;
}

/* Code one plane with the smallest coder tried; stored if none helps. */
static int
code_plane(struct z4_frame *f, struct z4_plane *p, int level)
{
	unsigned kind = f->kind;
	struct plane_stats st;
	int err = 0;

	store_plane(p);
	if (level <= 0 || p->raw_size < 16)
		return 0;
	/*
	 * Bits no byte uses (the padding of a float's lowest plane) are
	 * dropped by packing, which rANS must then beat.
	 */
	if (kind == Z4_FRAME_CHUNK && level < 7 &&
	    looks_random(p->raw, p->raw_size))
		return try_coder(f, p, &z4_coder_packed, level, NULL);
	int sampled = level < 7 && p->raw_size >= SAMPLED_COUNTS;
	measure(p->raw, p->raw_size, &st, sampled);
	/*
	 * Sampled counts give PACKED at least the bits in use, so its size
	 * from them is an upper bound; it packs from exact counts, or from
	 * none, looking at the bytes.
	 */
	const uint32_t *exact = sampled ? NULL : st.count;
	struct z4_code_in in = { p->raw, p->raw_size, level, st.count };
	size_t packed = z4_packed_size(&in);
	double n = (double)p->raw_size;
	/* More repetition is worth a look at the higher levels. */
	double seen = level >= 7 ? 1.2 : 1.5;
	int lz = kind != Z4_FRAME_CHUNK ||
	    st.repeats > seen * st.expected + 16 || st.entropy < 0.5;
	if (packed < p->coded_size)
		err = try_coder(f, p, &z4_coder_packed, level, exact);
	double beat = packed < p->raw_size ? (double)packed : n;
	double rans = st.entropy * n / 8;
	int worth = z4_small_plane(level, p->raw_size) ? rans < beat :
	    z4_rans_pays(rans, beat);
	if (!err && worth)
		err = try_coder(f, p, &z4_coder_rans, level, st.count);
	/*
	 * Glue is small and compresses well: it gets zstd's best.  Byte-wide
	 * tensors (U8, I8, FP8) have no fields to split, so matches are all
	 * there is to find: zstd is always tried on them, at 12 (tens of
	 * MB/s), and at 19 from level 8.
	 */
	int bytes = kind == Z4_FRAME_CHUNK &&
	    z4_dtype_width(f->tensor.dtype) == 1;
	int zl = zstd_level[level];
	/* A sample of a large glue frame is coded as the frame would be. */
	size_t whole = f->sample_of ? f->sample_of : p->raw_size;
	if (kind != Z4_FRAME_CHUNK && whole < (1u << 20))
		zl = 19;
	else if (bytes)
		zl = level >= 8 ? 19 : 12;
	lz |= bytes;
	if (!err && lz && zstd_worth_trying(f, p, level, zl))
		err = try_coder(f, p, &z4_coder_zstd, zl, NULL);
	return err;
}

/*
 * The chains the selector knows, each a list of transforms applied in
 * turn to the last plane.
 */
enum chain {
	CHAIN_PLAIN,		/* the chunk as one plane */
	CHAIN_PLANES,		/* fields of each element */
	CHAIN_PALETTE,		/* few distinct values */
	CHAIN_ZEROS,		/* pruned: mask, then fields of the rest */
	CHAIN_XOR,		/* XOR with the reference, then fields */
	CHAIN_XOR_ZEROS,	/* ... with most elements unchanged */
	CHAIN_SUB,		/* element difference, then fields */
	CHAIN_SUB_ZEROS,
	CHAIN_XOR_ZREF,		/* ... the mask split by the reference */
	CHAIN_SUB_ZREF,
	CHAIN_GRID_ROW,		/* integers times a scale per row */
	CHAIN_GRID_128,		/* ... per group of 128 */
	CHAIN_GRID_64,		/* ... per group of 64 */
	CHAIN_GRID_32,		/* ... per group of 32 (MX formats) */
	CHAIN_MODEL,		/* floats modelled against the reference */
	CHAIN_PLANES_TIGHT,	/* planes, unused top exponent bits out */
	CHAIN_ZEROS_TIGHT,
	CHAIN_GLUE_16,		/* glue bytes as 2-byte floats, planes */
	CHAIN_GLUE_32,		/* ... as 4-byte floats */
	CHAIN_ROWS,		/* rows against like rows, planes of the rest */
	CHAIN_FOLD,		/* an exponent bit folded, then planes */
	CHAIN_OFFSETS,		/* a safetensors header's offsets as differences */
	CHAIN_BYTES,		/* 1-byte integers modelled in context */
	CHAIN_COUNT
};

static const struct z4_xform *const chains[CHAIN_COUNT][4] = {
	[CHAIN_PLAIN] = { NULL },
	[CHAIN_PLANES] = { &z4_xform_planes, NULL },
	[CHAIN_PALETTE] = { &z4_xform_palette, NULL },
	[CHAIN_ZEROS] = { &z4_xform_zeros, &z4_xform_planes, NULL },
	[CHAIN_XOR] = { &z4_xform_delta, &z4_xform_planes, NULL },
	[CHAIN_XOR_ZEROS] = { &z4_xform_delta, &z4_xform_zeros,
	    &z4_xform_planes, NULL },
	[CHAIN_SUB] = { &z4_xform_delta_sub, &z4_xform_planes, NULL },
	[CHAIN_SUB_ZEROS] = { &z4_xform_delta_sub, &z4_xform_zeros,
	    &z4_xform_planes, NULL },
	[CHAIN_XOR_ZREF] = { &z4_xform_delta, &z4_xform_zeros_ref,
	    &z4_xform_planes, NULL },
	[CHAIN_SUB_ZREF] = { &z4_xform_delta_sub, &z4_xform_zeros_ref,
	    &z4_xform_planes, NULL },
	[CHAIN_GRID_ROW] = { &z4_xform_grid_row, NULL },
	[CHAIN_GRID_128] = { &z4_xform_grid_128, NULL },
	[CHAIN_GRID_64] = { &z4_xform_grid_64, NULL },
	[CHAIN_GRID_32] = { &z4_xform_grid_32, NULL },
	[CHAIN_MODEL] = { &z4_xform_delta_model, NULL },
	[CHAIN_PLANES_TIGHT] = { &z4_xform_planes_tight, NULL },
	[CHAIN_ZEROS_TIGHT] = { &z4_xform_zeros, &z4_xform_planes_tight,
	    NULL },
	[CHAIN_GLUE_16] = { &z4_xform_planes_tight, NULL },
	[CHAIN_GLUE_32] = { &z4_xform_planes_tight, NULL },
	[CHAIN_ROWS] = { &z4_xform_rows, &z4_xform_planes_tight, NULL },
	[CHAIN_FOLD] = { &z4_xform_fold, &z4_xform_planes_tight, NULL },
	[CHAIN_OFFSETS] = { &z4_xform_offsets, NULL },
	[CHAIN_BYTES] = { &z4_xform_byte_model, NULL },
};

/*
 * Bytes outside any tensor that a container does not describe (a
 * PyTorch checkpoint's zip, a raw dump) are often floats all the same:
 * these chains code a glue frame of GLUE_VIEW_MIN or more as if it were
 * a tensor of this type.  PLANES carries its element width, so the
 * frame needs no type of its own, and a view that does not pay loses to
 * the bytes coded as they are.
 */
#ifndef Z4_GLUE_VIEW_MIN
#define Z4_GLUE_VIEW_MIN (64u << 10)
#endif
#define GLUE_VIEW_MIN Z4_GLUE_VIEW_MIN
static const unsigned char chain_view[CHAIN_COUNT] = {
	[CHAIN_GLUE_16] = Z4_DT_BF16,
	[CHAIN_GLUE_32] = Z4_DT_F32,
};

/*
 * Build chain c on the frame's bytes and code every plane.  Returns 1,
 * coding nothing, when the chain's first transform does not apply; when
 * a later one does not apply, it and the rest of the chain are left out.
 */
static int
build(struct z4_frame *f, enum chain c, int level)
{
	unsigned kind = f->kind, dtype = f->tensor.dtype;
	int err = 0;

	/* A view of glue is coded as the chunk of a tensor would be. */
	if (chain_view[c]) {
		f->kind = Z4_FRAME_CHUNK;
		f->tensor.dtype = chain_view[c];
	}
	f->nxform = 0;
	f->nplane = 1;
	f->plane[0].raw = f->raw;
	f->plane[0].raw_size = f->raw_size;
	f->level = level;
	for (const struct z4_xform *const *x = chains[c]; *x && !err; x++)
		err = z4_chain_push(f, *x);
	if (err < 0 || (err == 1 && f->nxform == 0 && chains[c][0]))
		goto out;
	err = 0;
	for (unsigned i = 0; i < f->nplane && !err; i++)
		err = code_plane(f, &f->plane[i], level);
out:
	f->kind = kind;
	f->tensor.dtype = dtype;
	return err;
}

/* Bytes a frame's chain and planes take: payload and descriptors. */
static size_t
coded_cost(const struct z4_frame *f)
{
	size_t n = 0;
	for (unsigned i = 0; i < f->nxform; i++)
		n += 2 + f->xform[i].param_size;
	for (unsigned i = 0; i < f->nplane; i++)
		n += 1 + 3 + 3 + f->plane[i].coded_size;
	return n;
}

/* The largest U8 or I8 chunk levels 2 to 6 try BYTE-MODEL on. */
#define BYTES_MAX (256u << 10)

/*
 * Which chains are worth trying, judged on a sample of the chunk: a
 * palette when the sample has few distinct values, the zero mask when a
 * sixteenth or more of it is zero, the chunk whole when it is small.
 */
static unsigned
candidates(const struct z4_frame *f, int level)
{
	unsigned w = z4_dtype_width(f->tensor.dtype), set = 0;

	/* A safetensors header: OFFSETS gives up at once on other glue. */
	if (level > 0 && f->kind == Z4_FRAME_GLUE &&
	    f->raw_size >= GLUE_VIEW_MIN)
		return 1u << CHAIN_PLAIN | 1u << CHAIN_GLUE_16 |
		    1u << CHAIN_GLUE_32 | 1u << CHAIN_OFFSETS;
	if (level > 0 && f->kind == Z4_FRAME_GLUE)
		return 1u << CHAIN_PLAIN | 1u << CHAIN_OFFSETS;
	if (level <= 0 || f->kind != Z4_FRAME_CHUNK || w == 0 ||
	    f->raw_size < 64)
		return 1u << CHAIN_PLAIN;
	size_t n = f->raw_size / w, sample = n < 4096 ? n : 4096, zeros = 0;
	size_t step = n / sample, distinct = 0, same = 0;
	uint64_t seen[512];
	memset(seen, 0xff, sizeof seen);
	for (size_t i = 0; i < step * sample; i += step) {
		uint64_t v = 0;
		for (unsigned k = 0; k < w; k++)
			v |= (uint64_t)f->raw[i * w + k] << 8 * k;
		zeros += v == 0;
		if (f->have_ref)
			same += memcmp(f->raw + i * w, f->refbuf + i * w, w) == 0;
		if (distinct > 256)
			continue;
		size_t h = (size_t)((v * 0x9E3779B97F4A7C15ull) >> 55);
		while (seen[h] != ~0ull && seen[h] != v)
			h = (h + 1) & 511;
		if (seen[h] != v) {
			seen[h] = v;
			distinct++;
		}
	}
	unsigned dt = f->tensor.dtype;
	/* BF16, F16 and F32: what DELTA-MODEL codes. */
	int model = dt == Z4_DT_BF16 || dt == Z4_DT_F16 || dt == Z4_DT_F32;
	/*
	 * A float chunk's unused top exponent bit is dropped (PLANES_TIGHT);
	 * the higher levels also try keeping it, which can win where the
	 * top plane's larger table costs more than the joint coding gains.
	 */
	int tight = n >= Z4_TIGHT_MIN && (model || dt == Z4_DT_F64);
	if (w >= 2 && (!tight || level >= 6))
		set |= 1u << CHAIN_PLANES;
	if (tight)
		set |= 1u << CHAIN_PLANES_TIGHT;
	if (tight && model && level >= 7)
		set |= 1u << CHAIN_FOLD;
	if (model && f->tensor.ndim >= 2)
		set |= 1u << CHAIN_ROWS;
	if (distinct <= 256 && (w >= 2 || level >= 5))
		set |= 1u << CHAIN_PALETTE;
	/* A grid gives up at the first group off it: cheap to try. */
	if (dt == Z4_DT_F32 || dt == Z4_DT_BF16 || dt == Z4_DT_F16)
		set |= 1u << CHAIN_GRID_ROW | 1u << CHAIN_GRID_128 |
		    1u << CHAIN_GRID_64 | 1u << CHAIN_GRID_32;
	/*
	 * Quantised integers a byte wide, modelled in context.  That decodes
	 * a bit at a time, at 4 to 9 MB/s, where rANS decodes at a GB/s,
	 * for 1-3% less: levels 2 to 6 keep it for chunks of BYTES_MAX or
	 * less (a small model's layers), which decode in milliseconds, and
	 * levels 7 to 9 try it on any.
	 */
	if ((dt == Z4_DT_U8 || dt == Z4_DT_I8) &&
	    (level >= 7 || (level >= 2 && f->raw_size <= BYTES_MAX)))
		set |= 1u << CHAIN_BYTES;
	if (zeros * 16 >= sample)
		set |= 1u << CHAIN_ZEROS |
		    (tight ? 1u << CHAIN_ZEROS_TIGHT : 0);
	/*
	 * Floats against a reference: the model beats every byte-wise
	 * residual on every pair of the corpus, so from level 2 to 6 it is
	 * the only one tried (planes stay in the running for an unrelated
	 * reference).  It decodes a bit at a time, at tens of MB/s, so
	 * level 1 takes the XOR instead, which decodes as fast as planes,
	 * with its zero mask where many elements are unchanged: the two
	 * that come nearest the best residual on the corpus's pairs.
	 */
	if (f->have_ref && f->ref_size == f->raw_size) {
		int many_same = same * 16 >= sample;
		if (model && level == 1) {
			set |= 1u << CHAIN_XOR |
			    (many_same ? 1u << CHAIN_XOR_ZEROS : 0);
		} else if (model && level < 7) {
			set |= 1u << CHAIN_MODEL;
		} else {
			set |= (model ? 1u << CHAIN_MODEL : 0) |
			    1u << CHAIN_XOR | 1u << CHAIN_SUB;
			if (many_same)
				set |= 1u << CHAIN_XOR_ZEROS |
				    1u << CHAIN_SUB_ZEROS |
				    1u << CHAIN_XOR_ZREF |
				    1u << CHAIN_SUB_ZREF;
		}
	}
	/*
	 * The chunk whole: where it is small, where nothing else applies,
	 * and at levels 7 to 9 always, as z4ai(1) says (the palette of a
	 * 1-byte type can cost more than it saves).
	 */
	if (f->raw_size < (16u << 10) || set == 0 || level >= 7)
		set |= 1u << CHAIN_PLAIN;
	return set;
}

/*
 * The order chains are tried in.  The frame keeps the last one built, so
 * the one that usually wins comes last and is not built twice: first
 * those that give up on most chunks (grids), then the rarer winners, and
 * the plain fields last, tight after ordinary.
 */
static const unsigned char try_order[CHAIN_COUNT] = {
	CHAIN_GLUE_32, CHAIN_GLUE_16,
	CHAIN_GRID_ROW, CHAIN_GRID_128, CHAIN_GRID_64, CHAIN_GRID_32,
	CHAIN_ROWS, CHAIN_PLAIN, CHAIN_PALETTE,
	CHAIN_XOR, CHAIN_XOR_ZEROS, CHAIN_SUB, CHAIN_SUB_ZEROS,
	CHAIN_XOR_ZREF, CHAIN_SUB_ZREF, CHAIN_ZEROS, CHAIN_ZEROS_TIGHT,
	CHAIN_PLANES, CHAIN_FOLD, CHAIN_PLANES_TIGHT, CHAIN_MODEL,
	CHAIN_BYTES, CHAIN_OFFSETS,
};
_Static_assert(CHAIN_COUNT == 23, "try_order lists every chain once");

/*
 * Large chunks are judged on a sample.  Each candidate is built on the
 * sample, and only those within SAMPLE_MARGIN of the best there are
 * built on the whole chunk: one or two builds of the chunk instead of up
 * to six, at the risk of losing half a per cent where the sample misleads.
 * The highest levels, 7 to 9, build every candidate whole.
 */
#define SAMPLE_MARGIN 1.005
#define VIEW_MARGIN 1.02

static size_t
gcd(size_t a, size_t b)
{
	while (b) {
		size_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/*
 * Which candidates of set to build whole, judged on a sample; set itself
 * when the chunk is small, has a reference, or its grid groups do not
 * fit in a piece.  *failed gets those that do not apply to the sample,
 * and so not to the chunk: each piece is whole groups of both grids.
 */
static int
narrow(struct z4_frame *f, int level, unsigned set, unsigned *keep,
    unsigned *failed)
{
	unsigned w = z4_dtype_width(f->tensor.dtype);
	const struct z4_tensor *t = &f->tensor;
	size_t unit = w, costs[CHAIN_COUNT];
	int err = 0;

	*keep = set;
	*failed = 0;
	if (level >= 7 || f->have_ref || w == 0 || (set & (set - 1)) == 0 ||
	    f->raw_size < 4 * SAMPLE_PIECES * SAMPLE_PIECE)
		return 0;
	if (f->kind == Z4_FRAME_GLUE)
		unit = 4;	/* whole elements of both views */
	if (set & (1u << CHAIN_GRID_ROW | 1u << CHAIN_GRID_128 |
	    1u << CHAIN_GRID_64 | 1u << CHAIN_GRID_32)) {
		size_t row = t->ndim >= 2 ? (size_t)t->shape[t->ndim - 1] : 1;
		if (row == 0 || row > SAMPLE_PIECE)
			return 0;
		unit = row / gcd(row, 128) * 128 * w;
	}
	if (unit > SAMPLE_PIECE)
		return 0;
	size_t m;
	uint8_t *sample = take_sample(f->raw, f->raw_size, unit, &m);
	if (sample == NULL)
		return Z4_E_NOMEM;
	uint8_t *raw = f->raw;
	size_t raw_size = f->raw_size, raw_cap = f->raw_cap, best = SIZE_MAX;
	f->raw = sample;
	f->sample_of = f->raw_size;
	f->raw_size = f->raw_cap = m;
	/*
	 * In try_order, grids first: they give up at once on most chunks,
	 * and when one candidate is left and none has applied, it is the
	 * one to build whole, with no need to build it on the sample.
	 */
	unsigned left = set, applied = 0;
	for (unsigned c = 0; c < CHAIN_COUNT; c++)
		costs[c] = SIZE_MAX;
	for (unsigned i = 0; i < CHAIN_COUNT && err >= 0; i++) {
		unsigned c = try_order[i];
		if (!(left & 1u << c))
			continue;
		if (!applied && (left & (left - 1)) == 0) {
			costs[c] = 0;
			break;
		}
		left &= ~(1u << c);
		if ((err = build(f, (enum chain)c, level)) == 1)
			*failed |= 1u << c;
		else if (err == 0)
			costs[c] = coded_cost(f), applied++;
		best = costs[c] < best ? costs[c] : best;
	}
	f->raw = raw;
	f->raw_size = raw_size;
	f->raw_cap = raw_cap;
	f->sample_of = 0;
	free(sample);
	if (err < 0)
		return err;
	*keep = 0;
	for (unsigned c = 0; c < CHAIN_COUNT; c++)
		if (costs[c] != SIZE_MAX &&
		    (double)costs[c] <= SAMPLE_MARGIN * (double)best)
			*keep |= 1u << c;
	/*
	 * A view of glue must win by a margin to be built whole: random
	 * bytes store as well one way as another, and a tie would build
	 * them three times.
	 */
	for (unsigned c = 0; c < CHAIN_COUNT; c++)
		if (chain_view[c] && costs[CHAIN_PLAIN] != SIZE_MAX &&
		    (double)costs[c] > (double)costs[CHAIN_PLAIN] /
		    VIEW_MARGIN)
			*keep &= ~(1u << c);
	if (*keep == 0)
		*keep = set & 1u << CHAIN_PLAIN;
	return 0;
}

/*
 * Build each chain of set in try_order; the frame keeps the last one
 * built.  Sets *best to the smallest (-1 if none applies) and *last to
 * the one the frame holds.
 */
static int
build_each(struct z4_frame *f, int level, unsigned set, int *best,
    int *last)
{
	size_t best_cost = SIZE_MAX;
	int err;

	*best = *last = -1;
	for (unsigned t = 0; t < CHAIN_COUNT; t++) {
		int c = try_order[t];
		if (!(set & 1u << c))
			continue;
		if ((err = build(f, (enum chain)c, level)) < 0)
			return err;
		if (err == 1) {
			/* It does not apply, and the frame holds nothing. */
			*last = -1;
			continue;
		}
		*last = c;
		size_t cost = coded_cost(f);
		if (cost < best_cost) {
			best_cost = cost;
			*best = c;
		}
	}
	return 0;
}

int
z4_frame_encode(struct z4_frame *f, const struct z4_encode_opts *o)
{
	int level = o->level > 9 ? 9 : o->level;
	f->sums_ready = 0;
	if (f->kind == Z4_FRAME_REF || f->kind == Z4_FRAME_MEMBER)
		return 0;	/* nothing to code: no bytes of its own */
	unsigned set = candidates(f, level), keep, failed;
	/* OFFSETS is judged on the whole frame: a sample cuts its pairs. */
	unsigned whole = set & 1u << CHAIN_OFFSETS;
	int best, last, err;

	if ((err = narrow(f, level, set & ~whole, &keep, &failed)))
		return err;
	keep |= whole;
	if ((err = build_each(f, level, keep, &best, &last)))
		return err;
	/* What the sample chose may not apply to the whole: the rest. */
	if (best < 0 && keep != set &&
	    (err = build_each(f, level, set & ~keep & ~failed, &best, &last)))
		return err;
	err = best == last ? 0 : build(f, (enum chain)best, level);
	/* PLANES may have made it on the way (split_or_sum). */
	if (!err && !f->sums_ready)
		z4_frame_sum(f);
	return err;
}

/* A frame as z4split writes it: no transform and one stored plane. */
static int
untransformed(const struct z4_frame *f)
{
	return f->nxform == 0 && f->nplane == 1 &&
	    f->plane[0].coder == Z4_CODER_STORED;
}

int
z4_frame_recode(struct z4_frame *f, const struct z4_encode_opts *o)
{
	int level = o->level > 9 ? 9 : o->level;
	int err = 0;

	f->sums_ready = 0;
	if (f->kind == Z4_FRAME_REF || f->kind == Z4_FRAME_MEMBER)
		return 0;
	/* Frames nothing has transformed yet get the transforms too. */
	if (untransformed(f))
		return z4_frame_encode(f, o);
	for (unsigned i = 0; i < f->nplane && !err; i++)
		if (f->plane[i].coder == Z4_CODER_STORED)
			err = code_plane(f, &f->plane[i], level);
	if (!err)
		z4_frame_sum(f);
	return err;
}

/*
 * The transforms that remove what an order-0 coder of the fields would
 * pay for: few distinct values, integers on a grid, zeros.  The rest of
 * a chain (fields, planes' coders) is what z4plane(1) adds.
 */
static int
removes_redundancy(unsigned id)
{
	return id == Z4_XF_PALETTE || id == Z4_XF_GRID || id == Z4_XF_ZEROS;
}

int
z4_frame_detect(struct z4_frame *f, const struct z4_encode_opts *o)
{
	int err;

	f->sums_ready = 0;
	if (f->kind != Z4_FRAME_CHUNK || !untransformed(f))
		return 0;
	if ((err = z4_frame_encode(f, o)))
		return err;
	if (f->nxform == 0 || !removes_redundancy(f->xform[0].id)) {
		f->nxform = 0;
		f->nplane = 1;
		f->plane[0].raw = f->raw;
		f->plane[0].raw_size = f->raw_size;
	}
	for (unsigned i = 0; i < f->nplane; i++)
		store_plane(&f->plane[i]);
	return 0;
}

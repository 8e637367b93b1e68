/*
 * gen.c - a large safetensors file of synthetic weights for throughput
 * benchmarks: a deterministic PRNG (xorshift64*), Gaussian values
 * (Box-Muller) with a scale that varies per row, as trained matrices do,
 * then stored as one of:
 *
 *   bf16     rounded to bf16
 *   f16      rounded to fp16
 *   f32      kept as f32
 *   int4     int4 with one scale per tensor, dequantised to bf16
 *   int8row  int8 with one scale per row, dequantised to f32
 *   g64      int4 with an fp16 scale and zero point per group of 64,
 *            dequantised to bf16
 *   prune50  bf16 with half the elements, at random, zero
 *   fp8      rounded to fp8 e4m3, held in bf16
 *   mxfp4    MXFP4 as the OCP MX format makes it, held in bf16: per
 *            block of 32, a power of two from the largest magnitude,
 *            and each value rounded to the nearest fp4 e2m1 multiple
 *   small    bf16 in tensors of one row of 512 weights, 1 KiB each, as
 *            the biases and norms of a model with very many layers are:
 *            what each frame costs beyond its bytes
 *   u8       u8 with one scale per tensor and a zero point of 128, in
 *            tensors of 32 rows of 4096 (128 KiB), as a small quantised
 *            model's layers are: BYTE-MODEL's speed
 *   bf16next the bf16 file a few hundred training steps later: each
 *            weight moved by a small Gaussian step, from a PRNG of its
 *            own, so that bf16 and bf16next of one size make a pair for
 *            checkpoint deltas
 *
 * so that each of the encoder's paths is timed on a file large enough to
 * be stable.  Ratios are measured on real corpus files, never on these.
 *
 * usage: gen KIND SIZE_MIB > file.safetensors
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static double
uniform(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (double)((rng * 0x2545F4914F6CDD1Dull) >> 11) * 0x1.0p-53;
}

static double
gaussian(void)
{
	double u = uniform(), v = uniform();
	return sqrt(-2 * log(u + 1e-300)) * cos(6.283185307179586 * v);
}

/* The steps of bf16next, which must leave the weights' PRNG alone. */
static double
step_gaussian(void)
{
	static uint64_t saved = 0x2545F4914F6CDD1Dull;
	uint64_t weights = rng;
	rng = saved;
	double g = gaussian();
	saved = rng;
	rng = weights;
	return g;
}

static uint32_t
bits_of(float x)
{
	uint32_t u;
	memcpy(&u, &x, 4);
	return u;
}

/* Round to nearest even, as a cast to bf16 does. */
static uint16_t
to_bf16(float x)
{
	uint32_t u = bits_of(x);
	return (uint16_t)((u + 0x7fff + (u >> 16 & 1)) >> 16);
}

/* x rounded to a float of m mantissa bits, exponents from emin on. */
static float
round_to(float x, int m, int emin)
{
	if (x == 0)
		return x;
	int e;
	frexpf(fabsf(x), &e);
	if (e < emin)
		e = emin;
	float step = ldexpf(1, e - 1 - m);
	return nearbyintf(x / step) * step;
}

enum kind { BF16, F32, INT4, INT8ROW, G64, PRUNE50, FP8, F16, BF16NEXT,
	MXFP4, SMALL, U8 };
static const char *const names[] = { "bf16", "f32", "int4", "int8row",
	"g64", "prune50", "fp8", "f16", "bf16next", "mxfp4", "small", "u8" };

/* x / s rounded to the nearest fp4 e2m1 value (ties up), times s. */
static float
e2m1(float x, float s)
{
	static const float grid[8] = { 0, 0.5f, 1, 1.5f, 2, 3, 4, 6 };
	float a = fabsf(x / s), best = 0;
	for (int i = 0; i < 8; i++)
		if (fabsf(grid[i] - a) <= fabsf(best - a))
			best = grid[i];
	return copysignf(best, x) * s;
}

/* The fp16 bits of a float that fp16 holds exactly (round_to(x, 10, -14)). */
static uint16_t
f16_bits(float x)
{
	uint32_t u = bits_of(x), sign = u >> 16 & 0x8000;
	float a = fabsf(x);
	if (a == 0)
		return (uint16_t)sign;
	if (a < 0x1p-14f)	/* subnormal: a multiple of 2^-24 */
		return (uint16_t)(sign | (uint32_t)(a * 0x1p24f));
	uint32_t b = bits_of(a);
	return (uint16_t)(sign | ((b >> 23) - 112) << 10 | (b >> 13 & 0x3ff));
}

/*
 * The size of bf16next's steps, against the row's scale: with it the
 * pair's delta codes about as well as 20 steps of the corpus's
 * pre-training run do.
 */
#define STEP 0.08

/* One row of cols weights of the given kind, as the bytes of its dtype. */
static void
make_row(enum kind k, uint8_t *out, size_t cols, double tensor_scale)
{
	double scale = 0.02 * exp(0.3 * gaussian());
	float x[4096];
	for (size_t c = 0; c < cols; c++)
		x[c] = (float)(scale * gaussian());
	if (k == INT8ROW) {
		float m = 0;
		for (size_t c = 0; c < cols; c++)
			m = fmaxf(m, fabsf(x[c]));
		float s = m / 127;
		/* An integer times the scale: a zero is +0.0. */
		for (size_t c = 0; c < cols; c++)
			x[c] = (nearbyintf(x[c] / s) + 0.0f) * s;
	} else if (k == INT4) {
		float s = (float)tensor_scale;
		for (size_t c = 0; c < cols; c++)
			x[c] = (fminf(fmaxf(nearbyintf(x[c] / s), -8), 7) +
			    0.0f) * s;
	} else if (k == G64) {
		for (size_t g = 0; g < cols; g += 64) {
			float lo = x[g], hi = x[g];
			for (size_t c = g; c < g + 64; c++)
				lo = fminf(lo, x[c]), hi = fmaxf(hi, x[c]);
			float s = round_to((hi - lo) / 15, 10, -14);
			float z = nearbyintf(-lo / s);
			for (size_t c = g; c < g + 64; c++) {
				float q = fminf(fmaxf(nearbyintf(x[c] / s) + z,
				    0), 15);
				x[c] = (q - z) * s;
			}
		}
	} else if (k == PRUNE50) {
		for (size_t c = 0; c < cols; c++)
			if (uniform() < 0.5)
				x[c] = 0;
	} else if (k == FP8) {
		for (size_t c = 0; c < cols; c++)
			x[c] = round_to(x[c], 3, -6);
	} else if (k == F16) {
		for (size_t c = 0; c < cols; c++)
			x[c] = round_to(x[c], 10, -14);
	} else if (k == MXFP4) {
		/* The scale puts the largest magnitude in [4, 8). */
		for (size_t g = 0; g < cols; g += 32) {
			float m = 0;
			for (size_t c = g; c < g + 32; c++)
				m = fmaxf(m, fabsf(x[c]));
			int e;
			frexpf(m, &e);
			float s = ldexpf(1, e - 1 - 2);
			for (size_t c = g; c < g + 32; c++)
				x[c] = m > 0 ? e2m1(x[c], s) : 0;
		}
	} else if (k == BF16NEXT) {
		/* Rounded as the earlier save was, then moved. */
		for (size_t c = 0; c < cols; c++) {
			uint32_t u = (uint32_t)to_bf16(x[c]) << 16;
			float b;
			memcpy(&b, &u, 4);
			x[c] = b + (float)(STEP * scale * step_gaussian());
		}
	}
	for (size_t c = 0; c < cols; c++) {
		if (k == U8) {
			/* 4 sigmas of the typical row's scale to 127 steps. */
			float q = nearbyintf(x[c] / (float)tensor_scale) + 128;
			out[c] = (uint8_t)fminf(fmaxf(q, 0), 255);
		} else if (k == F32 || k == INT8ROW) {
			uint32_t u = bits_of(x[c]);
			memcpy(out + 4 * c, &u, 4);
		} else if (k == F16) {
			uint16_t h = f16_bits(x[c]);
			memcpy(out + 2 * c, &h, 2);
		} else {
			uint16_t h = to_bf16(x[c]);
			memcpy(out + 2 * c, &h, 2);
		}
	}
}

int
main(int argc, char *argv[])
{
	int k = -1;
	for (int i = 0; argc == 3 && i < (int)(sizeof names / sizeof *names);
	    i++)
		if (strcmp(argv[1], names[i]) == 0)
			k = i;
	if (k < 0) {
		fputs("usage: gen bf16|f16|f32|int4|int8row|g64|prune50|fp8|"
		    "mxfp4|small|u8|bf16next SIZE_MIB\n", stderr);
		return 2;
	}
	int wide = k == F32 || k == INT8ROW;
	size_t width = wide ? 4 : k == U8 ? 1 : 2;
	size_t cols = k == SMALL ? 512 : 4096;
	size_t bytes = (size_t)atol(argv[2]) << 20;
	size_t per = k == SMALL ? cols * width : k == U8 ? 128u << 10 :
	    64u << 20;
	size_t tensors = bytes / per ? bytes / per : 1;
	size_t rows = bytes / tensors / width / cols;
	size_t tsize = rows * cols * width;
	size_t cap = 128 * tensors + 16;
	char *head = malloc(cap);
	size_t n = 0;

	if (head == NULL)
		return 1;
	n += (size_t)snprintf(head + n, cap - n, "{");
	for (size_t t = 0; t < tensors; t++)
		n += (size_t)snprintf(head + n, cap - n,
		    "%s\"layer.%zu.weight\":{\"dtype\":\"%s\",\"shape\":[%zu,%zu],"
		    "\"data_offsets\":[%zu,%zu]}", t ? "," : "", t,
		    wide ? "F32" : k == F16 ? "F16" : k == U8 ? "U8" : "BF16",
		    rows, cols,
		    t * tsize,
		    (t + 1) * tsize);
	n += (size_t)snprintf(head + n, cap - n, "}");
	while (n % 8)
		head[n++] = ' ';
	uint64_t len = n;
	fwrite(&len, 8, 1, stdout);
	fwrite(head, 1, n, stdout);
	free(head);
	uint8_t *row = malloc(cols * width);
	for (size_t t = 0; t < tensors; t++) {
		/*
		 * int4's one scale: a tensor of 0.02 Gaussians over 3 sigma;
		 * u8's: over 4 sigma.
		 */
		double tensor_scale = k == U8 ? 0.02 * 4 / 127 : 0.02 * 3 / 7;
		for (size_t r = 0; r < rows; r++) {
			make_row((enum kind)k, row, cols, tensor_scale);
			fwrite(row, 1, cols * width, stdout);
		}
	}
	free(row);
	return fflush(stdout) != 0;
}

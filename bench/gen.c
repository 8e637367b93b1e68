/*
 * gen.c - a large safetensors file of synthetic weights for throughput
 * benchmarks: a deterministic PRNG (xorshift64*), Gaussian values
 * (Box-Muller) with a scale that varies per row, as trained matrices do,
 * rounded to bf16 or kept as f32.  Ratios are measured on real corpus
 * files, never on these.
 *
 * usage: gen bf16|f32 SIZE_MIB > file.safetensors
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

int
main(int argc, char *argv[])
{
	if (argc != 3 || (strcmp(argv[1], "bf16") && strcmp(argv[1], "f32"))) {
		fputs("usage: gen bf16|f32 SIZE_MIB\n", stderr);
		return 2;
	}
	int bf16 = strcmp(argv[1], "bf16") == 0;
	size_t width = bf16 ? 2 : 4, cols = 4096;
	size_t bytes = (size_t)atol(argv[2]) << 20;
	size_t tensors = bytes / (64u << 20) ? bytes / (64u << 20) : 1;
	size_t rows = bytes / tensors / width / cols;
	size_t tsize = rows * cols * width;
	char head[1 << 16];
	size_t n = 0;

	n += (size_t)snprintf(head + n, sizeof head - n, "{");
	for (size_t t = 0; t < tensors; t++)
		n += (size_t)snprintf(head + n, sizeof head - n,
		    "%s\"layer.%zu.weight\":{\"dtype\":\"%s\",\"shape\":[%zu,%zu],"
		    "\"data_offsets\":[%zu,%zu]}", t ? "," : "", t,
		    bf16 ? "BF16" : "F32", rows, cols, t * tsize,
		    (t + 1) * tsize);
	n += (size_t)snprintf(head + n, sizeof head - n, "}");
	while (n % 8)
		head[n++] = ' ';
	uint64_t len = n;
	fwrite(&len, 8, 1, stdout);
	fwrite(head, 1, n, stdout);
	uint8_t *row = malloc(cols * width);
	for (size_t t = 0; t < tensors; t++) {
		for (size_t r = 0; r < rows; r++) {
			double scale = 0.02 * exp(0.3 * gaussian());
			for (size_t c = 0; c < cols; c++) {
				float x = (float)(scale * gaussian());
				uint32_t u;
				memcpy(&u, &x, 4);
				if (bf16) {
					/* Round to nearest even, as a cast does. */
					u += 0x7fff + (u >> 16 & 1);
					row[2 * c] = (uint8_t)(u >> 16);
					row[2 * c + 1] = (uint8_t)(u >> 24);
				} else {
					memcpy(row + 4 * c, &u, 4);
				}
			}
			fwrite(row, 1, cols * width, stdout);
		}
	}
	free(row);
	return fflush(stdout) != 0;
}

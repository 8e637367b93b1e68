/*
 * samples.h - small safetensors files that make the encoder use one
 * transform each, for the mutation test and the fuzz harnesses: planes,
 * zeros, sparse24 (2:4 sparsity: a mask byte for each 4 elements),
 * palette, grid, quant (U8 quantised weights: BYTE-MODEL), dup (a
 * tensor twice: REF frames), base and next
 * (a checkpoint and one a step later: deltas), rlbase and rlnext (the
 * same with few, mostly small, weights changed: ZEROS-REF).
 */
#ifndef Z4_SAMPLES_H
#define Z4_SAMPLES_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A safetensors file of tensors all of one dtype and length. */
static void
write_st(const char *path, const char *dtype, unsigned ntensor,
    size_t bytes, const uint8_t *data)
{
	char json[1024];
	size_t n = 0;
	n += (size_t)snprintf(json + n, sizeof json - n, "{");
	for (unsigned t = 0; t < ntensor; t++)
		n += (size_t)snprintf(json + n, sizeof json - n,
		    "%s\"t%u\":{\"dtype\":\"%s\",\"shape\":[4,%zu],"
		    "\"data_offsets\":[%zu,%zu]}", t ? "," : "", t, dtype,
		    bytes / 4 / (dtype[0] == 'U' ? 1 : dtype[1] == '3' ? 4 : 2),
		    t * bytes,
		    (t + 1) * bytes);
	n += (size_t)snprintf(json + n, sizeof json - n, "}");
	while (n % 8)
		json[n++] = ' ';
	FILE *f = fopen(path, "wb");
	uint64_t len = n;
	if (f == NULL || fwrite(&len, 8, 1, f) != 1 ||
	    fwrite(json, 1, n, f) != n ||
	    fwrite(data, 1, ntensor * bytes, f) != ntensor * bytes ||
	    fclose(f) != 0)
		exit(3);
}

static int
make_sample(const char *kind, const char *path)
{
	uint8_t d[4096];
	uint32_t seed = 7;
	for (size_t i = 0; i < sizeof d; i++) {
		seed = seed * 1103515245 + 12345;
		d[i] = (uint8_t)(seed >> 16);
	}
	if (strcmp(kind, "planes") == 0) {
		for (size_t i = 1; i < 1024; i += 2)
			d[i] = (uint8_t)(0x3c + d[i] % 3);	/* exponents */
		write_st(path, "BF16", 2, 512, d);
	} else if (strcmp(kind, "zeros") == 0) {
		for (size_t i = 0; i < 1024; i += 4)
			d[i] = d[i + 1] = 0;
		write_st(path, "BF16", 1, 1024, d);
	} else if (strcmp(kind, "sparse24") == 0) {
		/* Two of each four elements zero, in one of the 6 ways. */
		static const uint8_t keep[6] = { 3, 5, 6, 9, 10, 12 };
		for (size_t g = 0; g < 4096; g += 8) {
			unsigned k = keep[d[g + 1] % 6];
			for (size_t i = 0; i < 8; i += 2)
				if (!(k >> i / 2 & 1))
					d[g + i] = d[g + i + 1] = 0;
		}
		write_st(path, "BF16", 1, 4096, d);
	} else if (strcmp(kind, "palette") == 0) {
		/* Six bf16 values with busy mantissas, as an INT3 would give. */
		static const uint16_t six[6] = { 0x3c11, 0xbc57, 0x3d2b,
		    0xbd69, 0x3e05, 0xbe73 };
		for (size_t i = 0; i < 1024; i += 2) {
			uint16_t v = six[d[i] % 6];
			d[i] = (uint8_t)v;
			d[i + 1] = (uint8_t)(v >> 8);
		}
		write_st(path, "BF16", 1, 1024, d);
	} else if (strcmp(kind, "grid") == 0) {
		/* Four rows of 64 F32: integers times a scale per row. */
		for (int r = 0; r < 4; r++) {
			float s = 0.0123f * (float)(r + 1);
			for (int i = 0; i < 64; i++) {
				float v = (float)((i * 37 + r) % 255 - 127) * s;
				memcpy(d + 4 * (64 * r + i), &v, 4);
			}
		}
		write_st(path, "F32", 1, 1024, d);
	} else if (strcmp(kind, "quant") == 0) {
		/*
		 * Four rows around 128, each element as far from it as the
		 * one above, give or take 2, on either side.
		 */
		for (size_t i = 0; i < 4096; i++) {
			int far = (int)(i < 1024 ? d[i] % 48 :
			    (d[i - 1024] > 128 ? d[i - 1024] - 128 :
			    128 - d[i - 1024]) + d[i] % 5 - 2);
			far = far < 0 ? 0 : far;
			d[i] = (uint8_t)(d[i] & 0x80 ? 128 + far : 128 - far);
		}
		write_st(path, "U8", 1, 4096, d);
	} else if (strcmp(kind, "dup") == 0) {
		memcpy(d + 600, d, 600);
		write_st(path, "BF16", 2, 600, d);
	} else if (strcmp(kind, "rlbase") == 0 || strcmp(kind, "rlnext") == 0) {
		/*
		 * Weights of six exponents; a step later half of those of the
		 * two smallest exponents have moved in their last bits and no
		 * other: a delta whose zero mask is best split by the
		 * reference (ZEROS-REF).
		 */
		static uint8_t big[65536];
		uint32_t r = 99;
		for (size_t i = 0; i < sizeof big; i += 2) {
			r = r * 1103515245 + 12345;
			unsigned e = 118 + (r >> 16) % 6;
			unsigned v = (r >> 8 & 0x807f) | e << 7;
			int small = e < 120;
			if (kind[2] == 'n' && small && (r >> 24) % 2 == 0)
				v ^= 1 + (r >> 5) % 7;
			big[i] = (uint8_t)v;
			big[i + 1] = (uint8_t)(v >> 8);
		}
		write_st(path, "BF16", 2, sizeof big / 2, big);
	} else if (strcmp(kind, "base") == 0 || strcmp(kind, "next") == 0) {
		if (kind[0] == 'n')
			for (size_t i = 0; i < 1024; i += 97)
				d[i] ^= 1;
		write_st(path, "BF16", 2, 512, d);
	} else {
		fprintf(stderr, "mutate: unknown kind %s\n", kind);
		return 2;
	}
	return 0;
}

#endif

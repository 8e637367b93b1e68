/*
 * bigtensor.c - a safetensors file with one BF16 tensor of SIZE_MIB MiB
 * (more than 4 GiB if asked), for the round trip of inputs past 32-bit
 * sizes.  Values are cheap to make: a deterministic PRNG's bytes under a
 * trained-looking exponent, so the coder has work to do.
 *
 * usage: bigtensor SIZE_MIB > file.safetensors
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int
main(int argc, char *argv[])
{
	if (argc != 2) {
		fputs("usage: bigtensor SIZE_MIB\n", stderr);
		return 2;
	}
	uint64_t bytes = (uint64_t)strtoull(argv[1], NULL, 10) << 20;
	char head[256];
	int n = snprintf(head, sizeof head, "{\"big.weight\":{\"dtype\":"
	    "\"BF16\",\"shape\":[%llu],\"data_offsets\":[0,%llu]}}",
	    (unsigned long long)(bytes / 2), (unsigned long long)bytes);
	while (n % 8)
		head[n++] = ' ';
	uint64_t len = (uint64_t)n;
	fwrite(&len, 8, 1, stdout);
	fwrite(head, 1, (size_t)n, stdout);
	static uint16_t buf[1 << 16];
	uint64_t x = 88172645463325252ull;
	for (uint64_t done = 0; done < bytes; done += sizeof buf) {
		for (size_t i = 0; i < sizeof buf / 2; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			/* Exponents 117..124, most often 120-122; any mantissa. */
			unsigned e = 120 + (unsigned)(x >> 60) % 5 - 2;
			buf[i] = (uint16_t)((x >> 8 & 0x807f) | e << 7);
		}
		size_t k = bytes - done < sizeof buf ? bytes - done : sizeof buf;
		if (fwrite(buf, 1, k, stdout) != k)
			return 1;
	}
	return fflush(stdout) != 0;
}

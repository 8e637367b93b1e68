/*
 * mutate.c - every byte of a stream changed twice (XOR 0xFF, and a
 * random value) and every truncation, each decoded by the library: it
 * must fail or give the original back.  Anything else is a stream that
 * decodes silently to wrong bytes, and the run fails.
 *
 * usage: mutate STREAM ORIGINAL [REF]
 * Prints: mutate: STREAM: N mutations, R rejected, S same bytes, 0 wrong
 *
 * mutate --make KIND FILE writes a small safetensors file that makes the
 * encoder use one transform: planes, zeros, palette, grid, dup (a tensor
 * twice: REF frames), base and next (a checkpoint and one a step later).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>

#include "z4.h"
#include "samples.h"

struct mem {
	uint8_t *p;
	size_t len;
};

static struct mem
slurp(const char *path)
{
	struct mem m = { NULL, 0 };
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		perror(path);
		exit(2);
	}
	fseek(f, 0, SEEK_END);
	m.len = (size_t)ftell(f);
	rewind(f);
	m.p = malloc(m.len + 1);
	if (m.p == NULL || fread(m.p, 1, m.len, f) != m.len)
		exit(2);
	fclose(f);
	return m;
}

/*
 * Decode len bytes of p: 1 same as orig, 0 rejected, -1 wrong bytes,
 * 2 a proper prefix of orig (a file cut where one stream ends and the
 * next begins is a shorter file of whole streams).
 */
static int
decode(const uint8_t *p, size_t len, const struct mem *orig,
    struct z4_ref *ref)
{
	FILE *in = tmpfile();
	struct z4_in zi;
	struct z4_reader *r;
	struct z4_frame f;
	size_t at = 0;
	int ret, wrong = 0;

	if (in == NULL || fwrite(p, 1, len, in) != len)
		exit(3);
	fflush(in);
	rewind(in);
	z4_frame_init(&f);
	if (z4_in_init(&zi, fileno(in)) || z4_reader_new(&r, &zi, 0))
		exit(3);
	zi.ref = ref;
	while ((ret = z4_reader_next(r, &f)) > 0) {
		if (ret != 1)
			continue;
		if (f.raw_size > orig->len - at ||
		    memcmp(f.raw, orig->p + at, f.raw_size) != 0) {
			wrong = 1;
			break;
		}
		at += f.raw_size;
	}
	z4_reader_free(r);
	z4_frame_release(&f);
	z4_in_release(&zi);
	fclose(in);
	if (ret < 0)
		return 0;	/* rejected: whatever came out before is moot */
	return wrong ? -1 : at == orig->len ? 1 : 2;
}

int
main(int argc, char *argv[])
{
	struct z4_ref *ref = NULL;
	uint32_t seed = 12345;
	long counts[4] = { 0 };	/* wrong, rejected, same, prefix */

	if (argc == 4 && strcmp(argv[1], "--make") == 0)
		return make_sample(argv[2], argv[3]);
	if (argc != 3 && argc != 4) {
		fputs("usage: mutate STREAM ORIGINAL [REF]\n", stderr);
		return 2;
	}
	struct mem s = slurp(argv[1]), orig = slurp(argv[2]);
	if (argc == 4) {
		int fd = open(argv[3], O_RDONLY);
		if (fd < 0 || z4_ref_open(&ref, fd)) {
			fprintf(stderr, "mutate: bad reference %s\n", argv[3]);
			return 2;
		}
	}
	if (decode(s.p, s.len, &orig, ref) != 1) {
		fprintf(stderr, "mutate: %s does not decode to %s\n", argv[1],
		    argv[2]);
		return 1;
	}
	for (size_t i = 0; i < s.len; i++) {
		uint8_t keep = s.p[i];
		for (int k = 0; k < 2; k++) {
			seed = seed * 1103515245 + 12345;
			uint8_t v = k == 0 ? keep ^ 0xff : (uint8_t)(seed >> 16);
			if (v == keep)
				v ^= 0x5a;
			s.p[i] = v;
			int r = decode(s.p, s.len, &orig, ref);
			if (r == 2)
				r = -1;	/* shorter output from a changed byte */
			counts[r + 1]++;
			if (r < 0)
				fprintf(stderr, "mutate: %s: byte %zu = 0x%02x "
				    "decodes to wrong bytes\n", argv[1], i, v);
		}
		s.p[i] = keep;
		int r = decode(s.p, i, &orig, ref);
		counts[r + 1]++;
		if (r < 0)
			fprintf(stderr, "mutate: %s: truncated at %zu decodes "
			    "to wrong bytes\n", argv[1], i);
	}
	printf("mutate: %s: %ld mutations, %ld rejected, %ld same bytes, "
	    "%ld cut between streams, %ld wrong\n", argv[1], counts[0] +
	    counts[1] + counts[2] + counts[3], counts[1], counts[2],
	    counts[3], counts[0]);
	z4_ref_free(ref);
	free(s.p);
	free(orig.p);
	return counts[0] != 0;
}

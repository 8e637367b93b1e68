/*
 * fuzz.h - what the libFuzzer harnesses share: fuzzer bytes as a file,
 * a file's bytes back, and the checksums of a stream made right.
 */
#ifndef Z4_FUZZ_H
#define Z4_FUZZ_H

#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* A regular, seekable file holding the n bytes at p, at offset 0. */
static inline int
fuzz_file(const uint8_t *p, size_t n)
{
	int fd = memfd_create("fuzz", 0);
	if (fd < 0 || z4_writeall(fd, p, n) != 0 ||
	    lseek(fd, 0, SEEK_SET) != 0)
		abort();
	return fd;
}

/* Rewind fd for another reader. */
static inline void
fuzz_rewind(int fd)
{
	if (lseek(fd, 0, SEEK_SET) != 0)
		abort();
}

/* The whole content of fd, appended to b. */
static inline void
fuzz_slurp(int fd, struct z4_buf *b)
{
	struct stat st;
	if (fstat(fd, &st) != 0 || z4_buf_reserve(b, (size_t)st.st_size))
		abort();
	if (st.st_size == 0)
		return;
	if (pread(fd, b->p + b->len, (size_t)st.st_size, 0) != st.st_size)
		abort();
	b->len += (size_t)st.st_size;
}

/*
 * Make right every checksum and length that a walk over the structure
 * can compute: stream headers, frame headers and trailers.
 * A mutation then reaches the coders and transforms instead of dying at
 * a checksum.  What the walk cannot compute, the checksums of decoded
 * bytes and the index, is left to the fuzzer's comparison tracing.
 */
static inline void
fuzz_fix(uint8_t *p, size_t n)
{
	size_t off = 0, start = 0;

	while (n - off >= Z4_STREAM_HEADER_SIZE) {
		start = off;
		z4_put64(p + off + 8, z4_hash64(p + off, 8));
		off += Z4_STREAM_HEADER_SIZE;
		for (;;) {
			uint8_t *h = p + off;
			if (n - off < Z4_FRAME_FIXED_SIZE)
				return;
			size_t head = Z4_FRAME_FIXED_SIZE + z4_get16(h + 2) + 4;
			size_t payload = z4_get32(h + 4);
			if (head > n - off || payload > n - off - head)
				return;
			z4_put32(h + head - 4, (uint32_t)z4_hash64(h, head - 4));
			size_t at = off - start;
			off += head + payload;
			if (h[0] != Z4_FRAME_END)
				continue;
			if (n - off < Z4_TRAILER_SIZE)
				return;
			uint8_t *t = p + off;
			off += Z4_TRAILER_SIZE;
			z4_put64(t + 8, at);
			z4_put64(t + 16, off - start);
			z4_put64(t + 24, z4_hash64(t, 24));
			break;
		}
	}
}

#endif /* Z4_FUZZ_H */

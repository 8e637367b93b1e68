/*
 * io.c - buffered input and output over file descriptors.
 *
 * Reads and writes loop over short counts and EINTR.  Input counts every
 * byte it takes from the descriptor, so random access can show what it
 * read.  A large read goes straight into the caller's buffer instead of
 * through the input buffer.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define IN_BUF_SIZE (256u << 10)
#define OUT_BUF_SIZE (256u << 10)

int
z4_in_init(struct z4_in *in, int fd)
{
	memset(in, 0, sizeof *in);
	in->fd = fd;
	in->minor = Z4_FORMAT_MINOR;
	in->cap = IN_BUF_SIZE;
	in->buf = malloc(in->cap);
	if (in->buf == NULL)
		return Z4_E_NOMEM;
	struct stat st;
	in->seekable = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	return 0;
}

void
z4_in_release(struct z4_in *in)
{
	free(in->buf);
	in->buf = NULL;
}

/* One read(2), retried on EINTR: bytes read, 0 at end, or Z4_E_IO. */
static long
read_once(struct z4_in *in, void *dst, size_t n)
{
	for (;;) {
		ssize_t r = read(in->fd, dst, n);
		if (r >= 0) {
			in->bytes_read += (uint64_t)r;
			if (r == 0)
				in->eof = 1;
			return (long)r;
		}
		if (errno != EINTR)
			return Z4_E_IO;
	}
}

long
z4_in_peek(struct z4_in *in, size_t n)
{
	if (in->len - in->pos >= n || in->eof)
		return (long)(in->len - in->pos < n ? in->len - in->pos : n);
	if (in->pos > 0) {
		memmove(in->buf, in->buf + in->pos, in->len - in->pos);
		in->len -= in->pos;
		in->pos = 0;
	}
	if (n > in->cap) {
		uint8_t *p = realloc(in->buf, n);
		if (p == NULL)
			return Z4_E_NOMEM;
		in->buf = p;
		in->cap = n;
	}
	while (in->len < n) {
		/* Exact mode reads no more than asked: random access. */
		size_t want = in->exact ? n - in->len : in->cap - in->len;
		long r = read_once(in, in->buf + in->len, want);
		if (r < 0)
			return r;
		if (r == 0)
			break;
		in->len += (size_t)r;
	}
	return (long)(in->len < n ? in->len : n);
}

long
z4_in_read_some(struct z4_in *in, void *dst, size_t n)
{
	uint8_t *d = dst;
	size_t done = 0;

	while (done < n) {
		size_t avail = in->len - in->pos;
		size_t want = n - done;
		long r;
		if (avail > 0) {
			r = (long)(avail < want ? avail : want);
			memcpy(d + done, in->buf + in->pos, (size_t)r);
			in->pos += (size_t)r;
		} else if (want >= in->cap / 2 || in->exact) {
			r = read_once(in, d + done, want);
			if (r < 0)
				return r;
		} else {
			r = z4_in_peek(in, want);
			if (r < 0)
				return r;
			if (r > 0)
				continue;
		}
		if (r == 0)
			break;
		done += (size_t)r;
	}
	in->offset += done;
	return (long)done;
}

int
z4_in_read(struct z4_in *in, void *dst, size_t n)
{
	long r = z4_in_read_some(in, dst, n);
	if (r < 0)
		return (int)r;
	return (size_t)r == n ? 0 : Z4_E_TRUNCATED;
}

int
z4_in_skip(struct z4_in *in, size_t n)
{
	size_t avail = in->len - in->pos;
	if (avail >= n) {
		in->pos += n;
		in->offset += n;
		return 0;
	}
	if (in->seekable)
		return z4_in_seek(in, in->offset + n);
	uint8_t tmp[4096];
	while (n) {
		size_t k = n < sizeof tmp ? n : sizeof tmp;
		int err = z4_in_read(in, tmp, k);
		if (err)
			return err;
		n -= k;
	}
	return 0;
}

int
z4_in_seek(struct z4_in *in, uint64_t offset)
{
	if (offset > (uint64_t)INT64_MAX ||
	    lseek(in->fd, (off_t)offset, SEEK_SET) < 0)
		return Z4_E_IO;
	in->pos = in->len = 0;
	in->eof = 0;
	in->offset = offset;
	return 0;
}

int
z4_out_init(struct z4_out *out, int fd)
{
	memset(out, 0, sizeof *out);
	out->fd = fd;
	out->cap = OUT_BUF_SIZE;
	out->buf = malloc(out->cap);
	return out->buf ? 0 : Z4_E_NOMEM;
}

void
z4_out_release(struct z4_out *out)
{
	free(out->buf);
	out->buf = NULL;
}

int
z4_writeall(int fd, const void *p, size_t n)
{
	const uint8_t *s = p;

	while (n) {
		ssize_t w = write(fd, s, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return Z4_E_IO;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

int
z4_out_flush(struct z4_out *out)
{
	/* A descriptor of -1 is a sink: what is written is only counted. */
	int err = out->fd < 0 ? 0 : z4_writeall(out->fd, out->buf, out->len);
	out->len = 0;
	return err;
}

int
z4_out_write(struct z4_out *out, const void *p, size_t n)
{
	out->offset += n;
	if (n <= out->cap - out->len) {
		if (n)
			memcpy(out->buf + out->len, p, n);
		out->len += n;
		return 0;
	}
	int err = z4_out_flush(out);
	if (err)
		return err;
	if (n >= out->cap)
		return out->fd < 0 ? 0 : z4_writeall(out->fd, p, n);
	memcpy(out->buf, p, n);
	out->len = n;
	return 0;
}

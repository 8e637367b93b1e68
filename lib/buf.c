/*
 * buf.c - growable byte buffers for building, cursors for parsing.
 */
#include <stdlib.h>

#include "hash.h"

#include "internal.h"

int
z4_buf_reserve(struct z4_buf *b, size_t extra)
{
	if (extra <= b->cap - b->len)
		return 0;
	if (extra > SIZE_MAX / 2 - b->len)
		return Z4_E_NOMEM;
	size_t cap = b->cap ? b->cap : 256;
	while (cap - b->len < extra)
		cap *= 2;
	uint8_t *p = realloc(b->p, cap);
	if (p == NULL)
		return Z4_E_NOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

int
z4_array_room(void *vp, size_t *cap, size_t n, size_t size)
{
	void **v = vp;
	if (n < *cap)
		return 0;
	size_t c = *cap ? 2 * *cap : 64;
	if (c <= n || c > SIZE_MAX / size)
		return Z4_E_NOMEM;
	void *q = realloc(*v, c * size);
	if (q == NULL)
		return Z4_E_NOMEM;
	*v = q;
	*cap = c;
	return 0;
}

int
z4_buf_add(struct z4_buf *b, const void *p, size_t n)
{
	int err = z4_buf_reserve(b, n);
	if (err)
		return err;
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

int
z4_buf_add8(struct z4_buf *b, unsigned v)
{
	uint8_t c = (uint8_t)v;
	return z4_buf_add(b, &c, 1);
}

int
z4_buf_add16(struct z4_buf *b, unsigned v)
{
	uint8_t t[2];
	z4_put16(t, (uint16_t)v);
	return z4_buf_add(b, t, sizeof t);
}

int
z4_buf_add32(struct z4_buf *b, uint32_t v)
{
	uint8_t t[4];
	z4_put32(t, v);
	return z4_buf_add(b, t, sizeof t);
}

int
z4_buf_add64(struct z4_buf *b, uint64_t v)
{
	uint8_t t[8];
	z4_put64(t, v);
	return z4_buf_add(b, t, sizeof t);
}

int
z4_buf_addv(struct z4_buf *b, uint64_t v)
{
	uint8_t t[10];
	size_t n = 0;
	while (v >= 0x80) {
		t[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	t[n++] = (uint8_t)v;
	return z4_buf_add(b, t, n);
}

void
z4_buf_release(struct z4_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

void
z4_cursor_init(struct z4_cursor *c, const void *p, size_t len)
{
	c->p = p;
	c->len = len;
	c->pos = 0;
	c->ok = 1;
}

const uint8_t *
z4_cur_bytes(struct z4_cursor *c, size_t n)
{
	static const uint8_t zeros[16];

	if (!c->ok || n > c->len - c->pos) {
		c->ok = 0;
		return n <= sizeof zeros ? zeros : NULL;
	}
	const uint8_t *p = c->p + c->pos;
	c->pos += n;
	return p;
}

unsigned
z4_cur8(struct z4_cursor *c)
{
	return *z4_cur_bytes(c, 1);
}

unsigned
z4_cur16(struct z4_cursor *c)
{
	return z4_get16(z4_cur_bytes(c, 2));
}

uint32_t
z4_cur32(struct z4_cursor *c)
{
	return z4_get32(z4_cur_bytes(c, 4));
}

uint64_t
z4_cur64(struct z4_cursor *c)
{
	return z4_get64(z4_cur_bytes(c, 8));
}

uint64_t
z4_curv(struct z4_cursor *c)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		unsigned b = z4_cur8(c);
		if (shift == 63 && b > 1)
			break;		/* past 64 bits */
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			if (b == 0 && shift > 0)
				break;	/* not the shortest form */
			return v;
		}
	}
	c->ok = 0;
	return 0;
}

uint64_t
z4_hash64(const void *p, size_t n)
{
	return XXH3_64bits(p, n);
}

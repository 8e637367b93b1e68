/*
 * xform_offsets.c - a safetensors header's data offsets as differences.
 *
 * A safetensors header gives each tensor "data_offsets":[A,B], and the
 * tensors follow one another: A is the previous tensor's B, and B - A
 * is one of the few tensor sizes of the model.  Written out, the numbers
 * are half of what zstd leaves of a header; as differences they are
 * mostly "0" and a size seen before, which zstd then matches.
 *
 * The transform is textual, so it is exact for any bytes.  Each place
 * where the bytes "data_offsets":[ occur must be followed by A,B] with
 * A and B in the shortest decimal form, at most 2^64 - 1; the encoder
 * gives up on a frame where one is not, or where the key never occurs.
 * A,B becomes a,b with a = A - E (E the previous pair's B, 0 at first)
 * and b = B - A, each with a minus sign when negative, never "-0".  No
 * parameters; one plane: the text.  The key has none of the characters
 * that the numbers are written with, so both ways find it at the same
 * places.
 */
#include <limits.h>
#include <stdlib.h>

#include "internal.h"

static const char key[] = "\"data_offsets\":[";
/* What ends each number of a pair. */
static const uint8_t after[2] = { ',', ']' };
#define KEY_LEN (sizeof key - 1)
#define NUM_MAX 21		/* a sign and 20 digits */

static unsigned
offsets_inputs(const struct z4_xform_step *s)
{
	return s->param_size == 0;
}

/*
 * A number at p (up to end) in the shortest decimal form, with a minus
 * sign if it may be signed; its length, or 0 if there is none.
 */
static size_t
number_read(const uint8_t *p, const uint8_t *end, int may_sign,
    int *negative, uint64_t *v)
{
	size_t i = 0;
	*negative = 0;
	if (may_sign && p < end && *p == '-') {
		*negative = 1;
		i++;
	}
	size_t first = i;
	*v = 0;
	for (; p + i < end && p[i] >= '0' && p[i] <= '9'; i++) {
		unsigned d = p[i] - '0';
		if (*v > (UINT64_MAX - d) / 10)
			return 0;
		*v = *v * 10 + d;
	}
	/* No digits, a leading zero, or "-0". */
	if (i == first || (p[first] == '0' && (i > first + 1 || *negative)))
		return 0;
	return i;
}

static size_t
number_write(uint8_t *dst, int negative, uint64_t v)
{
	char digits[20];
	size_t n = 0, k = 0;
	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (negative)
		dst[k++] = '-';
	while (n)
		dst[k++] = (uint8_t)digits[--n];
	return k;
}

/*
 * One pass over n bytes at src, either way: each pair after the key is
 * rewritten, and the rest copied.  With dst NULL, only counts.  Returns
 * the output's size, or SIZE_MAX where a pair is malformed; *pairs gets
 * their number.
 */
static size_t
offsets_pass(const uint8_t *src, size_t n, uint8_t *dst, int restore,
    size_t *pairs)
{
	const uint8_t *p = src, *end = src + n;
	uint64_t prev_end = 0;
	size_t out = 0;

	*pairs = 0;
	for (;;) {
		const uint8_t *at = memmem(p, (size_t)(end - p), key, KEY_LEN);
		const uint8_t *copy_end = at ? at + KEY_LEN : end;
		if (dst)
			memcpy(dst + out, p, (size_t)(copy_end - p));
		out += (size_t)(copy_end - p);
		if (at == NULL)
			return out;
		p = copy_end;

		uint64_t x[2], y[2];
		int neg[2];
		for (int k = 0; k < 2; k++) {
			size_t len = number_read(p, end, restore, &neg[k], &x[k]);
			if (len == 0 || p + len >= end || p[len] != after[k])
				return SIZE_MAX;
			p += len + 1;
		}
		if (restore) {
			/* a, b back to A = E + a and B = A + b. */
			if (!z4_undiff(prev_end, neg[0], x[0], &y[0]) ||
			    !z4_undiff(y[0], neg[1], x[1], &y[1]))
				return SIZE_MAX;
			neg[0] = neg[1] = 0;
		} else {
			y[0] = x[0];
			y[1] = x[1];
			z4_diff(x[0], prev_end, &neg[0], &x[0]);
			z4_diff(y[1], y[0], &neg[1], &x[1]);
		}
		prev_end = y[1];
		const uint64_t *v = restore ? y : x;
		for (int k = 0; k < 2; k++) {
			uint8_t num[NUM_MAX];
			size_t len = number_write(num, neg[k], v[k]);
			if (dst) {
				memcpy(dst + out, num, len);
				dst[out + len] = after[k];
			}
			out += len + 1;
		}
		(*pairs)++;
	}
}

static int
offsets_decode(struct z4_frame *f, const struct z4_xform_step *s,
    unsigned first, struct z4_plane *out)
{
	const struct z4_plane *in = &f->plane[first];
	size_t pairs;
	int err;

	if (s->param_size != 0)
		return Z4_E_CORRUPT;
	size_t n = offsets_pass(in->raw, in->raw_size, NULL, 1, &pairs);
	if (n == SIZE_MAX || n > Z4_CHUNK_MAX)
		return Z4_E_CORRUPT;
	if ((err = z4_plane_reserve_raw(out, n)))
		return err;
	offsets_pass(in->raw, in->raw_size, out->rbuf, 1, &pairs);
	out->raw = out->rbuf;
	out->raw_size = n;
	return 0;
}

static int
offsets_encode(struct z4_frame *f, struct z4_xform_step *s,
    const uint8_t *src, size_t size, unsigned first)
{
	size_t pairs;
	int err;

	size_t n = offsets_pass(src, size, NULL, 0, &pairs);
	if (n == SIZE_MAX || pairs == 0 || n > Z4_CHUNK_MAX)
		return 1;
	struct z4_plane *p = &f->plane[first];
	if ((err = z4_plane_reserve_raw(p, n)))
		return err;
	offsets_pass(src, size, p->rbuf, 0, &pairs);
	p->raw = p->rbuf;
	p->raw_size = n;
	f->nplane = first + 1;
	s->param_size = 0;
	return 0;
}

const struct z4_xform z4_xform_offsets = {
	.id = Z4_XF_OFFSETS,
	.name = "offsets",
	.inputs = offsets_inputs,
	.encode = offsets_encode,
	.decode = offsets_decode,
};

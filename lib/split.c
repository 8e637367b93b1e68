/*
 * split.c - a container as a list of spans (glue or one tensor's data),
 * handed out as raw frames of at most one chunk each.
 *
 * The input is never trusted to be as long as its header says: when it
 * ends early, the frames made so far hold every byte it had, and
 * splitting stops there.  So every input round-trips exactly, whatever
 * it is.
 */
#include <stdlib.h>

#include "internal.h"

#define TO_EOF UINT64_MAX

struct span {
	uint64_t begin, end;		/* in the input; end may be TO_EOF */
	const struct z4_tensor *tensor;	/* NULL: glue */
	int emitted;
};

struct z4_split {
	struct z4_in *in;
	size_t chunk;
	unsigned source;
	const char *note;
	struct z4_region *regions;
	struct z4_tensor raw_tensor;
	struct span *spans;
	size_t nspan, si;
	uint64_t pos;
	int eof;
};

static void
add_span(struct z4_split *s, uint64_t begin, uint64_t end,
    const struct z4_tensor *t)
{
	if (begin == end && t == NULL)
		return;
	s->spans[s->nspan++] = (struct span){ begin, end, t, 0 };
}

/* Try the input as safetensors; on success the spans cover it all. */
static int
try_safetensors(struct z4_split *s)
{
	long got = z4_in_peek(s->in, 8);
	if (got < 0)
		return (int)got;
	if (got < 8) {
		s->note = "shorter than a safetensors header";
		return 0;
	}
	uint64_t n = z4_get64(s->in->buf + s->in->pos);
	if (n < 2 || n > Z4_SAFETENSORS_HEADER_MAX) {
		s->note = "header length out of range";
		return 0;
	}
	got = z4_in_peek(s->in, 8 + n);
	if (got < 0)
		return (int)got;
	const uint8_t *json = s->in->buf + s->in->pos + 8;
	if ((uint64_t)got < 8 + n) {
		s->note = "header length past the end of the input";
		return 0;
	}
	if (json[0] != '{') {
		s->note = "header does not start with '{'";
		return 0;
	}
	size_t k;
	int err = z4_safetensors_parse(json, n, &s->regions, &k, &s->note);
	if (err == Z4_E_CORRUPT)
		return 0;
	if (err)
		return err;
	s->spans = calloc(2 * k + 2, sizeof *s->spans);
	if (s->spans == NULL)
		return Z4_E_NOMEM;
	uint64_t base = 8 + n, at = base;
	add_span(s, 0, base, NULL);
	for (size_t i = 0; i < k; i++) {
		const struct z4_region *r = &s->regions[i];
		if (r->end > UINT64_MAX - base)
			break;	/* past any real input: the tail glue has it */
		add_span(s, at, base + r->begin, NULL);
		add_span(s, base + r->begin, base + r->end, &r->tensor);
		at = base + r->end;
	}
	add_span(s, at, TO_EOF, NULL);
	s->source = Z4_SRC_SAFETENSORS;
	s->note = NULL;
	return 0;
}

int
z4_split_new(struct z4_split **sp, struct z4_in *in,
    const struct z4_split_opts *o)
{
	struct z4_split *s = calloc(1, sizeof *s);
	int err;

	*sp = NULL;
	if (s == NULL)
		return Z4_E_NOMEM;
	s->in = in;
	s->chunk = o->chunk_size ? o->chunk_size : Z4_CHUNK_DEFAULT;
	if (s->chunk > Z4_CHUNK_MAX || o->raw_dtype >= Z4_DT_COUNT) {
		free(s);
		return Z4_E_USAGE;
	}
	if ((err = try_safetensors(s))) {
		z4_split_free(s);
		return err;
	}
	if (s->spans == NULL) {
		s->spans = calloc(1, sizeof *s->spans);
		if (s->spans == NULL) {
			z4_split_free(s);
			return Z4_E_NOMEM;
		}
		const struct z4_tensor *t = NULL;
		if (o->raw_dtype > 0) {
			s->raw_tensor.dtype = (unsigned)o->raw_dtype;
			s->raw_tensor.flags = Z4_TENSOR_SHAPE_UNKNOWN;
			t = &s->raw_tensor;
		}
		add_span(s, 0, TO_EOF, t);
		s->source = Z4_SRC_RAW;
	}
	*sp = s;
	return 0;
}

void
z4_split_free(struct z4_split *s)
{
	if (s == NULL)
		return;
	free(s->regions);
	free(s->spans);
	free(s);
}

unsigned
z4_split_source(const struct z4_split *s)
{
	return s->source;
}

const char *
z4_split_note(const struct z4_split *s)
{
	return s->note;
}

int
z4_split_next(struct z4_split *s, struct z4_frame *f)
{
	while (s->si < s->nspan && !s->eof) {
		struct span *sp = &s->spans[s->si];
		uint64_t left = sp->end == TO_EOF ? s->chunk : sp->end - s->pos;
		if (left == 0 && (sp->tensor == NULL || sp->emitted)) {
			s->si++;
			continue;
		}
		size_t want = left < s->chunk ? (size_t)left : s->chunk;
		int err = z4_frame_reserve(f, want);
		if (err)
			return err;
		long n = z4_in_read_some(s->in, f->raw, want);
		if (n < 0)
			return (int)n;
		if ((size_t)n < want)
			s->eof = 1;
		if (n == 0 && want > 0)
			return 0;
		f->raw_size = (size_t)n;
		f->kind = sp->tensor ? Z4_FRAME_CHUNK : Z4_FRAME_GLUE;
		f->flags = 0;
		if (sp->tensor)
			f->tensor = *sp->tensor;
		f->chunk_offset = s->pos - sp->begin;
		s->pos += (uint64_t)n;
		sp->emitted = 1;
		return 1;
	}
	return 0;
}

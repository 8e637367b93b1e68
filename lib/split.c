/*
 * split.c - a container as a list of spans (glue, one tensor's data, or
 * the start of an archive member), handed out as raw frames of at most
 * one chunk each.
 *
 * A safetensors file is its header (glue), its tensors, and whatever
 * lies between and after them (glue).  A tar stream is its headers and
 * padding (glue) and its members, each parsed again: a checkpoint member
 * like a safetensors file, anything else as glue.  A MEMBER frame marks
 * where each member's data begins.
 *
 * The input is never trusted to be as long as its headers say: when it
 * ends early, the frames made so far hold every byte it had, and
 * splitting stops there.  So every input round-trips exactly, whatever
 * it is.
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define TO_EOF UINT64_MAX

/* A region is a tensor of a safetensors header, a tensor one of raw bytes. */
enum span_kind { SPAN_GLUE, SPAN_REGION, SPAN_TENSOR, SPAN_MEMBER };

struct span {
	uint64_t begin, end;		/* in the input; end may be TO_EOF */
	enum span_kind kind;
	const struct z4_region *region;	/* SPAN_REGION */
	const struct z4_tensor *tensor;	/* SPAN_TENSOR */
	const struct z4_member *member;	/* SPAN_MEMBER */
	int emitted;
};

struct z4_split {
	struct z4_in *in;
	size_t chunk;
	unsigned source;
	const char *note;
	struct z4_region **regions;	/* one array per parsed header */
	size_t nregions;
	struct z4_member *members;
	struct z4_tensor raw_tensor;
	struct span *spans;
	size_t nspan, cap, si;
	uint64_t pos;
	int eof;
	/* Frames carry sizes but no bytes: the input is size bytes long. */
	int sizes_only;
	uint64_t size;
};

static int
add_span(struct z4_split *s, uint64_t begin, uint64_t end,
    enum span_kind kind, const void *what)
{
	if (begin == end && kind == SPAN_GLUE)
		return 0;
	int err = z4_array_room(&s->spans, &s->cap, s->nspan,
	    sizeof *s->spans);
	if (err)
		return err;
	s->spans[s->nspan++] = (struct span){
		.begin = begin, .end = end, .kind = kind,
		.region = kind == SPAN_REGION ? what : NULL,
		.tensor = kind == SPAN_TENSOR ? what : NULL,
		.member = kind == SPAN_MEMBER ? what : NULL,
	};
	return 0;
}

/*
 * Spans for a safetensors file whose 8 + n header bytes start at at and
 * whose bytes end at end (TO_EOF for a whole input), of which size are
 * known to be there (TO_EOF for a pipe).  Returns 1 when the header does
 * not check out (*why says why), having added nothing.
 */
static int
safetensors_spans(struct z4_split *s, uint64_t at, const uint8_t *json,
    uint64_t n, uint64_t end, uint64_t size, const char **why)
{
	struct z4_region *r;
	size_t k;

	if (json[0] != '{') {
		*why = "header does not start with '{'";
		return 1;
	}
	int err = z4_safetensors_parse(json, n, &r, &k, why);
	if (err)
		return err == Z4_E_CORRUPT ? 1 : err;
	uint64_t base = at + 8 + n, cursor = base;
	/* A header that places data past the end is not this file's. */
	for (size_t i = 0; i < k && size != TO_EOF; i++) {
		if (r[i].end > size - base) {
			*why = "data offsets past the end of the input";
			free(r);
			return 1;
		}
	}
	struct z4_region **v = realloc(s->regions,
	    (s->nregions + 1) * sizeof *v);
	if (v == NULL) {
		free(r);
		return Z4_E_NOMEM;
	}
	s->regions = v;
	s->regions[s->nregions++] = r;
	err = add_span(s, at, base, SPAN_GLUE, NULL);
	for (size_t i = 0; i < k && !err; i++) {
		/* Past the end of a pipe's bytes: the glue after has it. */
		if (r[i].end > UINT64_MAX - base || base + r[i].end > end)
			break;
		err = add_span(s, cursor, base + r[i].begin, SPAN_GLUE, NULL);
		if (!err)
			err = add_span(s, base + r[i].begin, base + r[i].end,
			    SPAN_REGION, &r[i]);
		cursor = base + r[i].end;
	}
	return err ? err : add_span(s, cursor, end, SPAN_GLUE, NULL);
}

/* Try the input as safetensors, from its first bytes. */
static int
try_safetensors(struct z4_split *s)
{
	long got = z4_in_peek(s->in, 8);
	if (got < 0)
		return (int)got;
	if (got < 8) {
		s->note = "shorter than a safetensors header";
		return 1;
	}
	uint64_t n = z4_get64(s->in->buf + s->in->pos);
	struct stat st;
	if (n < 2 || n > Z4_SAFETENSORS_HEADER_MAX) {
		s->note = "header length out of range";
		return 1;
	}
	/* A file shorter than its header says is not worth a buffer for it. */
	if (s->in->seekable && fstat(s->in->fd, &st) == 0 &&
	    (uint64_t)st.st_size < 8 + n) {
		s->note = "header length past the end of the input";
		return 1;
	}
	got = z4_in_peek(s->in, 8 + n);
	if (got < 0)
		return (int)got;
	if ((uint64_t)got < 8 + n) {
		s->note = "header length past the end of the input";
		return 1;
	}
	/* A file's size is known; a pipe's bytes end where they end. */
	uint64_t size = s->in->seekable && s->in->offset == 0 &&
	    fstat(s->in->fd, &st) == 0 ? (uint64_t)st.st_size : TO_EOF;
	int ret = safetensors_spans(s, 0, s->in->buf + s->in->pos + 8, n,
	    TO_EOF, size, &s->note);
	if (ret == 0)
		s->source = Z4_SRC_SAFETENSORS;
	return ret;
}

/* A member's own spans: a checkpoint's tensors, or its bytes as glue. */
static int
member_spans(struct z4_split *s, const struct z4_member *m)
{
	uint8_t len[8];
	uint64_t end = m->begin + m->size;
	const char *why;
	int ret = 1;

	int err = add_span(s, m->begin, m->begin, SPAN_MEMBER, m);
	if (err)
		return err;
	if (m->size > 10 && pread(s->in->fd, len, 8, (off_t)m->begin) == 8) {
		uint64_t n = z4_get64(len);
		if (n >= 2 && n <= m->size - 8 &&
		    n <= Z4_SAFETENSORS_HEADER_MAX) {
			uint8_t *json = malloc(n);
			if (json == NULL)
				return Z4_E_NOMEM;
			ret = pread(s->in->fd, json, n, (off_t)m->begin + 8) ==
			    (ssize_t)n ? safetensors_spans(s, m->begin, json, n,
			    end, end, &why) : 1;
			free(json);
		}
	}
	return ret < 0 ? ret : ret ? add_span(s, m->begin, end, SPAN_GLUE,
	    NULL) : 0;
}

/* Try a seekable input as a tar stream with at least one member. */
static int
try_tar(struct z4_split *s)
{
	struct stat st;
	uint8_t magic[5];
	size_t n;

	if (!s->in->seekable || s->in->offset != 0 ||
	    fstat(s->in->fd, &st) != 0 || st.st_size < 1024 ||
	    pread(s->in->fd, magic, 5, 257) != 5 ||
	    memcmp(magic, "ustar", 5) != 0)
		return 1;
	int err = z4_tar_members(s->in->fd, (uint64_t)st.st_size,
	    &s->members, &n);
	if (err || n == 0)
		return err ? err : 1;
	uint64_t cursor = 0;
	for (size_t i = 0; i < n && !err; i++) {
		err = add_span(s, cursor, s->members[i].begin, SPAN_GLUE, NULL);
		if (!err)
			err = member_spans(s, &s->members[i]);
		cursor = s->members[i].begin + s->members[i].size;
	}
	if (!err)
		err = add_span(s, cursor, TO_EOF, SPAN_GLUE, NULL);
	s->source = Z4_SRC_TAR;
	return err;
}

int
z4_split_new(struct z4_split **sp, struct z4_in *in,
    const struct z4_split_opts *o)
{
	struct z4_split *s = calloc(1, sizeof *s);
	int ret;

	*sp = NULL;
	if (s == NULL)
		return Z4_E_NOMEM;
	s->in = in;
	s->chunk = o->chunk_size ? o->chunk_size : Z4_CHUNK_DEFAULT;
	if (s->chunk > Z4_CHUNK_MAX || o->raw_dtype >= Z4_DT_COUNT) {
		free(s);
		return Z4_E_USAGE;
	}
	if ((ret = try_tar(s)) == 1)
		ret = try_safetensors(s);
	if (ret == 1) {
		/* Neither: one span of opaque bytes, or of one raw tensor. */
		s->nspan = 0;
		const struct z4_tensor *t = NULL;
		if (o->raw_dtype > 0) {
			s->raw_tensor.dtype = (unsigned)o->raw_dtype;
			s->raw_tensor.flags = Z4_TENSOR_SHAPE_UNKNOWN;
			t = &s->raw_tensor;
		}
		ret = add_span(s, 0, TO_EOF, t ? SPAN_TENSOR : SPAN_GLUE, t);
		s->source = Z4_SRC_RAW;
	} else if (ret == 0) {
		s->note = NULL;
	}
	if (ret) {
		z4_split_free(s);
		return ret;
	}
	*sp = s;
	return 0;
}

void
z4_split_free(struct z4_split *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->nregions; i++)
		free(s->regions[i]);
	free(s->regions);
	free(s->members);
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

void
z4_split_sizes_only(struct z4_split *s, uint64_t size)
{
	s->sizes_only = 1;
	s->size = size;
}

int
z4_split_next(struct z4_split *s, struct z4_frame *f)
{
	while (s->si < s->nspan && !s->eof) {
		struct span *sp = &s->spans[s->si];
		if (sp->kind == SPAN_MEMBER) {
			s->si++;
			f->kind = Z4_FRAME_MEMBER;
			f->flags = 0;
			f->raw_size = 0;
			memcpy(f->tensor.name, sp->member->name,
			    sp->member->name_len + 1);
			f->tensor.name_len = sp->member->name_len;
			f->tensor.dtype = f->tensor.flags = f->tensor.ndim = 0;
			f->member_size = sp->member->size;
			return 1;
		}
		uint64_t left = sp->end == TO_EOF ? s->chunk : sp->end - s->pos;
		if (left == 0 && (sp->kind == SPAN_GLUE || sp->emitted)) {
			s->si++;
			continue;
		}
		size_t want = left < s->chunk ? (size_t)left : s->chunk;
		long n;
		if (s->sizes_only) {
			uint64_t have = s->size > s->pos ? s->size - s->pos : 0;
			n = (long)(have < want ? have : want);
		} else {
			int err = z4_frame_reserve(f, want);
			if (err)
				return err;
			if ((n = z4_in_read_some(s->in, f->raw, want)) < 0)
				return (int)n;
		}
		if ((size_t)n < want)
			s->eof = 1;
		if (n == 0 && want > 0)
			return 0;
		f->raw_size = (size_t)n;
		f->kind = sp->kind == SPAN_GLUE ? Z4_FRAME_GLUE :
		    Z4_FRAME_CHUNK;
		f->flags = 0;
		if (sp->kind == SPAN_REGION)
			z4_region_tensor(sp->region, &f->tensor);
		else if (sp->kind == SPAN_TENSOR)
			f->tensor = *sp->tensor;
		f->chunk_offset = s->pos - sp->begin;
		s->pos += (uint64_t)n;
		sp->emitted = 1;
		return 1;
	}
	return 0;
}

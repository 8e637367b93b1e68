/*
 * info.c - the z4info report: a row per tensor, then glue, index and
 * totals, as a table or as JSON.  Frames are read without decoding their
 * payloads, so this is quick on any size of file; z4cat -t verifies.
 * With planes (-v), payloads are decoded to measure each plane's order-0
 * entropy beside what its coder made of it.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "util.h"

/* One plane of a tensor, summed over its chunks. */
struct plane_row {
	uint64_t raw, coded;
	double h0_bits;		/* order-0 entropy of each chunk's plane */
};

struct row {
	struct z4_tensor tensor;
	uint64_t original, coded;
	unsigned nplane;
	struct plane_row plane[Z4_PLANE_MAX];
	unsigned coders;		/* bit per coder ID */
	unsigned refs;			/* REF frames among its frames */
	char xforms[128];
	int open;
};

static double
ratio(uint64_t original, uint64_t coded)
{
	return coded ? (double)original / (double)coded : 0.0;
}

/* "planes+rans/stored": transforms, then coders; "ref" for repeats. */
static void
chain(const struct row *r, char *buf, size_t size)
{
	char coders[64] = "";
	size_t n = 0;

	for (unsigned id = 0; id < Z4_CODER_COUNT; id++)
		if (r->coders & 1u << id)
			n += (size_t)snprintf(coders + n, sizeof coders - n,
			    "%s%s", n ? "/" : "", z4_coder_name(id));
	snprintf(buf, size, "%s%s%s%s%s", r->refs ? "ref" : "",
	    r->refs && (r->xforms[0] || n) ? "," : "", r->xforms,
	    r->xforms[0] && n ? "+" : "", coders);
}

static void
shape(const struct z4_tensor *t, char *buf, size_t size, int json)
{
	size_t n = 0;
	if (t->flags & Z4_TENSOR_SHAPE_UNKNOWN) {
		snprintf(buf, size, json ? "null" : "-");
		return;
	}
	n += (size_t)snprintf(buf, size, "[");
	for (unsigned i = 0; i < t->ndim && n < size; i++)
		n += (size_t)snprintf(buf + n, size - n, "%s%" PRIu64,
		    i ? (json ? "," : "x") : "", t->shape[i]);
	if (n < size)
		snprintf(buf + n, size - n, "]");
}

/* A string as a JSON literal, escaped; free() the result. */
static char *
json_literal(const char *p, size_t n)
{
	json_t *v = json_stringn(p, n);
	char *s = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;
	json_decref(v);
	return s;
}

static double
entropy_bits(const uint8_t *p, size_t n)
{
	uint64_t c[256] = { 0 };
	double h = 0;
	for (size_t i = 0; i < n; i++)
		c[p[i]]++;
	for (unsigned s = 0; s < 256; s++)
		if (c[s])
			h -= (double)c[s] * log2((double)c[s] / (double)n);
	return h;
}

/* Per-plane lines: raw and coded bytes, bits per element, entropy. */
static void
print_planes(const struct row *r, int json)
{
	unsigned w = z4_dtype_width(r->tensor.dtype);
	double elems = (double)r->original / (w ? w : 1);

	for (unsigned k = 0; k < r->nplane; k++) {
		const struct plane_row *p = &r->plane[k];
		double bpe = elems ? 8.0 * (double)p->coded / elems : 0;
		double h0 = elems ? p->h0_bits / elems : 0;
		if (json)
			printf("%s{\"raw\": %" PRIu64 ", \"coded\": %" PRIu64
			    ", \"bits_per_element\": %.4f, \"entropy_bits_per_"
			    "element\": %.4f}", k ? ", " : "", p->raw, p->coded,
			    bpe, h0);
		else
			printf("%12" PRIu64 " %12" PRIu64 " %7.3f    plane %u: "
			    "%.3f bits/element, order-0 entropy %.3f\n", p->raw,
			    p->coded, ratio(p->raw, p->coded), k, bpe, h0);
	}
}

/*
 * Per-plane totals over the tensors of one dtype and transform chain:
 * what -v prints at the end, so that each plane's cost over the whole
 * file can be read beside its entropy.
 */
#define TOTALS_MAX 32

static struct row totals[TOTALS_MAX];
static unsigned ntotals;

static void
add_total(const struct row *r)
{
	unsigned i;
	for (i = 0; i < ntotals; i++)
		if (totals[i].tensor.dtype == r->tensor.dtype &&
		    strcmp(totals[i].xforms, r->xforms) == 0)
			break;
	if (i == TOTALS_MAX)
		return;
	struct row *t = &totals[i];
	if (i == ntotals) {
		memset(t, 0, sizeof *t);
		t->tensor.dtype = r->tensor.dtype;
		memcpy(t->xforms, r->xforms, sizeof t->xforms);
		ntotals++;
	}
	t->original += r->original;
	t->coded += r->coded;
	t->coders |= r->coders;
	t->refs++;		/* here: the number of tensors */
	if (r->nplane > t->nplane)
		t->nplane = r->nplane;
	for (unsigned k = 0; k < r->nplane; k++) {
		t->plane[k].raw += r->plane[k].raw;
		t->plane[k].coded += r->plane[k].coded;
		t->plane[k].h0_bits += r->plane[k].h0_bits;
	}
}

static void print_planes(const struct row *r, int json);

static void
print_totals(int json)
{
	for (unsigned i = 0; i < ntotals; i++) {
		const struct row *t = &totals[i];
		if (json) {
			printf("%s{\"dtype\": \"%s\", \"chain\": \"%s\", "
			    "\"tensors\": %u, \"original\": %" PRIu64
			    ", \"coded\": %" PRIu64 ", \"planes\": [", i ? ", " :
			    "", z4_dtype_name(t->tensor.dtype), t->xforms,
			    t->refs, t->original, t->coded);
			print_planes(t, json);
			printf("]}");
			continue;
		}
		printf("%12" PRIu64 " %12" PRIu64 " %7.3f  %-7s %-15s %-12s "
		    "(all %u tensors with this chain)\n", t->original, t->coded,
		    ratio(t->original, t->coded), z4_dtype_name(t->tensor.dtype),
		    "-", t->xforms[0] ? t->xforms : "-", t->refs);
		print_planes(t, json);
	}
}

static void
print_row(const struct row *r, int json, int *first)
{
	if (verbosity >= 2 && r->refs == 0)
		add_total(r);
	char ch[256], sh[256];
	chain(r, ch, sizeof ch);
	shape(&r->tensor, sh, sizeof sh, json);
	if (json) {
		char *s = json_literal(r->tensor.name, r->tensor.name_len);
		printf("%s\n    {\"name\": %s, \"dtype\": \"%s\", "
		    "\"shape\": %s, \"original\": %" PRIu64 ", \"coded\": %"
		    PRIu64 ", \"ratio\": %.4f, \"chain\": \"%s\"",
		    *first ? "" : ",", s ? s : "null",
		    z4_dtype_name(r->tensor.dtype), sh, r->original, r->coded,
		    ratio(r->original, r->coded), ch);
		if (verbosity >= 2) {
			printf(", \"planes\": [");
			print_planes(r, json);
			printf("]");
		}
		printf("}");
		free(s);
		*first = 0;
		return;
	}
	printf("%12" PRIu64 " %12" PRIu64 " %7.3f  %-7s %-15s %-12s %s\n",
	    r->original, r->coded, ratio(r->original, r->coded),
	    z4_dtype_name(r->tensor.dtype), sh, ch, r->tensor.name);
	if (verbosity >= 2)
		print_planes(r, json);
}

/* An archive member: its bytes, and what its frames cost. */
struct member_row {
	char name[Z4_NAME_MAX + 1];
	size_t name_len;
	uint64_t size, seen, coded;
	int open;
};

static void
print_member(const struct member_row *m, int json, int *first)
{
	if (json) {
		char *s = json_literal(m->name, m->name_len);
		printf("%s\n    {\"member\": %s, \"original\": %" PRIu64
		    ", \"coded\": %" PRIu64 ", \"ratio\": %.4f}",
		    *first ? "" : ",", s ? s : "null", m->size, m->coded,
		    ratio(m->size, m->coded));
		free(s);
		*first = 0;
		return;
	}
	printf("%12" PRIu64 " %12" PRIu64 " %7.3f  %-7s %-15s %-12s %s\n",
	    m->size, m->coded, ratio(m->size, m->coded), "member", "-", "-",
	    m->name);
}

/* Members open at their MEMBER frame and end with their last byte. */
static void
member_account(struct member_row *m, const struct z4_frame *f)
{
	if (f->kind == Z4_FRAME_MEMBER) {
		memcpy(m->name, f->tensor.name, f->tensor.name_len + 1);
		m->name_len = f->tensor.name_len;
		m->size = f->member_size;
		m->seen = 0;
		m->coded = f->coded_bytes;
		m->open = 1;
		return;
	}
	if (!m->open)
		return;
	m->seen += f->raw_size;
	m->coded += f->coded_bytes;
}

/* Add one frame to its tensor's row; print rows as tensors end. */
static void
account(struct row *r, struct row *glue, const struct z4_frame *f, int json,
    int *first)
{
	if (f->kind == Z4_FRAME_MEMBER)
		return;
	int tensor = f->kind == Z4_FRAME_CHUNK || f->kind == Z4_FRAME_REF;
	int same = tensor && r->open &&
	    f->chunk_offset != 0 && z4_tensor_same(&r->tensor, &f->tensor);
	if (r->open && !same) {
		print_row(r, json, first);
		r->open = 0;
	}
	struct row *to = glue;
	if (tensor) {
		to = r;
		if (!r->open) {
			memset(r, 0, sizeof *r);
			r->tensor = f->tensor;
			r->open = 1;
		}
	}
	/* A tensor's chain is its first frame's; glue's the first it has. */
	if ((tensor && to->original == 0 && to->refs == 0) ||
	    (!tensor && !to->xforms[0])) {
		size_t n = 0;
		for (unsigned i = 0; i < f->nxform; i++)
			n += (size_t)snprintf(to->xforms + n,
			    sizeof to->xforms - n, "%s%s", i ? "+" : "",
			    z4_xform_name(f->xform[i].id));
	}
	to->original += f->raw_size;
	to->coded += f->coded_bytes;
	to->refs += f->kind == Z4_FRAME_REF;
	if (f->nplane > to->nplane)
		to->nplane = f->nplane;
	for (unsigned i = 0; i < f->nplane; i++) {
		const struct z4_plane *p = &f->plane[i];
		to->coders |= 1u << p->coder;
		to->plane[i].raw += p->raw_size;
		to->plane[i].coded += p->coded_size;
		if (verbosity >= 2)
			to->plane[i].h0_bits += entropy_bits(p->raw,
			    p->raw_size);
	}
}

int
run_info(const char *path, int json, struct z4_ref *ref, struct failure *fl)
{
	struct z4_in in;
	struct z4_frame f;
	struct z4_reader *r = NULL;
	struct z4_stream_stats st;
	struct row *row = calloc(2, sizeof *row), *glue = row + 1;
	struct member_row *member = calloc(1, sizeof *member);
	int err, ret, first = 1;

	fl->file = path;
	fl->where[0] = '\0';
	int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY);
	if (fd < 0)
		return (free(row), free(member), Z4_E_IO);
	z4_frame_init(&f);
	if (row == NULL || member == NULL || (err = z4_in_init(&in, fd)) != 0)
		return (free(row), free(member), Z4_E_NOMEM);
	ntotals = 0;
	in.ref = ref;
	if ((err = z4_reader_new(&r, &in,
	    verbosity >= 2 ? Z4_READ_PLANES : Z4_READ_NODECODE)))
		goto out;
	if (json) {
		char *s = json_literal(shown(path), strlen(shown(path)));
		printf("{\"file\": %s, \"tensors\": [", s ? s : "null");
		free(s);
	} else {
		printf("%12s %12s %7s  %-7s %-15s %-12s %s\n", "original",
		    "coded", "ratio", "dtype", "shape", "chain", "tensor");
	}
	while ((ret = z4_reader_next(r, &f)) > 0) {
		if (ret != 1)
			continue;
		account(row, glue, &f, json, &first);
		member_account(member, &f);
		if (member->open && member->seen >= member->size) {
			if (row->open)
				print_row(row, json, &first);
			row->open = 0;
			print_member(member, json, &first);
			member->open = 0;
		}
	}
	if (ret < 0) {
		err = ret;
		snprintf(fl->where, sizeof fl->where, "%s",
		    z4_reader_where(r));
		if (!json)
			fflush(stdout);
		goto out;
	}
	if (row->open)
		print_row(row, json, &first);
	z4_reader_stats(r, &st);
	uint64_t index = st.index_bytes + (uint64_t)st.streams * 16;
	if (json) {
		if (verbosity >= 2) {
			printf("\n  ], \"totals\": [");
			print_totals(json);
		}
		printf("\n  ], \"streams\": %u, \"glue\": {\"original\": %"
		    PRIu64 ", \"coded\": %" PRIu64 "}, \"index\": {\"coded\": %"
		    PRIu64 "}, \"original\": %" PRIu64 ", \"coded\": %" PRIu64
		    ", \"ratio\": %.4f}\n", st.streams, glue->original,
		    glue->coded, index, st.original_size, st.stream_size,
		    ratio(st.original_size, st.stream_size));
	} else {
		char ch[256];
		if (verbosity >= 2)
			print_totals(json);
		chain(glue, ch, sizeof ch);
		printf("%12" PRIu64 " %12" PRIu64 " %7.3f  %-7s %-15s %-12s %s\n",
		    glue->original, glue->coded,
		    ratio(glue->original, glue->coded), "-", "-", ch,
		    "(glue: headers, padding, opaque bytes)");
		printf("%12s %12" PRIu64 " %7s  %-7s %-15s %-12s %s\n", "0",
		    index, "-", "-", "-", "-", "(stream headers, index, trailer)");
		printf("%12" PRIu64 " %12" PRIu64 " %7.3f  %-7s %-15s %-12s "
		    "(total, %u stream%s)\n", st.original_size, st.stream_size,
		    ratio(st.original_size, st.stream_size), "-", "-", "-",
		    st.streams, st.streams == 1 ? "" : "s");
	}
out:
	z4_reader_free(r);
	z4_frame_release(&f);
	z4_in_release(&in);
	if (fd > 2)
		close(fd);
	free(row);
	free(member);
	return err;
}

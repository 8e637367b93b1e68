/*
 * frame.c - one frame: coding its planes, writing it, reading it back.
 *
 * Reading trusts nothing: the header checksum is verified before any
 * field is used, every size is checked against its limit before anything
 * is allocated, the meta must be consumed exactly, every coder checks the
 * payload it is given as hostile input, and the decoded bytes must match
 * their checksum.
 */
#include <sys/mman.h>
#include <stdlib.h>

#define XXH_STATIC_LINKING_ONLY
#include "hash.h"

#include "internal.h"

/* The Ndim byte of tensor fields from 0.6 on. */
#define NDIM_COUNT 0x0fu
#define NDIM_RESERVED 0x70u
#define NDIM_SHAPE_UNKNOWN 0x80u

/* The Coder byte of a plane from 0.6 on. */
#define CODER_ID 0x0fu
#define CODER_RESERVED 0x70u
#define CODER_SAME_SIZE 0x80u	/* Plane_Raw_Size is the plane before's */

void
z4_frame_init(struct z4_frame *f)
{
	memset(f, 0, sizeof *f);
}

void
z4_frame_release(struct z4_frame *f)
{
	free(f->raw);
	free(f->scratch);
	free(f->stage.rbuf);
	free(f->refbuf);
	for (unsigned i = 0; i < Z4_CODER_COUNT; i++) {
		const struct z4_coder *c = z4_coder_get(i);
		if (c->free_state)
			c->free_state(f->coder_state[i]);
	}
	for (unsigned i = 0; i < Z4_PLANE_MAX; i++) {
		free(f->plane[i].rbuf);
		free(f->plane[i].cbuf);
	}
	z4_frame_init(f);
}

/*
 * Buffers of a megabyte or more start on a 2 MiB boundary and are
 * offered huge pages.  Each frame in flight holds a few buffers of up to
 * a chunk's size, and their first touch, a fault every 4 KiB, was a
 * third of the time taken to decode a 32 MiB pruned checkpoint and 40%
 * of that to compress it.  The part offered is the size rounded to the
 * nearest 2 MiB, so a buffer that would end a little into a huge page
 * takes that page's tail in small pages rather than a whole huge page.
 */
#define HUGE_PAGE ((size_t)2 << 20)

static void *
alloc_huge(size_t n, size_t *size)
{
	size_t huge = (n + HUGE_PAGE / 2) & ~(HUGE_PAGE - 1);
	void *p;

	*size = n > huge ? n : huge;
	if (posix_memalign(&p, HUGE_PAGE, *size))
		return NULL;
#ifdef MADV_HUGEPAGE
	(void)madvise(p, huge, MADV_HUGEPAGE);	/* advice: may be refused */
#endif
	return p;
}

/* Make *p hold n bytes, keeping the *cap it held. */
static int
grow(uint8_t **p, size_t *cap, size_t n)
{
	if (n <= *cap && *p != NULL)
		return 0;
	if (n < HUGE_PAGE / 2) {
		uint8_t *q = realloc(*p, n ? n : 1);
		if (q == NULL)
			return Z4_E_NOMEM;
		*p = q;
		*cap = n;
		return 0;
	}
	size_t size;
	uint8_t *q = alloc_huge(n, &size);
	if (q == NULL)
		return Z4_E_NOMEM;
	if (*p != NULL)
		memcpy(q, *p, *cap);
	free(*p);
	*p = q;
	*cap = size;
	return 0;
}

int
z4_frame_reserve(struct z4_frame *f, size_t n)
{
	return grow(&f->raw, &f->raw_cap, n);
}

int
z4_frame_reserve_scratch(struct z4_frame *f, size_t n)
{
	return grow(&f->scratch, &f->scratch_cap, n);
}

int
z4_frame_reserve_ref(struct z4_frame *f, size_t n)
{
	return grow(&f->refbuf, &f->ref_cap, n);
}

int
z4_plane_reserve_raw(struct z4_plane *p, size_t n)
{
	return grow(&p->rbuf, &p->rcap, n);
}

int
z4_plane_reserve_coded(struct z4_plane *p, size_t n)
{
	return grow(&p->cbuf, &p->ccap, n);
}

int
z4_plane_copy(struct z4_plane *p, const uint8_t *src, size_t n)
{
	int err = z4_plane_reserve_raw(p, n);
	if (err)
		return err;
	if (n)
		memcpy(p->rbuf, src, n);
	p->raw = p->rbuf;
	p->raw_size = n;
	return 0;
}

void
z4_name_base_set(struct z4_name_base *base, const char *name, size_t len)
{
	assert(len <= Z4_NAME_MAX);
	memcpy(base->name, name, len);
	base->len = len;
	base->unknown = 0;
}

/* Shape, with the unknown-shape flag in the top bit of Ndim from 0.6. */
static int
shape_put(struct z4_buf *b, const struct z4_tensor *t, unsigned minor)
{
	int unknown = (t->flags & Z4_TENSOR_SHAPE_UNKNOWN) != 0;
	int err = z4_buf_add8(b, t->dtype);
	if (minor < Z4_MINOR_COMPACT) {
		err = err ? err : z4_buf_add8(b, t->flags);
		err = err ? err : z4_buf_add8(b, t->ndim);
	} else {
		err = err ? err : z4_buf_add8(b, t->ndim |
		    (unknown ? NDIM_SHAPE_UNKNOWN : 0));
	}
	for (unsigned i = 0; i < t->ndim && !err; i++)
		err = z4_buf_addv(b, t->shape[i]);
	return err;
}

int
z4_tensor_put(struct z4_buf *b, const struct z4_tensor *t,
    struct z4_name_base *base, unsigned minor)
{
	int err;

	if (minor >= Z4_MINOR_COMPACT) {
		/* The bytes it shares with the name before, then the rest. */
		size_t shared = 0;
		while (shared < t->name_len && shared < base->len &&
		    t->name[shared] == base->name[shared])
			shared++;
		err = z4_buf_addv(b, shared);
		err = err ? err : z4_buf_addv(b, t->name_len - shared);
		err = err ? err : z4_buf_add(b, t->name + shared,
		    t->name_len - shared);
		z4_name_base_set(base, t->name, t->name_len);
	} else {
		err = z4_buf_add16(b, (unsigned)t->name_len);
		err = err ? err : z4_buf_add(b, t->name, t->name_len);
	}
	return err ? err : shape_put(b, t, minor);
}

/* The name as 0.2 to 0.5 lay it out: its size and all of it. */
static int
name_parse_05(struct z4_cursor *c, struct z4_tensor *t)
{
	t->name_len = z4_cur16(c);
	if (t->name_len > Z4_NAME_MAX)
		return Z4_E_LIMIT;
	const uint8_t *name = z4_cur_bytes(c, t->name_len);
	if (!c->ok)
		return Z4_E_CORRUPT;
	memcpy(t->name, name, t->name_len);
	return 0;
}

/* The bytes shared with base, then the rest. */
static int
name_parse(struct z4_cursor *c, struct z4_tensor *t,
    const struct z4_name_base *base)
{
	uint64_t shared = z4_curv(c), rest = z4_curv(c);
	if (!c->ok)
		return Z4_E_CORRUPT;
	if (shared > Z4_NAME_MAX || rest > Z4_NAME_MAX - shared)
		return Z4_E_LIMIT;
	if (!base->unknown && shared > base->len)
		return Z4_E_CORRUPT;
	const uint8_t *suffix = z4_cur_bytes(c, (size_t)rest);
	if (!c->ok)
		return Z4_E_CORRUPT;
	if (base->unknown)
		memset(t->name, '?', (size_t)shared);
	else
		memcpy(t->name, base->name, (size_t)shared);
	memcpy(t->name + shared, suffix, (size_t)rest);
	t->name_len = (size_t)(shared + rest);
	return 0;
}

/* A MEMBER frame's name: its size, a varint from 0.6, and all of it. */
static int
member_name_parse(struct z4_cursor *c, struct z4_tensor *t, unsigned minor)
{
	int err = 0;
	if (minor < Z4_MINOR_COMPACT) {
		err = name_parse_05(c, t);
	} else {
		uint64_t len = z4_curv(c);
		const uint8_t *name = NULL;
		if (c->ok && len <= Z4_NAME_MAX)
			name = z4_cur_bytes(c, (size_t)len);
		if (!c->ok) {
			err = Z4_E_CORRUPT;
		} else if (len > Z4_NAME_MAX) {
			err = Z4_E_LIMIT;
		} else {
			t->name_len = (size_t)len;
			memcpy(t->name, name, t->name_len);
		}
	}
	if (!err)
		t->name[t->name_len] = '\0';
	return err;
}

/* Parse tensor fields; on a bad field returns its error, else 0. */
int
z4_tensor_parse(struct z4_cursor *c, struct z4_tensor *t,
    struct z4_name_base *base, unsigned minor)
{
	int compact = minor >= Z4_MINOR_COMPACT;
	int err = compact ? name_parse(c, t, base) : name_parse_05(c, t);
	if (err)
		return err;
	t->name[t->name_len] = '\0';
	if (compact && !base->unknown)
		z4_name_base_set(base, t->name, t->name_len);
	t->dtype = z4_cur8(c);
	if (compact) {
		unsigned ndim = z4_cur8(c);
		if (ndim & NDIM_RESERVED)
			return Z4_E_RESERVED;
		t->flags = ndim & NDIM_SHAPE_UNKNOWN ?
		    Z4_TENSOR_SHAPE_UNKNOWN : 0;
		t->ndim = ndim & NDIM_COUNT;
	} else {
		t->flags = z4_cur8(c);
		t->ndim = z4_cur8(c);
	}
	if (t->dtype >= Z4_DT_COUNT)
		return Z4_E_RESERVED;
	if (t->flags & ~(unsigned)Z4_TENSOR_SHAPE_UNKNOWN)
		return Z4_E_RESERVED;
	if (t->ndim > Z4_NDIM_MAX)
		return Z4_E_LIMIT;
	if ((t->flags & Z4_TENSOR_SHAPE_UNKNOWN) && t->ndim != 0)
		return Z4_E_CORRUPT;
	for (unsigned i = 0; i < t->ndim; i++)
		t->shape[i] = z4_curv(c);
	return 0;
}

int
z4_tensor_same(const struct z4_tensor *a, const struct z4_tensor *b)
{
	if (a->name_len != b->name_len || a->dtype != b->dtype ||
	    a->flags != b->flags || a->ndim != b->ndim)
		return 0;
	if (memcmp(a->name, b->name, a->name_len) != 0)
		return 0;
	for (unsigned i = 0; i < a->ndim; i++)
		if (a->shape[i] != b->shape[i])
			return 0;
	return 1;
}

static int
body_put(struct z4_buf *b, const struct z4_frame *f)
{
	int err = z4_buf_add8(b, f->nxform);
	for (unsigned i = 0; i < f->nxform && !err; i++) {
		err = z4_buf_add8(b, f->xform[i].id);
		err = err ? err : z4_buf_add8(b, (unsigned)f->xform[i].param_size);
		err = err ? err : z4_buf_add(b, f->xform[i].param,
		    f->xform[i].param_size);
	}
	err = err ? err : z4_buf_add8(b, f->nplane);
	for (unsigned i = 0; i < f->nplane && !err; i++) {
		const struct z4_plane *p = &f->plane[i];
		/* Sizes that something else already says are left out. */
		int same = i > 0 && p->raw_size == p[-1].raw_size;
		err = z4_buf_add8(b, p->coder | (same ? CODER_SAME_SIZE : 0));
		if (!err && f->nxform > 0 && !same)
			err = z4_buf_addv(b, p->raw_size);
		if (!err && p->coder != Z4_CODER_STORED)
			err = z4_buf_addv(b, (uint32_t)p->coded_size);
	}
	return err;
}

/* A plane's coder and sizes, as 0.6 and later lay them out. */
static int
plane_parse(struct z4_cursor *c, struct z4_frame *f, unsigned i,
    const struct z4_frame_head *h, uint64_t *raw, uint64_t *csize)
{
	unsigned coder = z4_cur8(c);
	int same = (coder & CODER_SAME_SIZE) != 0;
	if (!c->ok)
		return Z4_E_CORRUPT;
	if (coder & CODER_RESERVED)
		return Z4_E_RESERVED;
	if (z4_coder_get(coder & CODER_ID) == NULL)
		return Z4_E_CODER;
	if (same && (i == 0 || f->nxform == 0))
		return Z4_E_CORRUPT;
	f->plane[i].coder = coder & CODER_ID;
	*raw = f->nxform == 0 ? h->raw_size :
	    same ? f->plane[i - 1].raw_size : z4_curv(c);
	*csize = f->plane[i].coder == Z4_CODER_STORED ? *raw : z4_curv(c);
	return 0;
}

static int
body_parse(struct z4_cursor *c, struct z4_frame *f,
    const struct z4_frame_head *h, unsigned minor)
{
	f->nxform = z4_cur8(c);
	if (f->nxform > Z4_XFORM_MAX)
		return Z4_E_LIMIT;
	for (unsigned i = 0; i < f->nxform; i++) {
		struct z4_xform_step *s = &f->xform[i];
		s->id = z4_cur8(c);
		s->param_size = z4_cur8(c);
		if (s->param_size > Z4_PARAM_MAX)
			return Z4_E_LIMIT;
		const uint8_t *p = z4_cur_bytes(c, s->param_size);
		if (!c->ok)
			return Z4_E_CORRUPT;
		memcpy(s->param, p, s->param_size);
		if (z4_xform_get(s->id) == NULL)
			return Z4_E_XFORM;
	}
	f->nplane = z4_cur8(c);
	if (f->nplane == 0 || f->nplane > Z4_PLANE_MAX)
		return c->ok ? Z4_E_LIMIT : Z4_E_CORRUPT;
	size_t coded = 0, planes_raw = 0;
	for (unsigned i = 0; i < f->nplane; i++) {
		struct z4_plane *p = &f->plane[i];
		uint64_t raw, csize;
		if (minor >= Z4_MINOR_COMPACT) {
			int err = plane_parse(c, f, i, h, &raw, &csize);
			if (err)
				return err;
		} else {
			p->coder = z4_cur8(c);
			raw = z4_curv(c);
			csize = z4_curv(c);
		}
		if (!c->ok)
			return Z4_E_CORRUPT;
		if (z4_coder_get(p->coder) == NULL)
			return Z4_E_CODER;
		if (raw > Z4_CHUNK_MAX || csize > Z4_PAYLOAD_MAX)
			return Z4_E_LIMIT;
		p->raw_size = (size_t)raw;
		p->coded_size = (size_t)csize;
		if (p->coder == Z4_CODER_STORED &&
		    p->coded_size != p->raw_size)
			return Z4_E_CORRUPT;
		coded += p->coded_size;
		planes_raw += p->raw_size;
	}
	if (coded != h->payload_size || planes_raw > Z4_PLANES_RAW_MAX)
		return coded != h->payload_size ? Z4_E_CORRUPT : Z4_E_LIMIT;
	if (h->kind == Z4_FRAME_END && f->nxform != 0)
		return Z4_E_CORRUPT;
	if (f->nxform == 0 &&
	    (f->nplane != 1 || f->plane[0].raw_size != h->raw_size))
		return Z4_E_CORRUPT;
	return 0;
}

void
z4_frame_sum(struct z4_frame *f)
{
	f->raw_sum = z4_hash64(f->raw, f->raw_size);
	f->sums_ready = 1;
}

/* A frame header's checksum: the low 32 bits of its XXH3-64. */
static uint32_t
head_hash(const uint8_t *p, size_t n)
{
	return (uint32_t)z4_hash64(p, n);
}

int
z4_frame_write(struct z4_out *out, const struct z4_frame *f,
    const struct z4_frame_head *h, struct z4_name_base *names)
{
	struct z4_buf b = { 0 };
	size_t payload = 0;
	int err;

	unsigned nplane = f->kind == Z4_FRAME_REF ||
	    f->kind == Z4_FRAME_MEMBER ? 0 : f->nplane;
	for (unsigned i = 0; i < nplane; i++)
		payload += f->plane[i].coded_size;
	assert(f->raw_size <= Z4_CHUNK_MAX && payload <= Z4_PAYLOAD_MAX);
	err = z4_buf_reserve(&b, Z4_FRAME_FIXED_SIZE);
	if (err)
		return err;
	b.len = Z4_FRAME_FIXED_SIZE;
	err = z4_buf_addv(&b, payload);
	err = err ? err : z4_buf_addv(&b, f->raw_size);
	if (f->kind == Z4_FRAME_CHUNK || f->kind == Z4_FRAME_REF) {
		err = err ? err : z4_tensor_put(&b, &f->tensor, names,
		    Z4_FORMAT_MINOR);
		err = err ? err : z4_buf_addv(&b, f->chunk_offset);
	}
	if (f->kind == Z4_FRAME_MEMBER) {
		z4_name_base_set(names, "", 0);
		err = err ? err : z4_buf_addv(&b, f->tensor.name_len);
		err = err ? err : z4_buf_add(&b, f->tensor.name,
		    f->tensor.name_len);
		err = err ? err : z4_buf_addv(&b, f->member_size);
	} else if (f->kind == Z4_FRAME_REF) {
		err = err ? err : z4_buf_addv(&b, h->ref_target);
	} else if (f->kind == Z4_FRAME_END) {
		err = err ? err : z4_buf_addv(&b, h->original_size);
		err = err ? err : z4_buf_add64(&b, h->original_checksum);
		err = err ? err : z4_buf_addv(&b, h->frame_count);
		err = err ? err : z4_buf_addv(&b, h->entry_count);
	}
	if (f->kind != Z4_FRAME_REF && f->kind != Z4_FRAME_MEMBER)
		err = err ? err : body_put(&b, f);
	if (!err && b.len - Z4_FRAME_FIXED_SIZE > Z4_META_MAX)
		err = Z4_E_LIMIT;
	if (err)
		goto out;
	b.p[0] = (uint8_t)f->kind;
	b.p[1] = (uint8_t)f->flags;
	z4_put16(b.p + 2, (uint16_t)(b.len - Z4_FRAME_FIXED_SIZE));
	/* A frame coded on a thread was checksummed there. */
	z4_put64(b.p + 4, f->sums_ready ? f->raw_sum :
	    z4_hash64(f->raw, f->raw_size));
	err = z4_buf_add32(&b, head_hash(b.p, b.len));
	err = err ? err : z4_out_write(out, b.p, b.len);
	for (unsigned i = 0; i < nplane && !err; i++)
		err = z4_out_write(out, f->plane[i].coded,
		    f->plane[i].coded_size);
out:
	z4_buf_release(&b);
	return err;
}

/*
 * The fixed fields and the sizes: from 0.6 the sizes are varints at the
 * start of Meta, before they were fixed fields.  Leaves c past them.
 */
static int
fixed_read(struct z4_in *in, uint8_t *head, struct z4_frame_head *h,
    struct z4_cursor *c)
{
	int compact = in->minor >= Z4_MINOR_COMPACT;
	size_t fixed = compact ? Z4_FRAME_FIXED_SIZE : Z4_FRAME_FIXED_SIZE_05;
	int err;

	if ((err = z4_in_read(in, head, fixed)))
		return err;
	h->meta_size = z4_get16(head + 2);
	h->head_size = fixed + h->meta_size + 4;
	if ((err = z4_in_read(in, head + fixed, h->meta_size + 4)))
		return err;
	if (head_hash(head, h->head_size - 4) !=
	    z4_get32(head + h->head_size - 4))
		return Z4_E_HEADER_CHECKSUM;
	h->kind = head[0];
	h->flags = head[1];
	z4_cursor_init(c, head + fixed, h->meta_size);
	if (compact) {
		uint64_t payload = z4_curv(c), raw = z4_curv(c);
		if (!c->ok)
			return Z4_E_CORRUPT;
		if (raw > Z4_CHUNK_MAX || payload > Z4_PAYLOAD_MAX)
			return Z4_E_LIMIT;
		h->payload_size = (size_t)payload;
		h->raw_size = (size_t)raw;
		h->raw_checksum = z4_get64(head + 4);
	} else {
		h->payload_size = z4_get32(head + 4);
		h->raw_size = z4_get32(head + 8);
		h->raw_checksum = z4_get64(head + 12);
	}
	return 0;
}

/* The END frame's totals, varints from 0.6 and fixed before. */
static void
end_parse(struct z4_cursor *c, struct z4_frame_head *h, unsigned minor)
{
	if (minor >= Z4_MINOR_COMPACT) {
		h->original_size = z4_curv(c);
		h->original_checksum = z4_cur64(c);
		uint64_t frames = z4_curv(c), entries = z4_curv(c);
		if (frames > UINT32_MAX || entries > UINT32_MAX)
			c->ok = 0;
		h->frame_count = (uint32_t)frames;
		h->entry_count = (uint32_t)entries;
	} else {
		h->original_size = z4_cur64(c);
		h->original_checksum = z4_cur64(c);
		h->frame_count = z4_cur32(c);
		h->entry_count = z4_cur32(c);
	}
}

/* Read the fixed fields, meta and header checksum; parse and check them. */
static int
head_read(struct z4_in *in, struct z4_frame *f, struct z4_frame_head *h)
{
	uint8_t head[Z4_FRAME_FIXED_SIZE_05 + Z4_META_MAX + 4];
	struct z4_cursor c;
	int err;

	if ((err = fixed_read(in, head, h, &c)))
		return err;
	if (h->flags & ~(unsigned)Z4_FRAME_KEEP ||
	    (h->flags && h->kind != Z4_FRAME_GLUE &&
	    h->kind != Z4_FRAME_CHUNK && h->kind != Z4_FRAME_REF))
		return Z4_E_RESERVED;
	if (h->raw_size > Z4_CHUNK_MAX || h->payload_size > Z4_PAYLOAD_MAX)
		return Z4_E_LIMIT;
	f->kind = h->kind;
	f->flags = h->flags;
	switch (h->kind) {
	case Z4_FRAME_GLUE:
		break;
	case Z4_FRAME_CHUNK:
	case Z4_FRAME_REF:
		if ((err = z4_tensor_parse(&c, &f->tensor, &in->names,
		    in->minor)))
			return err;
		f->chunk_offset = z4_curv(&c);
		if (f->chunk_offset > INT64_MAX)
			return Z4_E_LIMIT;
		if (h->kind == Z4_FRAME_CHUNK)
			break;
		/* A REF has a target instead of planes, and no payload. */
		h->ref_target = z4_curv(&c);
		f->nxform = f->nplane = 0;
		if (!c.ok || c.pos != c.len || h->payload_size != 0)
			return Z4_E_CORRUPT;
		return 0;
	case Z4_FRAME_MEMBER:
		/* A name and a size: no planes, no payload, no bytes. */
		if ((err = member_name_parse(&c, &f->tensor, in->minor)))
			return err;
		/* Its tensors' names start afresh, so it can be read alone. */
		z4_name_base_set(&in->names, "", 0);
		f->member_size = z4_curv(&c);
		f->tensor.dtype = f->tensor.flags = f->tensor.ndim = 0;
		f->nxform = f->nplane = 0;
		if (!c.ok || c.pos != c.len || h->payload_size != 0 ||
		    h->raw_size != 0 || f->member_size > INT64_MAX)
			return Z4_E_CORRUPT;
		return 0;
	case Z4_FRAME_END:
		end_parse(&c, h, in->minor);
		break;
	default:
		return Z4_E_RESERVED;
	}
	if ((err = body_parse(&c, f, h, in->minor)))
		return err;
	if (!c.ok || c.pos != c.len)
		return Z4_E_CORRUPT;
	return 0;
}

/*
 * Read the payload into the planes' buffers.  It has no checksum of its
 * own: every coder takes hostile input, and the decoded bytes are checked.
 */
static int
payload_read(struct z4_in *in, struct z4_frame *f,
    const struct z4_frame_head *h)
{
	int err = z4_frame_reserve(f, h->raw_size);
	if (err)
		return err;
	f->raw_size = h->raw_size;
	for (unsigned i = 0; i < f->nplane; i++) {
		struct z4_plane *p = &f->plane[i];
		/* A frame without transforms decodes straight into raw. */
		uint8_t *dst = f->raw;
		if (f->nxform > 0) {
			if ((err = z4_plane_reserve_raw(p, p->raw_size)))
				return err;
			dst = p->rbuf;
		}
		p->raw = dst;
		if (p->coder == Z4_CODER_STORED) {
			p->coded = dst;
		} else {
			if ((err = z4_plane_reserve_coded(p, p->coded_size)))
				return err;
			p->coded = p->cbuf;
		}
		if ((err = z4_in_read(in, (uint8_t *)p->coded, p->coded_size)))
			return err;
	}
	return 0;
}

/* Decode every plane, undo the chain, check the decoded bytes. */
static int
payload_decode(struct z4_frame *f, uint64_t raw_checksum)
{
	int err;

	/* The common chain in parts, unless the planes are wanted whole. */
	if (!f->keep_planes && (err = z4_planes_fused(f, raw_checksum)) <= 0)
		return err;

	for (unsigned i = 0; i < f->nplane; i++) {
		struct z4_plane *p = &f->plane[i];
		if (p->coder == Z4_CODER_STORED)
			continue;
		err = z4_coder_get(p->coder)->decode(&f->coder_state[p->coder],
		    (uint8_t *)p->raw, p->raw_size, p->coded, p->coded_size);
		if (err)
			return err;
	}
	if (f->nxform > 0 && (err = z4_chain_decode(f)))
		return err;
	if (z4_hash64(f->raw, f->raw_size) != raw_checksum)
		return Z4_E_CHECKSUM;
	return 0;
}

int
z4_frame_decode_deferred(struct z4_frame *f)
{
	if (!f->deferred)
		return 0;
	f->deferred = 0;
	return payload_decode(f, f->deferred_checksum);
}

int
z4_frame_read(struct z4_in *in, struct z4_frame *f, struct z4_frame_head *h,
    unsigned flags)
{
	f->ref = in->ref;
	f->ref_ready = 0;
	f->deferred = 0;
	f->keep_planes = (flags & Z4_READ_PLANES) != 0;
	f->note[0] = '\0';
	int err = head_read(in, f, h);
	if (err)
		return err;
	f->coded_bytes = h->head_size + h->payload_size;
	if (h->kind == Z4_FRAME_MEMBER) {
		f->raw_size = 0;
		return 0;
	}
	if (h->kind == Z4_FRAME_REF) {
		/* The reader fills in the bytes from the frame repeated. */
		f->raw_size = h->raw_size;
		return z4_frame_reserve(f, h->raw_size);
	}
	if (flags & Z4_READ_NODECODE) {
		f->raw_size = h->raw_size;
		return z4_in_skip(in, h->payload_size);
	}
	if ((err = payload_read(in, f, h)))
		return err;
	if (flags & Z4_READ_DEFER) {
		f->deferred = 1;
		f->deferred_checksum = h->raw_checksum;
		return 0;
	}
	return payload_decode(f, h->raw_checksum);
}

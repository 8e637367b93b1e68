/*
 * internal.h - declarations shared inside libz4, not installed.
 */
#ifndef Z4_INTERNAL_H
#define Z4_INTERNAL_H

#include <assert.h>
#include <string.h>

#include "z4.h"

/* Fixed sizes of the wire structures (z4-frame(5)). */
#define Z4_STREAM_HEADER_SIZE 16
#define Z4_FRAME_FIXED_SIZE 12	/* Frame_Kind .. Raw_Checksum */
#define Z4_FRAME_FIXED_SIZE_05 20	/* with the sizes, before 0.6 */
#define Z4_TRAILER_SIZE 32
#define Z4_META_MAX 65535u
#define Z4_PAYLOAD_MAX (Z4_CHUNK_MAX + 65536u)
#define Z4_INDEX_MAX Z4_CHUNK_MAX	/* an index is coded as one frame */

extern const uint8_t z4_stream_magic[4];
extern const uint8_t z4_trailer_magic[4];

/*
 * Little-endian loads and stores.  On a little-endian host they are one
 * unaligned move each (memcpy is how C says that); elsewhere, bytes.
 */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define Z4_LE_HOST 1
#else
#define Z4_LE_HOST 0
#endif

static inline uint16_t
z4_get16(const uint8_t *p)
{
	uint16_t v;
	if (Z4_LE_HOST) {
		memcpy(&v, p, 2);
		return v;
	}
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t
z4_get32(const uint8_t *p)
{
	uint32_t v;
	if (Z4_LE_HOST) {
		memcpy(&v, p, 4);
		return v;
	}
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static inline uint64_t
z4_get64(const uint8_t *p)
{
	return (uint64_t)z4_get32(p) | (uint64_t)z4_get32(p + 4) << 32;
}

static inline void
z4_put16(uint8_t *p, uint16_t v)
{
	if (Z4_LE_HOST) {
		memcpy(p, &v, 2);
		return;
	}
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void
z4_put32(uint8_t *p, uint32_t v)
{
	if (Z4_LE_HOST) {
		memcpy(p, &v, 4);
		return;
	}
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> 8 * i);
}

static inline void
z4_put64(uint8_t *p, uint64_t v)
{
	z4_put32(p, (uint32_t)v);
	z4_put32(p + 4, (uint32_t)(v >> 32));
}

/* An element of w bytes (1 to 8), little-endian. */
static inline uint64_t
z4_getn(const uint8_t *p, unsigned w)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < w; i++)
		v |= (uint64_t)p[i] << 8 * i;
	return v;
}

static inline void
z4_putn(uint8_t *p, uint64_t v, unsigned w)
{
	for (unsigned i = 0; i < w; i++)
		p[i] = (uint8_t)(v >> 8 * i);
}

/* A growable byte buffer. */
struct z4_buf {
	uint8_t *p;
	size_t len, cap;
};

int z4_buf_reserve(struct z4_buf *b, size_t extra);
/*
 * Room for element n of an array of elements of size bytes at *vp (a
 * pointer to the array pointer) that holds *cap: doubled from 64 when
 * full, *vp and *cap updated.  Z4_E_NOMEM if that fails.
 */
int z4_array_room(void *vp, size_t *cap, size_t n, size_t size);
int z4_buf_add(struct z4_buf *b, const void *p, size_t n);
int z4_buf_add8(struct z4_buf *b, unsigned v);
int z4_buf_add16(struct z4_buf *b, unsigned v);
int z4_buf_add32(struct z4_buf *b, uint32_t v);
int z4_buf_add64(struct z4_buf *b, uint64_t v);
/* An unsigned LEB128 varint, in its shortest form. */
int z4_buf_addv(struct z4_buf *b, uint64_t v);
void z4_buf_release(struct z4_buf *b);

/*
 * A bounds-checked cursor over bytes being parsed.  Once a read runs past
 * the end, ok is 0 and every later read returns zeros, so a parser checks
 * ok once at the end instead of after every field.
 */
struct z4_cursor {
	const uint8_t *p;
	size_t len, pos;
	int ok;
};

void z4_cursor_init(struct z4_cursor *c, const void *p, size_t len);
unsigned z4_cur8(struct z4_cursor *c);
unsigned z4_cur16(struct z4_cursor *c);
uint32_t z4_cur32(struct z4_cursor *c);
uint64_t z4_cur64(struct z4_cursor *c);
/* A varint; not ok if it is longer than 10 bytes or not the shortest. */
uint64_t z4_curv(struct z4_cursor *c);
const uint8_t *z4_cur_bytes(struct z4_cursor *c, size_t n);

/*
 * Planes below this size decode in little time whatever their coding,
 * so levels 7 to 9 code them as small as they can.
 */
#define Z4_SMALL_PLANE (256u << 10)

static inline int
z4_small_plane(int level, size_t n)
{
	return level >= 7 && n < Z4_SMALL_PLANE;
}

/* Order-0 entropy, bits a symbol, of total symbols counted in size bins. */
double z4_entropy(const uint32_t *count, unsigned size, size_t total);
/*
 * Whether RANS is tried on a plane other than a small one at levels 7 to
 * 9 (z4_small_plane): its order-0 size, rans bytes, with 64 bytes for the
 * table and states, under 99% of beat, the bytes stored or packed.
 */
int z4_rans_pays(double rans, double beat);

/*
 * x - from as a sign and a magnitude, and back: from plus or minus mag
 * into *x, 0 if that leaves 0 .. 2^64 - 1.  Index entries and OFFSETS
 * code offsets this way, from where the one before ends.
 */
static inline void
z4_diff(uint64_t x, uint64_t from, int *negative, uint64_t *mag)
{
	*negative = x < from;
	*mag = x < from ? from - x : x - from;
}

static inline int
z4_undiff(uint64_t from, int negative, uint64_t mag, uint64_t *x)
{
	if (negative ? mag > from : mag > UINT64_MAX - from)
		return 0;
	*x = negative ? from - mag : from + mag;
	return 1;
}

/* What a coder is given to code: bytes, level, and their histogram. */
struct z4_code_in {
	const uint8_t *src;
	size_t n;
	int level;
	const uint32_t *count;	/* 256 counts of src's bytes, or NULL */
};

/*
 * An entropy coder of planes: one row of the table in coder.c.  state is
 * the coder's slot in the frame (f->coder_state[id]): contexts it keeps
 * from one call to the next, freed by free_state.
 */
struct z4_coder {
	unsigned id;
	const char *name;
	/* Code a plane into dst (capacity cap); *out gets the coded size. */
	int (*encode)(void **state, uint8_t *dst, size_t cap, size_t *out,
	    const struct z4_code_in *in);
	/* Decode exactly n bytes from the cn coded bytes at src. */
	int (*decode)(void **state, uint8_t *dst, size_t n,
	    const uint8_t *src, size_t cn);
	size_t (*bound)(size_t n);
	void (*free_state)(void *state);
};

extern const struct z4_coder z4_coder_stored, z4_coder_zstd, z4_coder_rans,
    z4_coder_packed;
/* The size PACKED codes in->src to, or SIZE_MAX where it does not apply. */
size_t z4_packed_size(const struct z4_code_in *in);
/*
 * Whether the AVX2 loops may run: the CPU has AVX2, and z4_simd_off,
 * which tests set to check the portable loops, is 0.
 */
int z4_simd_avx2(void);
/* Whether AVX-512 with VBMI may run: the CPU has it, and AVX2 may. */
int z4_simd_avx512(void);
extern int z4_simd_off;

const struct z4_coder *z4_coder_get(unsigned id);

/*
 * A RANS plane decoded a part at a time (z4_planes_fused): begin reads
 * the table and states, next decodes the next n bytes, end checks that
 * the states are back where the encoder started and every word was read.
 * Parts but the last must be whole rounds of states for the SIMD loops,
 * and of an even size where the plane is of digrams (next refuses an odd
 * one).
 */
#define Z4_RANS_STATES_MAX 64
struct z4_rans_run {
	const struct dec_table *table;
	uint32_t x[Z4_RANS_STATES_MAX];
	unsigned nst;
	const uint8_t *p, *end;
	size_t n, done;			/* bytes in the plane, decoded */
};
int z4_rans_begin(void **state, struct z4_rans_run *r, size_t n,
    const uint8_t *src, size_t cn);
int z4_rans_next(struct z4_rans_run *r, uint8_t *dst, size_t n);
int z4_rans_end(const struct z4_rans_run *r);

/*
 * A PACKED plane a part at a time: begin checks it and gives B and S;
 * part unpacks n bytes from byte i, a multiple of 8.
 */
int z4_packed_begin(size_t n, const uint8_t *src, size_t cn, unsigned *b,
    unsigned *s);
void z4_packed_part(uint8_t *dst, const uint8_t *src, size_t i, size_t n,
    unsigned b, unsigned s);

/*
 * Decode a frame whose chain is PLANES, or FOLD then PLANES, with at most
 * one RANS plane, in parts that stay in cache: each part of every plane
 * decoded, merged into the frame's bytes, FOLD undone and hashed at once.
 * Returns 1, having done nothing, for any other frame; 0 or an error
 * otherwise, the same error the transforms undone in turn would give,
 * and the decoded bytes checked against raw_checksum.
 */
int z4_planes_fused(struct z4_frame *f, uint64_t raw_checksum);
/*
 * FOLD's field, from its parameters; FOLD undone on n bytes from src to
 * dst, which may be src.
 */
struct z4_fold_field {
	unsigned w, low, pos;	/* W, L and P */
	uint32_t below;		/* bits L to P - 1 */
};
int z4_fold_parse(const struct z4_xform_step *s, struct z4_fold_field *fl);
int z4_fold_part(const struct z4_fold_field *fl, const uint8_t *src,
    uint8_t *dst, size_t n);

/* Transform wire IDs (z4-frame(5), "Transforms"). */
enum z4_xform_id {
	Z4_XF_PLANES = 1,	/* live bits of each element into byte planes */
	Z4_XF_PALETTE = 2,	/* few distinct values: palette and indices */
	Z4_XF_ZEROS = 3,	/* a mask of non-zero elements, and them */
	Z4_XF_DELTA = 4,	/* the difference from a reference */
	Z4_XF_GRID = 5,		/* integers times a scale per group */
	Z4_XF_ZEROS_REF = 6,	/* a delta's zero mask, split by reference */
	Z4_XF_DELTA_MODEL = 7,	/* floats coded against a reference, modelled */
	Z4_XF_ROWS = 8,		/* rows as their difference from like rows */
	Z4_XF_FOLD = 9,		/* an exponent bit the bits below it tell */
	Z4_XF_OFFSETS = 10,	/* a safetensors header's offsets as differences */
	Z4_XF_BYTE_MODEL = 11,	/* 1-byte integers, modelled in context */
};

/* The transforms that code a chunk against a reference's bytes. */
static inline int
z4_xform_is_delta(unsigned id)
{
	return id == Z4_XF_DELTA || id == Z4_XF_DELTA_MODEL;
}

/*
 * A transform: one row of the registry in xform.c, indexed by wire ID.
 *
 * The planes of a frame form a stack.  Encoding a step replaces the last
 * plane (its input) by the planes the transform makes of it; decoding a
 * step replaces the last inputs() planes by the one plane they were made
 * from, and after the first step of the chain that one plane is the
 * frame's raw bytes.
 *
 * encode: in and n are the input bytes, which the transform must not
 * write; it fills f->plane[first ...] (their rbuf, raw and raw_size),
 * sets f->nplane and the step's parameters.  Returns 0, 1 when the
 * transform does not apply to this input, or a z4_err.
 * decode: from f->plane[first ...] into out (its rbuf, raw, raw_size).
 */
struct z4_xform {
	unsigned id;
	const char *name;
	unsigned (*inputs)(const struct z4_xform_step *step);
	int (*encode)(struct z4_frame *f, struct z4_xform_step *step,
	    const uint8_t *in, size_t n, unsigned first);
	int (*decode)(struct z4_frame *f, const struct z4_xform_step *step,
	    unsigned first, struct z4_plane *out);
};

/*
 * Decoding a frame whose chain starts with DELTA: its reference's bytes,
 * fetched into f->refbuf and checked against the 128-bit check the step
 * records (once per frame; later steps may need them too).
 */
int z4_delta_reference(struct z4_frame *f);
/*
 * DELTA and DELTA-MODEL share their last fields (hash, source, offset):
 * check them; fill them for the frame's reference; and whether a frame
 * is coded against an earlier frame of its stream (Source 1).
 */
int z4_delta_check(const struct z4_xform_step *s);
void z4_delta_describe(struct z4_frame *f, struct z4_xform_step *s);
int z4_delta_internal(const struct z4_frame *f);

/* Apply x to the frame's last plane; 1 if it does not apply. */
int z4_chain_push(struct z4_frame *f, const struct z4_xform *x);
/* Undo the frame's chain: its planes become its raw bytes. */
int z4_chain_decode(struct z4_frame *f);

/*
 * z4_xform_planes_tight drops unused top exponent bits only for chunks
 * of this many elements or more; smaller ones pay more in tables.  With
 * tables of roots that is 1024, where it was 4096.
 */
#define Z4_TIGHT_MIN 1024

extern const struct z4_xform z4_xform_planes, z4_xform_planes_tight,
    z4_xform_palette,
    z4_xform_zeros, z4_xform_delta, z4_xform_delta_sub, z4_xform_grid_row,
    z4_xform_grid_128, z4_xform_grid_64, z4_xform_grid_32,
    z4_xform_zeros_ref,
    z4_xform_delta_model, z4_xform_byte_model,
    z4_xform_rows, z4_xform_fold, z4_xform_offsets;

const struct z4_xform *z4_xform_get(unsigned id);

/*
 * The splitter of a first pass that needs only the frames' sizes: it
 * hands out frames with no bytes, for an input of size bytes, and never
 * reads past the containers' headers.
 */
void z4_split_sizes_only(struct z4_split *s, uint64_t size);

/* Sum of the Plane_Raw_Size fields of a frame, at most. */
#define Z4_PLANES_RAW_MAX (Z4_CHUNK_MAX + (1u << 20))

/*
 * A frame's scratch buffer (coders' trials; decoding transforms' work
 * space) and reference buffer: room for n bytes, contents kept.
 */
int z4_frame_reserve_scratch(struct z4_frame *f, size_t n);
int z4_frame_reserve_ref(struct z4_frame *f, size_t n);

/* Plane buffers: make room for n bytes in a plane's own buffers. */
int z4_plane_reserve_raw(struct z4_plane *p, size_t n);
int z4_plane_reserve_coded(struct z4_plane *p, size_t n);
/* Make p a copy of n bytes at src (its own buffer; the view set). */
int z4_plane_copy(struct z4_plane *p, const uint8_t *src, size_t n);

/* The parsed fixed part and meta of a frame. */
struct z4_frame_head {
	unsigned kind, flags;
	size_t meta_size, payload_size, raw_size;
	uint64_t raw_checksum;
	size_t head_size;	/* fixed + meta + header checksum */
	uint64_t ref_target;	/* REF frames: offset of the frame repeated */
	/* END frames only. */
	uint64_t original_size, original_checksum;
	uint32_t frame_count, entry_count;
};

/*
 * Read one frame from in: check its header, decode its payload into f and
 * verify the checksum of the decoded bytes (unless flags has
 * Z4_READ_NODECODE, which skips the payload).
 */
int z4_frame_read(struct z4_in *in, struct z4_frame *f,
    struct z4_frame_head *h, unsigned flags);
/*
 * With this flag z4_frame_read reads the payload and checks its checksum
 * but leaves decoding to z4_frame_decode_deferred, which may run on
 * another thread: it touches nothing but the frame (a delta's reference
 * must be fetched first, with z4_delta_reference).
 */
#define Z4_READ_DEFER (1u << 8)
int z4_frame_decode_deferred(struct z4_frame *f);

/*
 * Read a frame of the stream that starts at start on a seekable input;
 * a REF frame gets the bytes of the frame it repeats.
 */
int z4_frame_read_resolved(struct z4_in *in, uint64_t start,
    struct z4_frame *f, struct z4_frame_head *h);
/*
 * Call fn for every index entry of every stream of a seekable input of
 * size bytes, the last stream first; stops at the first non-zero return.
 */
int z4_stream_entries(struct z4_in *in, uint64_t size,
    int (*fn)(void *ctx, uint64_t start, const struct z4_index_entry *e),
    void *ctx);

/* Check a stream header; its version is h[5], its source h[6]. */
int z4_stream_header_parse(const uint8_t *h);
/*
 * Take in->minor from the header of the stream at start, if it is not
 * from there already, and go back to where the input was.
 */
int z4_in_stream_minor(struct z4_in *in, uint64_t start);
/* Record the version of the stream at start, from its header h, parsed. */
void z4_in_minor_take(struct z4_in *in, uint64_t start, const uint8_t *h);
/*
 * Check a trailer's magic, checksum and reserved field; give its
 * End_Offset and Stream_Size.
 */
int z4_trailer_parse(const uint8_t *t, uint64_t *end_at, uint64_t *size);

/*
 * Serialise a coded frame (kind, meta, planes) onto out, with the
 * checksums z4_frame_sum made if it did.
 */
int z4_frame_write(struct z4_out *out, const struct z4_frame *f,
    const struct z4_frame_head *end_fields, struct z4_name_base *names);
/* Checksum a coded frame's raw and coded bytes for z4_frame_write. */
void z4_frame_sum(struct z4_frame *f);

/*
 * The index builder: fed every GLUE and CHUNK frame of a stream in order,
 * it applies the tensor grouping rule and serialises the index entries.
 * Writer and reader share it, so a reader can compare bytes.
 */
/*
 * Where the previous entry's data and frames end, and its name.  An
 * entry's offsets are coded as signed differences from there, mostly 0,
 * and its name against that one (z4-frame(5), INDEX).
 */
struct z4_index_ends {
	uint64_t data, frame;
	unsigned minor;			/* of the stream */
	struct z4_name_base names;
};

struct z4_index_builder {
	struct z4_buf out;
	struct z4_index_ends ends;
	int open;			/* a tensor is open */
	struct z4_index_entry cur;
	int member_open;		/* an archive member is open */
	struct z4_index_entry member;
	uint32_t entries;
	uint64_t original_size;
};

int z4_index_init(struct z4_index_builder *b);
void z4_index_release(struct z4_index_builder *b);
void z4_index_reset(struct z4_index_builder *b);
int z4_index_add(struct z4_index_builder *b, const struct z4_frame *f,
    uint64_t frame_offset, uint64_t frame_size);
/* Close the open tensor; b->out then holds the whole index. */
int z4_index_close(struct z4_index_builder *b);
/* At the end of a stream: close all, fail if a member is not complete. */
int z4_index_finish(struct z4_index_builder *b);
/* Where the first entry of a stream of that minor version builds on. */
void z4_index_ends_init(struct z4_index_ends *ends, unsigned minor);
/* Parse one entry at c into e, and move ends past it. */
int z4_index_parse(struct z4_cursor *c, struct z4_index_ends *ends,
    struct z4_index_entry *e);

/*
 * Tensor fields shared by CHUNK and REF meta and index entries, laid out
 * as the stream's minor version says; the name is coded against base,
 * which then becomes it.
 */
int z4_tensor_put(struct z4_buf *b, const struct z4_tensor *t,
    struct z4_name_base *base, unsigned minor);
int z4_tensor_parse(struct z4_cursor *c, struct z4_tensor *t,
    struct z4_name_base *base, unsigned minor);
void z4_name_base_set(struct z4_name_base *base, const char *name,
    size_t len);
/* Minor versions from which frames take the compact layout. */
#define Z4_MINOR_COMPACT 6

uint64_t z4_hash64(const void *p, size_t n);

/* Kept frames, for REF frames on a pipe (keep.c). */
struct z4_keep;

int z4_keep_new(struct z4_keep **kp);
void z4_keep_free(struct z4_keep *k);
void z4_keep_reset(struct z4_keep *k);
/* Keep n bytes under key; keys must increase. */
int z4_keep_add(struct z4_keep *k, uint64_t key, const uint8_t *p, size_t n);
/* The n bytes kept under key; Z4_E_CORRUPT if there are none. */
int z4_keep_get(struct z4_keep *k, uint64_t key, uint8_t *dst, size_t n);

/* A member of a tar stream: where its data is. */
struct z4_member {
	const char *name;		/* NUL-terminated, after the members */
	size_t name_len;
	uint64_t begin, size;
};

/*
 * The regular-file members of the tar stream in the seekable fd of size
 * bytes, in order, in one allocation with their names (free the
 * members); none (count 0) if it is not a tar stream.  The file offset
 * is left at 0.
 */
int z4_tar_members(int fd, uint64_t size, struct z4_member **m,
    size_t *count);

/*
 * A tensor's data in a container, relative to the start of its data, and
 * its fields.  The name lies in a block of names that comes with the
 * regions, so that a header of a million tensors costs some hundred bytes
 * a tensor, not the 4 KiB of a struct z4_tensor, which has room for the
 * longest name.
 */
struct z4_region {
	uint64_t begin, end;
	const char *name;		/* NUL-terminated */
	size_t name_len;
	unsigned dtype, ndim;
	uint64_t shape[Z4_NDIM_MAX];
};

/* The tensor of region r into *t. */
void z4_region_tensor(const struct z4_region *r, struct z4_tensor *t);

/*
 * Parse a safetensors JSON header of n bytes into regions sorted by
 * offset.  Returns 0 and the regions, in one allocation with their names
 * (free the regions), or Z4_E_CORRUPT with *why saying what is wrong
 * with the header.
 */
int z4_safetensors_parse(const uint8_t *json, size_t n,
    struct z4_region **regions, size_t *count, const char **why);

#endif /* Z4_INTERNAL_H */

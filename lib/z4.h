/*
 * z4.h - libz4, lossless storage of model checkpoints as frame streams.
 *
 * A z4 stream is a sequence of self-describing frames (man/z4-frame.5).
 * The library splits containers into frames, codes and decodes frames,
 * and reads and writes whole streams.  It never prints and never exits:
 * every function returns 0 (or a count) on success and a negative
 * enum z4_err on failure; z4_strerror() renders it.
 */
#ifndef Z4_H
#define Z4_H

#include <stddef.h>
#include <stdint.h>

#define Z4_VERSION_STRING "0.1.0"	/* library version */
#define Z4_FORMAT_MAJOR 0		/* frame format this library writes */
#define Z4_FORMAT_MINOR 8
#define Z4_FORMAT_MINOR_MIN 2		/* oldest minor version it reads */

/* Limits written down in z4-frame(5). */
#define Z4_CHUNK_DEFAULT (4u << 20)	/* bytes of a tensor per frame */
#define Z4_CHUNK_MAX (64u << 20)	/* largest Raw_Size of a frame */
#define Z4_NAME_MAX 4096		/* longest tensor name, bytes */
#define Z4_NDIM_MAX 8			/* most dimensions of a tensor */
#define Z4_XFORM_MAX 8			/* longest transform chain */
#define Z4_PLANE_MAX 32			/* most planes in a frame */
#define Z4_PARAM_MAX 64			/* most parameter bytes per transform */
#define Z4_SAFETENSORS_HEADER_MAX (100u << 20)
#define Z4_DEPTH_MAX 60			/* deltas behind deltas, at most */

enum z4_err {
	Z4_OK = 0,
	/* Bad or corrupt data: the caller exits 1. */
	Z4_E_MAGIC = -1,	/* not a z4 stream */
	Z4_E_VERSION = -2,	/* format version this library cannot read */
	Z4_E_TRUNCATED = -3,	/* input ends inside a structure */
	Z4_E_HEADER_CHECKSUM = -4,
	Z4_E_CHECKSUM = -5,	/* decoded bytes do not match their checksum */
	Z4_E_RESERVED = -6,	/* a reserved field or bit is not zero */
	Z4_E_LIMIT = -7,	/* a size field is past its documented limit */
	Z4_E_CORRUPT = -8,	/* fields that contradict each other */
	Z4_E_CODER = -9,	/* unknown plane coder */
	Z4_E_XFORM = -10,	/* unknown transform */
	Z4_E_DECODE = -11,	/* a plane does not decode to its size */
	Z4_E_INDEX = -12,	/* the index does not match the frames */
	Z4_E_TRAILER = -13,	/* bad trailer */
	Z4_E_NOT_FOUND = -14,	/* no tensor of that name */
	Z4_E_REF = -16,		/* a REF to no earlier kept frame */
	Z4_E_REF_MISSING = -17,	/* a delta's reference is not at hand */
	Z4_E_REF_MISMATCH = -18, /* the reference given is not the one used */
	Z4_E_REF_FORMAT = -19,	/* a reference that is neither kind */
	Z4_E_NO_MEMBER = -20,	/* no archive member of that name */
	Z4_E_DATA_MAX = -31,	/* last of the "bad data" group */
	/* System or I/O failure: the caller exits 3.  errno is kept. */
	Z4_E_IO = -32,
	Z4_E_NOMEM = -33,
	Z4_E_ZSTD = -34,	/* the zstd library failed while encoding */
	Z4_E_LIBARCHIVE = -35,	/* tar input, and libarchive cannot be loaded */
	/* Misuse of the API: the caller exits 2. */
	Z4_E_USAGE = -48,
};

/* The text for an error code: lower-case, no final period. */
const char *z4_strerror(int err);

/* 1 when err means bad input data (exit 1), 0 otherwise. */
int z4_err_is_data(int err);

/* Element types (wire IDs of Dtype fields, z4-frame(5)). */
enum z4_dtype {
	Z4_DT_OPAQUE = 0,	/* bytes of an unknown or unsupported type */
	Z4_DT_BOOL = 1,
	Z4_DT_U8 = 2,
	Z4_DT_I8 = 3,
	Z4_DT_U16 = 4,
	Z4_DT_I16 = 5,
	Z4_DT_F16 = 6,
	Z4_DT_BF16 = 7,
	Z4_DT_U32 = 8,
	Z4_DT_I32 = 9,
	Z4_DT_F32 = 10,
	Z4_DT_U64 = 11,
	Z4_DT_I64 = 12,
	Z4_DT_F64 = 13,
	Z4_DT_F8_E4M3 = 14,
	Z4_DT_F8_E5M2 = 15,
	Z4_DT_COUNT
};

/* Width of one element in bytes (1 for OPAQUE), 0 for unknown IDs. */
unsigned z4_dtype_width(unsigned dtype);
/* The safetensors spelling ("BF16"), or NULL for unknown IDs. */
const char *z4_dtype_name(unsigned dtype);
/* Parse a dtype name, case-insensitively ("bf16", "F32"); -1 if unknown. */
int z4_dtype_parse(const char *name);

/* What a stream was made from (Source_Kind). */
enum z4_source {
	Z4_SRC_RAW = 0,
	Z4_SRC_SAFETENSORS = 1,
	Z4_SRC_TAR = 2,		/* an archive of members (.z4a) */
};

/* Frame kinds (wire IDs). */
enum z4_kind {
	Z4_FRAME_GLUE = 1,	/* opaque bytes kept verbatim */
	Z4_FRAME_CHUNK = 2,	/* a slice of one tensor */
	Z4_FRAME_REF = 3,	/* the same bytes as an earlier frame */
	Z4_FRAME_MEMBER = 5,	/* an archive member's data starts here */
	Z4_FRAME_END = 15,	/* index and totals of a stream */
};

/* Plane coders (wire IDs). */
enum z4_coder_id {
	Z4_CODER_STORED = 0,
	Z4_CODER_ZSTD = 1,
	Z4_CODER_RANS = 2,	/* order-0 rANS, interleaved states */
	Z4_CODER_PACKED = 3,	/* the bits each byte uses, packed */
	Z4_CODER_COUNT
};

/* Names of coders and transforms by wire ID ("zstd"), or NULL. */
const char *z4_coder_name(unsigned id);
const char *z4_xform_name(unsigned id);

enum z4_tensor_flags {
	Z4_TENSOR_SHAPE_UNKNOWN = 1 << 0,	/* a raw buffer: no shape */
};

/* A tensor as a chunk frame or an index entry names it. */
struct z4_tensor {
	char name[Z4_NAME_MAX + 1];	/* NUL-terminated copy */
	size_t name_len;		/* names may hold NUL bytes */
	unsigned dtype;			/* enum z4_dtype */
	unsigned flags;			/* enum z4_tensor_flags */
	unsigned ndim;
	uint64_t shape[Z4_NDIM_MAX];
};

/* 1 if two tensors have the same name, dtype, flags and shape. */
int z4_tensor_same(const struct z4_tensor *a, const struct z4_tensor *b);

/*
 * One plane: the unit of entropy coding.  raw and coded are views: they
 * point into the plane's own buffers (rbuf, cbuf) or elsewhere, such as
 * the frame's raw bytes when no transform splits them.
 */
struct z4_plane {
	unsigned coder;			/* enum z4_coder_id */
	size_t raw_size;		/* bytes after decoding */
	size_t coded_size;		/* bytes in the payload */
	const uint8_t *raw;
	const uint8_t *coded;
	uint8_t *rbuf, *cbuf;		/* owned buffers */
	size_t rcap, ccap;
};

/* One step of a transform chain, applied in order when encoding. */
struct z4_xform_step {
	unsigned id;
	size_t param_size;
	uint8_t param[Z4_PARAM_MAX];
};

/*
 * A frame in memory: its identity, its decoded bytes and its planes.
 * Buffers are owned by the frame and reused from one frame to the next;
 * z4_frame_release() frees them.
 */
/*
 * How a decoder reads the bytes of an earlier frame of the same stream,
 * which a delta names by its offset: get returns 1 with the n bytes in
 * dst, 0 if it has no such frame, or a z4_err.
 */
struct z4_frame_source {
	int (*get)(void *ctx, uint64_t offset, uint8_t *dst, size_t n);
	void *ctx;
};

enum z4_frame_flags {
	Z4_FRAME_KEEP = 1 << 0,		/* a later REF frame repeats it */
};

struct z4_frame {
	unsigned kind;			/* enum z4_kind */
	unsigned flags;			/* enum z4_frame_flags */
	/*
	 * Which frame a REF repeats.  key names a frame to the writer, and
	 * ref_key names the KEEP frame a REF repeats: frame numbers when
	 * splitting, stream offsets when reading a stream.
	 */
	uint64_t key, ref_key;
	struct z4_tensor tensor;	/* CHUNK, REF; a MEMBER's name */
	uint64_t chunk_offset;		/* byte offset in the tensor */
	uint64_t member_size;		/* MEMBER: bytes of its data */
	uint8_t *raw;			/* the frame's share of the original */
	size_t raw_size, raw_cap;
	size_t sample_of;		/* raw is a sample of this many bytes */
	int level;			/* coding at it: how hard to search */
	unsigned nxform;
	struct z4_xform_step xform[Z4_XFORM_MAX];
	unsigned nplane;
	struct z4_plane plane[Z4_PLANE_MAX];
	size_t coded_bytes;		/* frame size on the wire, when read */
	void *coder_state[Z4_CODER_COUNT];	/* coders' contexts, owned */
	uint8_t *scratch;		/* where coders are tried, owned */
	size_t scratch_cap;
	struct z4_plane stage;		/* a transform's input or output */
	/* Deltas: the reference to decode with, or the bytes to code with. */
	struct z4_ref *ref;		/* set by the reader */
	const struct z4_frame_source *source;	/* earlier frames, by offset */
	int dref_internal;		/* refbuf is the frame dref_key names */
	uint64_t dref_key;
	uint8_t *refbuf;		/* the reference's bytes, owned */
	size_t ref_size, ref_cap;
	int have_ref;			/* refbuf holds this chunk's bytes */
	int ref_ready;			/* ... fetched and checked, decoding */
	/* Read but not yet decoded (a reader decoding on threads). */
	int deferred;
	uint64_t deferred_checksum;
	int keep_planes;		/* Z4_READ_PLANES: plane[].raw kept */
	/*
	 * The checksum of the raw bytes, made when the frame was coded, on
	 * the thread that coded it, for the writer to use.
	 */
	int sums_ready;
	uint64_t raw_sum;
	char note[256];			/* more about the last error, or "" */
};

void z4_frame_init(struct z4_frame *f);
void z4_frame_release(struct z4_frame *f);
/* Make room for n raw bytes; f->raw_size is not changed. */
int z4_frame_reserve(struct z4_frame *f, size_t n);

/*
 * Options for coding a frame's planes.  level 0 stores every plane;
 * 1..9 select how hard the coders work (default 3).
 */
struct z4_encode_opts {
	int level;
	int recode;	/* z4_encode_frames: z4_frame_recode() each frame */
	int detect;	/* ... z4_frame_detect(), whatever recode says */
};

/*
 * Code a frame whose raw bytes are set: choose its transform chain and,
 * for each plane, the smallest coder tried (stored when none helps).
 */
int z4_frame_encode(struct z4_frame *f, const struct z4_encode_opts *o);

/*
 * Code n frames, as z4_frame_encode() does each, on up to threads
 * threads (at most Z4_THREADS_MAX).  The result does not depend on the
 * number of threads.  Returns the first error any frame met.
 */
#define Z4_THREADS_MAX 256
int z4_encode_frames(struct z4_frame *const *frames, size_t n,
    const struct z4_encode_opts *o, unsigned threads);

/*
 * A pool of threads that code the frames queued with z4_pool_put, as
 * z4_frame_encode() does (or z4_frame_recode(), per o), in the order
 * given, while the caller reads more and writes those done: z4_pool_take
 * waits for the oldest frame, codes it itself if no thread has started
 * it, and returns it with its result.  At most Z4_POOL_MAX frames are
 * queued; o must last until its frame is taken.  Free the pool before
 * the frames it may still be coding.  (The library's reader also queues
 * frames to decode, with o NULL.)
 */
#define Z4_POOL_MAX 64
struct z4_pool;
int z4_pool_new(struct z4_pool **pp, unsigned threads);
void z4_pool_free(struct z4_pool *p);
int z4_pool_put(struct z4_pool *p, struct z4_frame *f,
    const struct z4_encode_opts *o);
int z4_pool_take(struct z4_pool *p, struct z4_frame **f);
/*
 * Wait until the n oldest frames queued (or all, if fewer) are coded, so
 * that taking them does not wait: one wait for many small frames.
 */
void z4_pool_wait(struct z4_pool *p, unsigned n);

/*
 * Re-code the planes of a frame that was read from a stream, keeping its
 * transform chain: stored planes are entropy-coded where that shrinks them.
 */
int z4_frame_recode(struct z4_frame *f, const struct z4_encode_opts *o);

/*
 * Only the transforms that remove redundancy (PALETTE, GRID, ZEROS), with
 * every plane left stored: a frame nothing has transformed gets the chain
 * z4_frame_encode() finds if that starts with one of them, and stays as
 * it is otherwise, as do all other frames.
 */
int z4_frame_detect(struct z4_frame *f, const struct z4_encode_opts *o);

/*
 * What the next tensor name of a stream is coded against (z4-frame(5),
 * Tensor fields): the previous one, or for a reader that jumps to a
 * frame, the name its index entry gives.  A frame read only for its bytes
 * may have none known, and gets '?' for the bytes it shares.  All zeros
 * is the empty name, where a stream starts.
 */
struct z4_name_base {
	size_t len;
	int unknown;
	char name[Z4_NAME_MAX];
};

/*
 * Buffered input over a file descriptor.  It counts the bytes read from
 * the descriptor so tools can show how little random access reads.
 */
struct z4_in {
	int fd;
	uint8_t *buf;
	size_t pos, len, cap;
	uint64_t offset;	/* stream offset of buf[pos] */
	uint64_t bytes_read;	/* from the descriptor, all told */
	int eof;
	int seekable;		/* a regular file: skips seek */
	int exact;		/* read no more than asked (random access) */
	struct z4_ref *ref;	/* the reference delta frames need, or NULL */
	unsigned minor;		/* format minor version of the stream read */
	uint64_t minor_start;	/* offset of the stream it was read from */
	int minor_known;	/* minor was read from that stream's header */
	struct z4_name_base names;
};

int z4_in_init(struct z4_in *in, int fd);
void z4_in_release(struct z4_in *in);
/*
 * Make n bytes available at in->buf + in->pos; returns how many are
 * (fewer only at end of input), or a negative z4_err.
 */
long z4_in_peek(struct z4_in *in, size_t n);
/* Read exactly n bytes into dst; Z4_E_TRUNCATED if input ends first. */
int z4_in_read(struct z4_in *in, void *dst, size_t n);
/* Read up to n bytes; returns the count (0 at end) or a z4_err. */
long z4_in_read_some(struct z4_in *in, void *dst, size_t n);
/* Skip n bytes, seeking where the input allows it. */
int z4_in_skip(struct z4_in *in, size_t n);
/* Position a seekable input at an absolute offset. */
int z4_in_seek(struct z4_in *in, uint64_t offset);

/*
 * Buffered output over a file descriptor, counting bytes written; with fd
 * -1, a sink that only counts (testing without writing).
 */
struct z4_out {
	int fd;
	uint8_t *buf;
	size_t len, cap;
	uint64_t offset;	/* bytes written so far, buffered or not */
};

int z4_out_init(struct z4_out *out, int fd);
/* Flushes nothing: call z4_out_flush() first to keep buffered bytes. */
void z4_out_release(struct z4_out *out);
int z4_out_write(struct z4_out *out, const void *p, size_t n);
int z4_out_flush(struct z4_out *out);

/* Write n bytes to fd, handling short writes and EINTR. */
int z4_writeall(int fd, const void *p, size_t n);

/*
 * The splitter: reads a container from an input and hands out raw frames
 * (GLUE and CHUNK) in order.  Safetensors files are parsed; anything else,
 * and any safetensors file whose header does not check out, becomes GLUE
 * frames, or CHUNK frames of one raw tensor when a dtype is given.
 */
struct z4_split_opts {
	size_t chunk_size;	/* 0: Z4_CHUNK_DEFAULT; at most Z4_CHUNK_MAX */
	int raw_dtype;		/* -1: detect; else the dtype of a raw buffer */
};

struct z4_split;

int z4_split_new(struct z4_split **sp, struct z4_in *in,
    const struct z4_split_opts *o);
void z4_split_free(struct z4_split *s);
/* enum z4_source of the input, known once z4_split_new() returns. */
unsigned z4_split_source(const struct z4_split *s);
/* Why a safetensors-looking input was taken as opaque, or NULL. */
const char *z4_split_note(const struct z4_split *s);
/* Fill f with the next raw frame: 1 if one was made, 0 at the end. */
int z4_split_next(struct z4_split *s, struct z4_frame *f);

/*
 * Whole-chunk matching on a seekable input: z4_dedupe_new() reads the
 * input's headers and a sample of each chunk (then seeks it back to the
 * start), and finds the chunks the splitter will make whose bytes an
 * earlier chunk has, compared byte for byte.  For the i-th
 * frame of the real split, z4_dedupe_mark() turns a repeat into a REF
 * frame and marks the frames repeated later as KEEP.  In an archive it
 * also plans deltas between members, at most max_depth deep (0: none):
 * a chunk with a reference gets its bytes in refbuf (have_ref,
 * dref_internal), for the selector to try.
 */
struct z4_dedupe;

int z4_dedupe_new(struct z4_dedupe **dp, int fd,
    const struct z4_split_opts *o, unsigned max_depth);
void z4_dedupe_free(struct z4_dedupe *d);
/* fd is the input, for the bytes of a delta's reference chunk. */
int z4_dedupe_mark(const struct z4_dedupe *d, struct z4_frame *f,
    uint64_t i, int fd);

/*
 * A reference checkpoint for deltas: a safetensors file or a z4 stream,
 * open on a seekable descriptor (which the caller closes after
 * z4_ref_free()).  Tensors are read a range at a time, never whole.
 */
struct z4_ref;

int z4_ref_open(struct z4_ref **rp, int fd);
void z4_ref_free(struct z4_ref *r);
/*
 * Bytes [off, off + n) of the reference's tensor with t's name, dtype
 * and shape: 1 when copied to dst, 0 when the reference has no such
 * tensor or range, or a negative z4_err.
 */
int z4_ref_read(struct z4_ref *r, const struct z4_tensor *t, uint64_t off,
    size_t n, uint8_t *dst);

/*
 * The writer: serialises coded frames into a stream and, at the end,
 * writes the index, the whole-original checksum and the trailer.
 */
struct z4_writer;

int z4_writer_new(struct z4_writer **wp, struct z4_out *out,
    unsigned source);
void z4_writer_free(struct z4_writer *w);
/*
 * Append one coded frame (planes coded, raw bytes set).  A REF, or a
 * delta against an earlier frame, names that frame by its key (ref_key,
 * dref_key), which must be a KEEP frame put before; the writer fills in
 * where it was written.
 */
int z4_writer_put(struct z4_writer *w, struct z4_frame *f);
/* Write the END frame and the trailer; the output is not flushed. */
int z4_writer_finish(struct z4_writer *w);

/*
 * The reader: decodes a stream, or several concatenated, frame by frame,
 * verifying every checksum and the index against the frames.
 */
enum z4_read_flags {
	Z4_READ_NODECODE = 1 << 0,	/* check headers only (z4info) */
	Z4_READ_PLANES = 1 << 1,	/* each plane decoded whole (z4info -v) */
};

struct z4_reader;

int z4_reader_new(struct z4_reader **rp, struct z4_in *in, unsigned flags);
void z4_reader_free(struct z4_reader *r);
/*
 * Read the next frame into f, decoded and verified.  Returns 1 for a
 * GLUE, CHUNK, REF or MEMBER frame, 2 when a stream ended (f->kind is
 * Z4_FRAME_END, its index and trailer checked; z4_reader_stats() has
 * its source), 0 at the end of the input, or a negative z4_err.
 */
int z4_reader_next(struct z4_reader *r, struct z4_frame *f);
/*
 * Decode on n threads while the caller reads (0, the default: decode in
 * the caller, as frames are read).  Frames are read ahead and decoded on
 * the threads, then handed out one by one in order with the same results
 * and errors as with none; frames that use earlier frames' bytes are
 * decoded alone, in turn.
 */
void z4_reader_threads(struct z4_reader *r, unsigned n);
/*
 * Where the reader is, for error messages: "frame 12 (tensor 'x')",
 * "stream header", "trailer" and so on.  Valid until the next call.
 */
const char *z4_reader_where(const struct z4_reader *r);
/* More about the failure, when the frame had more to say; else "". */
const char *z4_reader_note(const struct z4_reader *r);

/* Totals of the streams read so far, for z4info. */
struct z4_stream_stats {
	unsigned streams;
	uint64_t original_size;		/* bytes of the originals */
	uint64_t stream_size;		/* bytes of the streams */
	uint64_t index_bytes;		/* END frames and trailers */
	unsigned source;		/* of the last stream */
};

void z4_reader_stats(const struct z4_reader *r, struct z4_stream_stats *st);

/* One entry of a stream's index (z4-frame(5), "Index"). */
struct z4_index_entry {
	unsigned kind;			/* 1: tensor, 2: archive member */
	struct z4_tensor tensor;
	uint64_t data_offset;		/* in the original */
	uint64_t data_size;
	uint64_t frame_offset;		/* of the first frame, from stream start */
	uint64_t frame_size;		/* bytes spanned by its frames */
};

/*
 * Random access on a seekable input: write to out the bytes of the
 * archive member called member, or of the tensor called name (in that
 * member, when both are given), from the first stream of the file that
 * has it, walking the trailers back from the end.  Only the trailers,
 * the indexes and the frames it needs are read.  where gets what was
 * looked for, for messages.
 */
int z4_extract(struct z4_in *in, const char *member, const char *name,
    struct z4_out *out, char *where, size_t where_size);

/*
 * The same on a stream that can only be read in order (a pipe): every
 * frame is decoded and checked.  Z4_E_NOT_FOUND if nothing matched.
 */
int z4_scan(struct z4_reader *r, const char *member, const char *name,
    struct z4_out *out);

#endif /* Z4_H */

/*
 * coder.c - the plane coders, one table indexed by wire ID.
 *
 * A coder turns one plane's bytes into coded bytes and back.  Decoders
 * are given the exact decoded size from the frame header and must produce
 * exactly that many bytes from exactly the coded bytes they are given.
 */
#include <stdlib.h>

#include <zstd.h>

#include "internal.h"

static int
stored_encode(void **state, uint8_t *dst, size_t cap, size_t *out,
    const struct z4_code_in *in)
{
	(void)state;
	if (in->n > cap)
		return Z4_E_USAGE;
	if (in->n)
		memcpy(dst, in->src, in->n);
	*out = in->n;
	return 0;
}

static int
stored_decode(void **state, uint8_t *dst, size_t n, const uint8_t *src,
    size_t cn)
{
	(void)state;
	if (cn != n)
		return Z4_E_CORRUPT;
	if (n && dst != src)
		memcpy(dst, src, n);
	return 0;
}

static size_t
stored_bound(size_t n)
{
	return n;
}

/*
 * zstd contexts live in the frame that codes (state): making one costs
 * more than coding a small plane, and a frame belongs to one thread.
 */
struct zstd_state {
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;
};

static struct zstd_state *
zstd_state(void **state)
{
	if (*state == NULL)
		*state = calloc(1, sizeof(struct zstd_state));
	return *state;
}

static void
zstd_free(void *state)
{
	struct zstd_state *z = state;
	if (z == NULL)
		return;
	ZSTD_freeCCtx(z->cctx);
	ZSTD_freeDCtx(z->dctx);
	free(z);
}

static int
zstd_encode(void **state, uint8_t *dst, size_t cap, size_t *out,
    const struct z4_code_in *in)
{
	struct zstd_state *z = zstd_state(state);
	if (z == NULL ||
	    (z->cctx == NULL && (z->cctx = ZSTD_createCCtx()) == NULL))
		return Z4_E_NOMEM;
	ZSTD_CCtx *cctx = z->cctx;
	ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
	if (ZSTD_isError(ZSTD_CCtx_setParameter(cctx,
	    ZSTD_c_compressionLevel, in->level)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(cctx,
	    ZSTD_c_contentSizeFlag, 1)))
		return Z4_E_ZSTD;
	size_t r = ZSTD_compress2(cctx, dst, cap, in->src, in->n);
	if (ZSTD_isError(r))
		return Z4_E_ZSTD;
	*out = r;
	return 0;
}

static int
zstd_decode(void **state, uint8_t *dst, size_t n, const uint8_t *src,
    size_t cn)
{
	/*
	 * Exactly one frame, carrying its content size (our encoder writes
	 * it): then n bounds the output before anything is decoded.
	 */
	unsigned long long size = ZSTD_getFrameContentSize(src, cn);
	if (n == 0 || size != n || ZSTD_findFrameCompressedSize(src, cn) != cn)
		return Z4_E_DECODE;	/* an empty plane is only ever stored */
	struct zstd_state *z = zstd_state(state);
	if (z == NULL ||
	    (z->dctx == NULL && (z->dctx = ZSTD_createDCtx()) == NULL))
		return Z4_E_NOMEM;
	size_t r = ZSTD_decompressDCtx(z->dctx, dst, n, src, cn);
	if (ZSTD_isError(r) || r != n)
		return Z4_E_DECODE;
	return 0;
}

static size_t
zstd_bound(size_t n)
{
	return ZSTD_compressBound(n);
}

const struct z4_coder z4_coder_stored = {
	.id = Z4_CODER_STORED,
	.name = "stored",
	.encode = stored_encode,
	.decode = stored_decode,
	.bound = stored_bound,
};

const struct z4_coder z4_coder_zstd = {
	.id = Z4_CODER_ZSTD,
	.name = "zstd",
	.encode = zstd_encode,
	.decode = zstd_decode,
	.bound = zstd_bound,
	.free_state = zstd_free,
};


static const struct z4_coder *const coders[Z4_CODER_COUNT] = {
	[Z4_CODER_STORED] = &z4_coder_stored,
	[Z4_CODER_ZSTD] = &z4_coder_zstd,
	[Z4_CODER_RANS] = &z4_coder_rans,
	[Z4_CODER_PACKED] = &z4_coder_packed,
};

const struct z4_coder *
z4_coder_get(unsigned id)
{
	return id < Z4_CODER_COUNT ? coders[id] : NULL;
}

const char *
z4_coder_name(unsigned id)
{
	return id < Z4_CODER_COUNT ? coders[id]->name : NULL;
}

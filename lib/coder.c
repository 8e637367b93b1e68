/*
 * coder.c - the plane coders, one table indexed by wire ID.
 *
 * A coder turns one plane's bytes into coded bytes and back.  Decoders
 * are given the exact decoded size from the frame header and must produce
 * exactly that many bytes from exactly the coded bytes they are given.
 */
#include <zstd.h>

#include "internal.h"

static int
stored_encode(uint8_t *dst, size_t cap, size_t *out, const uint8_t *src,
    size_t n, int level)
{
	(void)level;
	if (n > cap)
		return Z4_E_USAGE;
	if (n)
		memcpy(dst, src, n);
	*out = n;
	return 0;
}

static int
stored_decode(uint8_t *dst, size_t n, const uint8_t *src, size_t cn)
{
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
 * zstd contexts are kept per thread: making one costs more than coding a
 * small plane.  They live until the thread ends.
 */
static _Thread_local ZSTD_CCtx *cctx;
static _Thread_local ZSTD_DCtx *dctx;

static int
zstd_encode(uint8_t *dst, size_t cap, size_t *out, const uint8_t *src,
    size_t n, int level)
{
	if (cctx == NULL && (cctx = ZSTD_createCCtx()) == NULL)
		return Z4_E_NOMEM;
	ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
	if (ZSTD_isError(ZSTD_CCtx_setParameter(cctx,
	    ZSTD_c_compressionLevel, level)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(cctx,
	    ZSTD_c_contentSizeFlag, 1)))
		return Z4_E_ZSTD;
	size_t r = ZSTD_compress2(cctx, dst, cap, src, n);
	if (ZSTD_isError(r))
		return Z4_E_ZSTD;
	*out = r;
	return 0;
}

static int
zstd_decode(uint8_t *dst, size_t n, const uint8_t *src, size_t cn)
{
	/* The content size is written by our encoder; demand it. */
	unsigned long long size = ZSTD_getFrameContentSize(src, cn);
	if (size != n)
		return Z4_E_DECODE;
	if (dctx == NULL && (dctx = ZSTD_createDCtx()) == NULL)
		return Z4_E_NOMEM;
	size_t r = ZSTD_decompressDCtx(dctx, dst, n, src, cn);
	if (ZSTD_isError(r) || r != n)
		return Z4_E_DECODE;
	return 0;
}

static size_t
zstd_bound(size_t n)
{
	return ZSTD_compressBound(n);
}

static const struct z4_coder coders[Z4_CODER_COUNT] = {
	[Z4_CODER_STORED] = {
		.id = Z4_CODER_STORED,
		.name = "stored",
		.encode = stored_encode,
		.decode = stored_decode,
		.bound = stored_bound,
	},
	[Z4_CODER_ZSTD] = {
		.id = Z4_CODER_ZSTD,
		.name = "zstd",
		.encode = zstd_encode,
		.decode = zstd_decode,
		.bound = zstd_bound,
	},
};

const struct z4_coder *
z4_coder_get(unsigned id)
{
	return id < Z4_CODER_COUNT ? &coders[id] : NULL;
}

const char *
z4_coder_name(unsigned id)
{
	return id < Z4_CODER_COUNT ? coders[id].name : NULL;
}

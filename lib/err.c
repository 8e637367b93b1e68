/*
 * err.c - error codes rendered as text.
 */
#include "internal.h"

const char *
z4_strerror(int err)
{
	switch (err) {
	case Z4_OK: return "success";
	case Z4_E_MAGIC: return "not a z4 stream (bad magic)";
	case Z4_E_VERSION: return "unsupported format version";
	case Z4_E_TRUNCATED: return "unexpected end of input";
	case Z4_E_HEADER_CHECKSUM: return "header checksum mismatch";
	case Z4_E_CHECKSUM: return "checksum mismatch";
	case Z4_E_RESERVED: return "reserved field or bit set";
	case Z4_E_LIMIT: return "size field past its limit";
	case Z4_E_CORRUPT: return "inconsistent fields";
	case Z4_E_CODER: return "unknown plane coder";
	case Z4_E_XFORM: return "unknown transform";
	case Z4_E_DECODE: return "plane does not decode to its size";
	case Z4_E_INDEX: return "index does not match the frames";
	case Z4_E_TRAILER: return "bad trailer";
	case Z4_E_NOT_FOUND: return "no such tensor";
	case Z4_E_NO_MEMBER: return "no such member";
	case Z4_E_REF: return "reference to no earlier kept frame";
	case Z4_E_REF_MISSING: return "needs a reference checkpoint (-r)";
	case Z4_E_REF_MISMATCH: return "reference mismatch";
	case Z4_E_REF_FORMAT:
		return "reference is neither a z4 stream nor safetensors";
	case Z4_E_IO: return "input/output error";
	case Z4_E_NOMEM: return "out of memory";
	case Z4_E_ZSTD: return "zstd failed";
	case Z4_E_LIBARCHIVE:
		return "tar input needs libarchive, which cannot be loaded";
	case Z4_E_USAGE: return "invalid argument";
	}
	return "unknown error";
}

int
z4_err_is_data(int err)
{
	return err < 0 && err >= Z4_E_DATA_MAX;
}

/*
 * hash.h - xxHash, whose XXH3 functions on x86 go through the library's
 * runtime dispatch, so that they run in AVX2 where the processor has it:
 * twice the speed of the SSE2 code the plain functions are built with,
 * and the checksums are a fifth of the time of decoding.
 */
#ifndef Z4_HASH_H
#define Z4_HASH_H

#include <xxhash.h>
#if defined(__x86_64__) || defined(__i386__)
#include <xxh_x86dispatch.h>
#endif

#endif

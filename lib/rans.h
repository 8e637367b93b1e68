/*
 * rans.h - what the rANS coder (coder_rans.c) shares with its AVX2
 * loops (coder_rans_avx2.c): the encoder's constants of a symbol, the
 * decoder's table, and the loops' entry points.  The format is described
 * in coder_rans.c and in z4-frame(5).
 */
#ifndef Z4_RANS_H
#define Z4_RANS_H

#include <stddef.h>
#include <stdint.h>

#define RANS_L (1u << 15)	/* a state lives in [RANS_L, 2^31) */
#define DIGRAM_BYTES 128	/* byte values a table of digrams may have */
#define DIGRAM_BITS 14		/* the precision of a table of digrams */

struct enc_sym {
	uint32_t x_max;		/* renormalise while x >= x_max */
	uint32_t rcp;		/* reciprocal of freq, for the division */
	uint32_t bias;
	uint16_t cmpl;		/* M - freq */
	uint8_t shift;
};

struct dec_table {
	unsigned bits;
	int digrams;
	uint8_t last;			/* of a plane of digrams of odd size */
	/* Digrams: both bytes << 32 | freq - 1 << 14 | (slot - start). */
	uint64_t d64[1u << DIGRAM_BITS];
	uint32_t fb[1u << 15];		/* freq << 16 | (slot - start) */
	_Static_assert(DIGRAM_BYTES * DIGRAM_BYTES <= 1u << 15,
	    "fb holds the frequencies of a table of digrams");
	uint8_t sym[1u << 15];
	/* For B <= 12, all of it in one word: sym << 24 | freq - 1 << 12 |
	 * (slot - start), so that a SIMD decoder loads once a byte. */
	uint32_t packed[1u << 12];
};

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define Z4_RANS_AVX2 1

/*
 * Encode whole rounds of nst (8, 16, 32 or 64) states, from symbol i
 * down to 0, with the nsym constants e of a table at 2^bits (bits at
 * most 14): the symbols are the bytes at src, or else the digram
 * indices at ix.  The words go below p, as the scalar encoder puts
 * them; returns the new p, or NULL out of memory.
 */
uint8_t *z4_rans_avx2_encode(const struct enc_sym *e, unsigned nsym,
    unsigned bits, const uint8_t *src, const uint16_t *ix, size_t i,
    uint32_t *x, uint8_t *p, unsigned nst);

/*
 * Decode whole rounds of nst (8, 16, 32 or 64) states, of digrams or
 * bytes as the table says, at most n of them, reading words from *pp
 * (moved) before end; stops where the scalar loop must take over and
 * returns how many it decoded.
 */
size_t z4_rans_avx2_decode(const struct dec_table *t, uint32_t *x,
    uint8_t *dst, size_t n, const uint8_t **pp, const uint8_t *end,
    unsigned nst);

/*
 * The digram indices into ix of whole groups of 16 digrams of the np in
 * src whose bytes are the k1 values from lo up, all present; returns
 * how many.
 */
size_t z4_rans_avx2_index(const uint8_t *src, size_t np, unsigned lo,
    unsigned k1, uint16_t *ix);
#endif

#endif

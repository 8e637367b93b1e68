/*
 * z4pal - frames in, frames out with the redundancy in tensor chunks taken
 * out: few distinct values become a palette, integers times a scale a
 * grid, zeros a mask, with the planes left for z4plane to code.
 */
#include "util.h"

int
main(int argc, char *argv[])
{
	return recode_main(argc, argv, "z4pal",
	    "usage: z4pal [-1..-9] [-cfhqVv] [-o file] [-r ref] [-T threads] "
	    "[file]\n", RECODE_DETECT);
}

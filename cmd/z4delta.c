/*
 * z4delta - frames in, frames out with each tensor chunk coded as its
 * difference from the same bytes of the same-named tensor in a reference
 * checkpoint, where that is smaller.
 */
#include "util.h"

int
main(int argc, char *argv[])
{
	return recode_main(argc, argv, "z4delta",
	    "usage: z4delta [-1..-9] [-cfhqVv] [-o file] [-T threads] -r ref "
	    "[file]\n", RECODE_DELTA);
}

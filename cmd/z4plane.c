/*
 * z4plane - frames in, frames out with every frame coded: frames nothing
 * has transformed get the chain and plane coders the selector finds
 * smallest; others keep their chain and have their stored planes coded.
 */
#include "util.h"

int
main(int argc, char *argv[])
{
	return recode_main(argc, argv, "z4plane",
	    "usage: z4plane [-1..-9] [-cfhqVv] [-o file] [-r ref] [-T threads] "
	    "[file]\n", RECODE_PLANES);
}

/*
 * z4info - what a frame stream holds: a row per tensor with its sizes,
 * ratio and transform chain, then glue, index and totals.
 */
#include <getopt.h>
#include <stdlib.h>

#include "util.h"

static const char usage_text[] = "usage: z4info [-hjqVv] [file ...]\n";

static _Noreturn void
usage(int code)
{
	fputs(usage_text, code ? stderr : stdout);
	exit(code);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "version", no_argument, NULL, 'V' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	int jflag = 0, ch, ret = EXIT_OK;

	progname = "z4info";
	atexit(close_stdout);
	while ((ch = getopt_long(argc, argv, "hjqVv", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h': usage(EXIT_OK);
		case 'j': jflag = 1; break;
		case 'q': verbosity--; break;
		case 'V': version();
		case 'v': verbosity++; break;
		default: usage(EXIT_USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	char *stdin_only[] = { "-", NULL };
	if (argc == 0)
		argv = stdin_only;
	for (int first = 1; *argv != NULL; argv++, first = 0) {
		struct failure fl;
		if (!first && !jflag)
			putchar('\n');
		if (!jflag && argc > 1)
			printf("%s:\n", shown(*argv));
		int err = run_info(*argv, jflag, &fl);
		if (err) {
			fflush(stdout);
			int r = report(&fl, err);
			ret = ret ? ret : r;
		}
	}
	return ret;
}

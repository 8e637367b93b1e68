/*
 * z4info - what a frame stream holds: a row per tensor with its sizes,
 * ratio and transform chain, then glue, index and totals.
 */
#include <getopt.h>
#include <stdlib.h>

#include "util.h"

static const char usage_text[] =
    "usage: z4info [-hjqVv] [-r ref] [file ...]\n";

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
		{ "ref", required_argument, NULL, 'r' },
		{ "version", no_argument, NULL, 'V' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	int jflag = 0, ch, ret = EXIT_OK;
	struct z4_ref *ref = NULL;

	progname = "z4info";
	atexit(close_stdout);
	while ((ch = getopt_long(argc, argv, "hjqr:Vv", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h': usage(EXIT_OK);
		case 'j': jflag = 1; break;
		case 'q': verbosity--; break;
		case 'r': ref = open_ref(optarg); break;
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
		int err = run_info(*argv, jflag, ref, &fl);
		if (err) {
			fflush(stdout);
			int r = report(&fl, err);
			ret = ret ? ret : r;
		}
	}
	z4_ref_free(ref);
	return ret;
}

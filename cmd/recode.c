/*
 * recode.c - the main of z4plane, z4delta and z4pal, which differ in what
 * they do to a frame: z4delta codes each chunk afresh against a reference
 * it must be given, z4plane codes what is stored and keeps every chain as
 * it is, z4pal gives a chunk nothing has transformed the transforms that
 * take out redundancy and codes nothing.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

static const char *usage_text;

static _Noreturn void
usage(int code)
{
	fputs(usage_text, code ? stderr : stdout);
	exit(code);
}

int
recode_main(int argc, char *argv[], const char *name, const char *text,
    enum recode_mode mode)
{
	static const struct option longopts[] = {
		{ "stdout", no_argument, NULL, 'c' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ "output", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "ref", required_argument, NULL, 'r' },
		{ "threads", required_argument, NULL, 'T' },
		{ "version", no_argument, NULL, 'V' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	const char *oflag = NULL, *rflag = NULL;
	int cflag = 0, fflag = 0, level = 3, ch;
	unsigned threads = 0;

	progname = name;
	usage_text = text;
	atexit(close_stdout);
	while ((ch = getopt_long(argc, argv, "123456789cfho:qr:T:Vv", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case '1': case '2': case '3': case '4': case '5':
		case '6': case '7': case '8': case '9':
			level = ch - '0';
			break;
		case 'c': cflag = 1; break;
		case 'f': fflag = 1; break;
		case 'h': usage(EXIT_OK);
		case 'o': oflag = optarg; break;
		case 'q': verbosity--; break;
		case 'r': rflag = optarg; break;
		case 'T': threads = opt_threads(optarg); break;
		case 'V': version();
		case 'v': verbosity++; break;
		default: usage(EXIT_USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 1 || (mode == RECODE_DELTA && rflag == NULL))
		usage(EXIT_USAGE);
	if (threads == 0)
		threads = all_cores();
	const char *in_name = argc ? argv[0] : NULL;
	struct output out;
	struct failure fl;
	int ret;

	if (oflag == NULL || strcmp(oflag, "-") == 0)
		refuse_tty_out(STDOUT_FILENO, cflag || fflag);
	int fd = open_input(in_name);
	if (fd < 0)
		return EXIT_SYS;
	refuse_tty_in(fd, fflag);
	struct z4_ref *ref = rflag ? open_ref(rflag) : NULL;
	if ((ret = output_open(&out, oflag, fflag)))
		return ret;
	int err = run_recode(fd, in_name, out.fd, oflag ? oflag : "(stdout)",
	    level, threads, ref, mode, &fl);
	z4_ref_free(ref);
	return output_finish(&out, err, &fl);
}

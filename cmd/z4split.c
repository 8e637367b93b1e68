/*
 * z4split - bytes on stdin (or a file) to a frame stream with stored
 * planes: safetensors parsed into tensor chunks and glue, anything else
 * kept as opaque bytes.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

static const char usage_text[] =
    "usage: z4split [-cfhqVv] [-B size] [-D dtype] [-o file] [file]\n";

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
		{ "chunk-size", required_argument, NULL, 'B' },
		{ "stdout", no_argument, NULL, 'c' },
		{ "dtype", required_argument, NULL, 'D' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ "output", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "version", no_argument, NULL, 'V' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	struct compress_opts co = { .level = 0, .raw_dtype = -1, .threads = 1 };
	const char *oflag = NULL;
	int cflag = 0, fflag = 0, ch;

	progname = "z4split";
	atexit(close_stdout);
	while ((ch = getopt_long(argc, argv, "B:cD:fho:qVv", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'B': co.chunk_size = opt_chunk_size(optarg); break;
		case 'c': cflag = 1; break;
		case 'D':
			if ((co.raw_dtype = z4_dtype_parse(optarg)) < 0)
				die(EXIT_USAGE, "unknown dtype '%s'", optarg);
			break;
		case 'f': fflag = 1; break;
		case 'h': usage(EXIT_OK);
		case 'o': oflag = optarg; break;
		case 'q': verbosity--; break;
		case 'V': version();
		case 'v': verbosity++; break;
		default: usage(EXIT_USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 1)
		usage(EXIT_USAGE);
	const char *in_name = argc ? argv[0] : NULL;
	struct output out;
	struct failure fl;
	int ret;

	if (oflag == NULL || strcmp(oflag, "-") == 0)
		refuse_tty_out(STDOUT_FILENO, cflag || fflag);
	int fd = open_input(in_name);
	if (fd < 0)
		return EXIT_SYS;
	if ((ret = output_open(&out, oflag, fflag)))
		return ret;
	int err = run_compress(fd, in_name, out.fd, oflag ? oflag :
	    "(stdout)", &co, &fl);
	return output_finish(&out, err, &fl);
}

/*
 * z4pack - a tar stream of model checkpoints to one archive (.z4a):
 * every member parsed and coded, repeated chunks stored once, and each
 * checkpoint coded as a delta from the earlier member it is closest to.
 *
 * The planning needs to read the input twice, so a pipe is first copied
 * to an unlinked temporary file (disk, not memory, grows with the input).
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

static const char usage_text[] =
    "usage: z4pack [-1..-9] [-cfhqVv] [-K depth] [-o file] [-T n] [file]\n";

static _Noreturn void
usage(int code)
{
	fputs(usage_text, code ? stderr : stdout);
	exit(code);
}

/* A seekable copy of a pipe, in an unlinked temporary file. */
static int
spool(int fd)
{
	FILE *t = tmpfile();
	char buf[1 << 16];
	ssize_t n;

	if (t == NULL)
		die(EXIT_SYS, "cannot create a temporary file:");
	int out = dup(fileno(t));
	fclose(t);
	if (out < 0)
		die(EXIT_SYS, "cannot create a temporary file:");
	while ((n = read(fd, buf, sizeof buf)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die(EXIT_SYS, "'(stdin)': read error:");
		}
		if (z4_writeall(out, buf, (size_t)n) != 0)
			die(EXIT_SYS, "cannot write a temporary file:");
	}
	if (lseek(out, 0, SEEK_SET) != 0)
		die(EXIT_SYS, "cannot read a temporary file:");
	return out;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "stdout", no_argument, NULL, 'c' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ "max-depth", required_argument, NULL, 'K' },
		{ "output", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "threads", required_argument, NULL, 'T' },
		{ "version", no_argument, NULL, 'V' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	struct compress_opts co = { .level = 3, .raw_dtype = -1,
	    .max_depth = 16 };
	const char *oflag = NULL;
	int cflag = 0, fflag = 0, ch;

	progname = "z4pack";
	atexit(close_stdout);
	while ((ch = getopt_long(argc, argv, "123456789cfhK:o:qT:Vv", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case '1': case '2': case '3': case '4': case '5':
		case '6': case '7': case '8': case '9':
			co.level = ch - '0';
			break;
		case 'c': cflag = 1; break;
		case 'f': fflag = 1; break;
		case 'h': usage(EXIT_OK);
		case 'K': co.max_depth = opt_depth(optarg); break;
		case 'o': oflag = optarg; break;
		case 'q': verbosity--; break;
		case 'T': co.threads = opt_threads(optarg); break;
		case 'V': version();
		case 'v': verbosity++; break;
		default: usage(EXIT_USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 1)
		usage(EXIT_USAGE);
	if (co.threads == 0)
		co.threads = all_cores();
	const char *in_name = argc ? argv[0] : NULL;
	struct output out;
	struct failure fl;
	struct stat st;
	int ret;

	if (oflag == NULL || strcmp(oflag, "-") == 0)
		refuse_tty_out(STDOUT_FILENO, cflag || fflag);
	int fd = open_input(in_name);
	if (fd < 0)
		return EXIT_SYS;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    lseek(fd, 0, SEEK_CUR) != 0)
		fd = spool(fd);
	if ((ret = output_open(&out, oflag, fflag)))
		return ret;
	int err = run_compress(fd, in_name, out.fd, oflag ? oflag :
	    "(stdout)", &co, &fl);
	return output_finish(&out, err, &fl);
}

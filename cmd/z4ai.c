/*
 * z4ai - the front end: compress, decompress, info and test in one
 * process, with the manners of gzip, xz and zstd (FILE -> FILE.z4 and
 * back, input kept, output atomic, mode and times kept).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

static const char usage_text[] =
    "usage: z4ai compress [-1..-9] [-cfhqRVv] [-B size] [-D dtype] "
    "[-K depth] [-o file] [-r ref] [-T n] [file ...]\n"
    "       z4ai decompress [-cfhqRVv] [-o file] [-r ref] [file ...]\n"
    "       z4ai info [-jv] [-r ref] [file ...]\n"
    "       z4ai test [-r ref] [file ...]\n";

enum mode { COMPRESS, DECOMPRESS, INFO, TEST };

static struct compress_opts co = { .level = 3, .raw_dtype = -1,
    .max_depth = 16 };
static unsigned threads;
static const char *oflag;
static int cflag, fflag, jflag, rmflag;
static const char *rflag;

static _Noreturn void
usage(int code)
{
	fputs(usage_text, code ? stderr : stdout);
	exit(code);
}

static int
is_stdio(const char *path)
{
	return path == NULL || strcmp(path, "-") == 0;
}

static int
has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n > k && strcmp(s + n - k, suffix) == 0;
}

/* The output name for one input, or NULL after a message. */
static char *
output_name(enum mode m, const char *in)
{
	size_t n = strlen(in);
	char *out;

	if (m == COMPRESS) {
		if (has_suffix(in, ".z4")) {
			warnx("'%s' already has the .z4 suffix (use -o)", in);
			return NULL;
		}
		if ((out = malloc(n + 4)) == NULL)
			die(EXIT_SYS, "out of memory");
		memcpy(out, in, n);
		memcpy(out + n, ".z4", 4);
		return out;
	}
	if (!has_suffix(in, ".z4")) {
		warnx("'%s': unknown suffix, .z4 expected (use -o)", in);
		return NULL;
	}
	if ((out = strndup(in, n - 3)) == NULL)
		die(EXIT_SYS, "out of memory");
	return out;
}

static int
code_into(enum mode m, int fd, const char *in, struct output *out)
{
	struct failure fl;
	const char *name = out->path ? out->path : "(stdout)";
	int err = m == COMPRESS ?
	    run_compress(fd, in, out->fd, name, &co, &fl) :
	    run_decompress(fd, in, out->fd, name, co.ref, co.threads, &fl);
	return err ? report(&fl, err) : EXIT_OK;
}

/* Compress or decompress one operand into its own output file. */
static int
one_file(enum mode m, const char *in)
{
	struct output out;
	char *name = NULL;
	int ret;

	if (is_stdio(in) || cflag) {
		if (m == COMPRESS)
			refuse_tty_out(STDOUT_FILENO, cflag || fflag);
	} else if ((name = output_name(m, in)) == NULL) {
		return EXIT_USAGE;
	}
	int fd = open_input(in);
	if (fd < 0) {
		free(name);
		return EXIT_SYS;
	}
	if (m == DECOMPRESS)
		refuse_tty_in(fd, fflag);
	if ((ret = output_open(&out, name, fflag)) == 0) {
		ret = code_into(m, fd, in, &out);
		if (ret == EXIT_OK)
			ret = output_commit(&out, fd);
		else
			output_abort(&out);
	}
	if (ret == EXIT_OK && rmflag && name != NULL && unlink(in) != 0) {
		warnx("cannot remove '%s':", in);
		ret = EXIT_SYS;
	}
	if (fd > 2)
		close(fd);
	free(name);
	return ret;
}

/* Every operand into the one file named by -o, streams back to back. */
static int
all_into(enum mode m, char **files)
{
	struct output out;
	int ret, fd = -1;

	if (m == COMPRESS && is_stdio(oflag))
		refuse_tty_out(STDOUT_FILENO, cflag || fflag);
	if ((ret = output_open(&out, oflag, fflag)))
		return ret;
	for (char **f = files; *f != NULL && ret == EXIT_OK; f++) {
		if ((fd = open_input(*f)) < 0) {
			ret = EXIT_SYS;
			break;
		}
		if (m == DECOMPRESS)
			refuse_tty_in(fd, fflag);
		ret = code_into(m, fd, *f, &out);
		if (f[1] != NULL && fd > 2)
			close(fd);
	}
	if (ret == EXIT_OK)
		ret = output_commit(&out, files[1] == NULL ? fd : -1);
	else
		output_abort(&out);
	if (fd > 2)
		close(fd);
	for (char **f = files; ret == EXIT_OK && rmflag && *f; f++)
		if (!is_stdio(*f) && unlink(*f) != 0) {
			warnx("cannot remove '%s':", *f);
			ret = EXIT_SYS;
		}
	return ret;
}

static int
run(enum mode m, char **files)
{
	int ret = EXIT_OK;

	if ((m == COMPRESS || m == DECOMPRESS) && oflag != NULL)
		return all_into(m, files);
	for (; *files != NULL; files++) {
		int r;
		if (m == COMPRESS || m == DECOMPRESS) {
			r = one_file(m, *files);
		} else {
			struct failure fl;
			int fd = m == TEST ? open_input(*files) : 0;
			int err = fd < 0 ? Z4_E_IO : m == INFO ?
			    run_info(*files, jflag, co.ref, &fl) :
			    run_decompress(fd, *files, -1, NULL, co.ref,
			    co.threads, &fl);
			r = fd < 0 ? EXIT_SYS : err ? report(&fl, err) : 0;
			if (fd > 2)
				close(fd);
		}
		ret = ret ? ret : r;
	}
	return ret;
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
		{ "json", no_argument, NULL, 'j' },
		{ "max-depth", required_argument, NULL, 'K' },
		{ "output", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "threads", required_argument, NULL, 'T' },
		{ "ref", required_argument, NULL, 'r' },
		{ "rm", no_argument, NULL, 'R' },
		{ "version", no_argument, NULL, 'V' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const modes[] = {
		[COMPRESS] = "compress", [DECOMPRESS] = "decompress",
		[INFO] = "info", [TEST] = "test",
	};
	int m = -1, ch;

	progname = "z4ai";
	atexit(close_stdout);
	if (argc > 1)
		for (int i = 0; i < 4; i++)
			if (strcmp(argv[1], modes[i]) == 0)
				m = i;
	/* Options follow the command word; argv[0] stays, for messages. */
	if (m >= 0)
		optind = 2;
	while ((ch = getopt_long(argc, argv, "123456789B:cD:fhjK:o:qRr:T:Vv",
	    longopts, NULL)) != -1) {
		switch (ch) {
		case '1': case '2': case '3': case '4': case '5':
		case '6': case '7': case '8': case '9':
			co.level = ch - '0';
			break;
		case 'B': co.chunk_size = opt_chunk_size(optarg); break;
		case 'c': cflag = 1; break;
		case 'D':
			if ((co.raw_dtype = z4_dtype_parse(optarg)) < 0)
				die(EXIT_USAGE, "unknown dtype '%s'", optarg);
			break;
		case 'f': fflag = 1; break;
		case 'h': usage(EXIT_OK);
		case 'j': jflag = 1; break;
		case 'K': co.max_depth = opt_depth(optarg); break;
		case 'o': oflag = optarg; break;
		case 'q': verbosity--; break;
		case 'R': rmflag = 1; break;
		case 'r': rflag = optarg; break;
		case 'T': threads = opt_threads(optarg); break;
		case 'V': version();
		case 'v': verbosity++; break;
		default: usage(EXIT_USAGE);
		}
	}
	if (threads == 0)
		threads = all_cores();
	co.threads = threads;
	if (m < 0) {
		if (argc > 1)
			warnx("unknown command '%s'", argv[1]);
		usage(EXIT_USAGE);
	}
	argv += optind;
	if (rflag)
		co.ref = open_ref(rflag);
	char *stdin_only[] = { "-", NULL };
	int ret = run((enum mode)m, *argv ? argv : stdin_only);
	z4_ref_free(co.ref);
	return ret;
}

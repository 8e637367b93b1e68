/*
 * z4cat - frame streams back to the original bytes, every checksum
 * verified; or one tensor's bytes, read through the index.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

static const char usage_text[] =
    "usage: z4cat [-cfhqtVv] [-m member] [-n name] [-o file] [-r ref] "
    "[-T n] [file ...]\n";

static const char *mflag, *nflag;
static struct z4_ref *ref;
static int fflag, tflag;
static unsigned threads;

static _Noreturn void
usage(int code)
{
	fputs(usage_text, code ? stderr : stdout);
	exit(code);
}

/* One tensor: by the index on a regular file, by a scan on a pipe. */
static int
cat_tensor(int fd, const char *name, int out_fd, struct failure *fl)
{
	struct z4_in in;
	struct z4_out out;
	struct z4_reader *r = NULL;
	struct stat st;
	int err;

	fl->file = name;
	fl->where[0] = '\0';
	fl->note[0] = '\0';
	if ((err = z4_in_init(&in, fd)))
		return err;
	if ((err = z4_out_init(&out, out_fd))) {
		z4_in_release(&in);
		return err;
	}
	in.ref = ref;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		err = z4_extract(&in, mflag, nflag, &out, fl->where,
		    sizeof fl->where);
	} else if (!(err = z4_reader_new(&r, &in, 0))) {
		err = z4_scan(r, mflag, nflag, &out);
		if ((err == Z4_E_NOT_FOUND || err == Z4_E_NO_MEMBER) && mflag)
			snprintf(fl->where, sizeof fl->where, "member '%s'%s%s%s",
			    mflag, nflag ? ", tensor '" : "", nflag ? nflag : "",
			    nflag ? "'" : "");
		else if (err == Z4_E_NOT_FOUND)
			snprintf(fl->where, sizeof fl->where, "tensor '%s'",
			    nflag);
		else if (err) {
			snprintf(fl->where, sizeof fl->where, "%s",
			    z4_reader_where(r));
			snprintf(fl->note, sizeof fl->note, "%s",
			    z4_reader_note(r));
		}
	}
	if (!err)
		err = z4_out_flush(&out);	/* with -t, a sink */
	if (!err && verbosity >= 2 && S_ISREG(st.st_mode))
		warnx("'%s': read %llu of %llu bytes", shown(name),
		    (unsigned long long)in.bytes_read,
		    (unsigned long long)st.st_size);
	else if (!err && verbosity >= 2)
		warnx("'%s': read %llu bytes", shown(name),
		    (unsigned long long)in.bytes_read);
	z4_reader_free(r);
	z4_out_release(&out);
	z4_in_release(&in);
	return err;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "stdout", no_argument, NULL, 'c' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ "member", required_argument, NULL, 'm' },
		{ "name", required_argument, NULL, 'n' },
		{ "output", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "ref", required_argument, NULL, 'r' },
		{ "test", no_argument, NULL, 't' },
		{ "threads", required_argument, NULL, 'T' },
		{ "version", no_argument, NULL, 'V' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	const char *oflag = NULL;
	int ch, ret = EXIT_OK;

	progname = "z4cat";
	atexit(close_stdout);
	while ((ch = getopt_long(argc, argv, "cfhm:n:o:qr:T:tVv", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c': break;	/* output goes to stdout already */
		case 'f': fflag = 1; break;
		case 'h': usage(EXIT_OK);
		case 'm': mflag = optarg; break;
		case 'n': nflag = optarg; break;
		case 'o': oflag = optarg; break;
		case 'q': verbosity--; break;
		case 'r': ref = open_ref(optarg); break;
		case 'T': threads = opt_threads(optarg); break;
		case 't': tflag = 1; break;
		case 'V': version();
		case 'v': verbosity++; break;
		default: usage(EXIT_USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if (tflag && oflag)
		die(EXIT_USAGE, "-t writes nothing: -o makes no sense with it");
	if (threads == 0)
		threads = all_cores();
	char *stdin_only[] = { "-", NULL };
	if (argc == 0)
		argv = stdin_only;

	struct output out;
	struct failure fl;
	if (!tflag && (ret = output_open(&out, oflag, fflag)))
		return ret;
	for (; *argv != NULL && ret == EXIT_OK; argv++) {
		int fd = open_input(*argv);
		if (fd < 0) {
			ret = EXIT_SYS;
			break;
		}
		refuse_tty_in(fd, fflag);
		int err;
		if (nflag || mflag)
			err = cat_tensor(fd, *argv, tflag ? -1 : out.fd, &fl);
		else
			err = run_decompress(fd, *argv, tflag ? -1 : out.fd,
			    oflag ? oflag : "(stdout)", ref, threads, &fl);
		if (err)
			ret = report(&fl, err);
		if (fd > 2)
			close(fd);
	}
	z4_ref_free(ref);
	if (tflag)
		return ret;
	if (ret != EXIT_OK) {
		output_abort(&out);
		return ret;
	}
	return output_commit(&out, -1);
}

/*
 * util.c - messages, atomic output, progress and the pipelines shared by
 * the commands.  The library never prints; this is where it is done.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

const char *progname = "z4";
int verbosity = 1;

static void
vmsg(const char *fmt, va_list ap)
{
	int saved = errno;
	fprintf(stderr, "%s: ", progname);
	vfprintf(stderr, fmt, ap);
	size_t n = strlen(fmt);
	if (n && fmt[n - 1] == ':')
		fprintf(stderr, " %s", strerror(saved));
	fputc('\n', stderr);
}

void
warnx(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

void
die(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	exit(code);
}

int
exit_code(int err)
{
	if (z4_err_is_data(err))
		return EXIT_DATA;
	return err == Z4_E_USAGE ? EXIT_USAGE : EXIT_SYS;
}

const char *
errtext(int err)
{
	return err == Z4_E_IO ? strerror(errno) : z4_strerror(err);
}

const char *
shown(const char *path)
{
	return path == NULL || strcmp(path, "-") == 0 ? "(stdin)" : path;
}

void
version(void)
{
	printf("%s %s (libz4 %s, format %d.%d)\n", progname,
	    Z4_VERSION_STRING, Z4_VERSION_STRING, Z4_FORMAT_MAJOR,
	    Z4_FORMAT_MINOR);
	exit(EXIT_OK);
}

int
parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -1;
	unsigned shift = 0;
	if (*end == 'K' || *end == 'k')
		shift = 10;
	else if (*end == 'M' || *end == 'm')
		shift = 20;
	if (shift)
		end++;
	if (*end != '\0' || v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

unsigned
all_cores(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > Z4_THREADS_MAX ? Z4_THREADS_MAX : (unsigned)n;
}

unsigned
opt_threads(const char *s)
{
	uint64_t v;
	if (parse_size(s, &v) || v > Z4_THREADS_MAX)
		die(EXIT_USAGE, "bad thread count '%s'", s);
	return v ? (unsigned)v : all_cores();
}

size_t
opt_chunk_size(const char *s)
{
	uint64_t v;
	if (parse_size(s, &v) || v == 0 || v > Z4_CHUNK_MAX)
		die(EXIT_USAGE, "bad chunk size '%s' (1 to 64M)", s);
	return (size_t)v;
}

unsigned
opt_depth(const char *s)
{
	uint64_t v;
	if (parse_size(s, &v) || v > Z4_DEPTH_MAX)
		die(EXIT_USAGE, "bad delta depth '%s' (0 to %d)", s,
		    Z4_DEPTH_MAX);
	return (unsigned)v;
}

void
close_stdout(void)
{
	if (fflush(stdout) != 0 || ferror(stdout) || fclose(stdout) != 0) {
		warnx("error writing standard output:");
		_exit(EXIT_SYS);
	}
}

/* The temporary file a signal must remove; one at a time. */
static char signal_tmp[4096];

static void
on_signal(int sig)
{
	if (signal_tmp[0])
		unlink(signal_tmp);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void
block_signals(sigset_t *old)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, old);
}

/*
 * Create the temporary file and name it to the signal handler with
 * signals held, so no signal can come between the two and leave it.
 */
static int
make_tmp(char *tmp)
{
	static int installed;
	sigset_t old;

	block_signals(&old);
	if (!installed) {
		struct sigaction sa = { .sa_handler = on_signal };
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
		installed = 1;
	}
	int fd = mkstemp(tmp);
	size_t n = strlen(tmp);
	if (fd >= 0 && n < sizeof signal_tmp)
		memcpy(signal_tmp, tmp, n + 1);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return fd;
}

static void
forget_tmp(void)
{
	sigset_t old;
	block_signals(&old);
	signal_tmp[0] = '\0';
	sigprocmask(SIG_SETMASK, &old, NULL);
}

int
output_open(struct output *o, const char *path, int force)
{
	o->path = path;
	o->tmp = NULL;
	o->fd = STDOUT_FILENO;
	if (path == NULL || strcmp(path, "-") == 0) {
		o->path = NULL;
		return 0;
	}
	if (!force && access(path, F_OK) == 0) {
		warnx("'%s' already exists (use -f to overwrite)", path);
		return EXIT_USAGE;
	}
	size_t n = strlen(path) + sizeof ".XXXXXX";
	if ((o->tmp = malloc(n)) == NULL)
		die(EXIT_SYS, "out of memory");
	snprintf(o->tmp, n, "%s.XXXXXX", path);
	if ((o->fd = make_tmp(o->tmp)) < 0) {
		warnx("cannot create '%s':", path);
		free(o->tmp);
		o->tmp = NULL;
		return EXIT_SYS;
	}
	return 0;
}

int
output_commit(struct output *o, int like_fd)
{
	struct stat st;

	if (o->tmp == NULL)
		return 0;
	if (like_fd >= 0 && fstat(like_fd, &st) == 0 && S_ISREG(st.st_mode)) {
		struct timespec ts[2] = { st.st_atim, st.st_mtim };
		fchmod(o->fd, st.st_mode & 07777);
		futimens(o->fd, ts);
	} else {
		/* A new file from a pipe: the usual mode, less the umask. */
		mode_t um = umask(0);
		umask(um);
		fchmod(o->fd, 0666 & ~um);
	}
	if (close(o->fd) != 0 || rename(o->tmp, o->path) != 0) {
		warnx("cannot write '%s':", o->path);
		output_abort(o);
		return EXIT_SYS;
	}
	forget_tmp();
	free(o->tmp);
	o->tmp = NULL;
	return 0;
}

int
output_finish(struct output *o, int err, const struct failure *fl)
{
	if (err) {
		output_abort(o);
		return report(fl, err);
	}
	return output_commit(o, -1);
}

void
output_abort(struct output *o)
{
	if (o->tmp == NULL)
		return;
	close(o->fd);
	unlink(o->tmp);
	forget_tmp();
	free(o->tmp);
	o->tmp = NULL;
}

void
refuse_tty_out(int fd, int allowed)
{
	if (!allowed && isatty(fd))
		die(EXIT_USAGE,
		    "refusing to write frames to a terminal (use -c or -f)");
}

void
refuse_tty_in(int fd, int allowed)
{
	if (!allowed && isatty(fd))
		die(EXIT_USAGE,
		    "refusing to read frames from a terminal (use -f)");
}

int
open_input(const char *path)
{
	if (path == NULL || strcmp(path, "-") == 0)
		return STDIN_FILENO;
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		warnx("cannot read '%s':", path);
	return fd;
}

#define PROGRESS_MIN (64u << 20)

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void
progress_start(struct progress *p, int fd, const char *name)
{
	struct stat st;

	p->on = 0;
	p->name = name;
	p->total = 0;
	p->last = 0;
	if (verbosity < 1 || !isatty(STDERR_FILENO))
		return;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		if ((uint64_t)st.st_size <= PROGRESS_MIN)
			return;
		p->total = (uint64_t)st.st_size;
	}
	p->on = 1;
}

void
progress_show(struct progress *p, uint64_t done)
{
	if (!p->on || done < PROGRESS_MIN)
		return;
	double t = now();
	if (t - p->last < 0.2)
		return;
	p->last = t;
	if (p->total)
		fprintf(stderr, "\r%s: %s: %llu of %llu MiB (%u%%)  ",
		    progname, p->name, (unsigned long long)(done >> 20),
		    (unsigned long long)(p->total >> 20),
		    (unsigned)(done * 100 / p->total));
	else
		fprintf(stderr, "\r%s: %s: %llu MiB  ", progname, p->name,
		    (unsigned long long)(done >> 20));
}

void
progress_end(struct progress *p)
{
	if (p->on && p->last > 0)
		fprintf(stderr, "\r\033[K");
}

int
report(const struct failure *fl, int err)
{
	const char *what = fl->note[0] ? fl->note : errtext(err);
	if (fl->where[0])
		warnx("'%s': %s: %s", shown(fl->file), fl->where, what);
	else
		warnx("'%s': %s", shown(fl->file), what);
	return exit_code(err);
}

struct z4_ref *
open_ref(const char *path)
{
	struct z4_ref *r;
	int fd = open(path, O_RDONLY), err;

	if (fd < 0)
		die(EXIT_SYS, "cannot read '%s':", path);
	if ((err = z4_ref_open(&r, fd)))
		die(exit_code(err), "'%s': %s", path, errtext(err));
	/* The descriptor stays open for the reference's life: the run's. */
	return r;
}

/*
 * util.h - what every command shares: messages, exit codes, options,
 * atomic output, progress, and the pipelines the tools are made of.
 */
#ifndef Z4_CMD_UTIL_H
#define Z4_CMD_UTIL_H

#include <stdint.h>
#include <stdio.h>

#include "z4.h"

enum exit_code {
	EXIT_OK = 0,
	EXIT_DATA = 1,		/* bad or corrupt input */
	EXIT_USAGE = 2,
	EXIT_SYS = 3,		/* system or I/O failure */
};

extern const char *progname;
extern int verbosity;		/* 1 by default; -q lowers, -v raises */

/* "prog: message"; a trailing ':' appends strerror(errno). */
void warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void die(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Exit status for a libz4 error. */
int exit_code(int err);
/* The text for a libz4 error; strerror(errno) for I/O failures. */
const char *errtext(int err);
/* How a file operand is named in messages: "(stdin)" for "-". */
const char *shown(const char *path);
/* Print "prog VERSION (libz4 VERSION, format X.Y)" and exit 0. */
_Noreturn void version(void);
/* Parse "4096", "64K", "4M"; returns 0 on success. */
int parse_size(const char *s, uint64_t *out);
/* Check stdout and close it; at exit, from every command. */
void close_stdout(void);

/*
 * An output file written under a temporary name and renamed into place
 * only on success; on a signal or failure the temporary file is removed.
 * path NULL or "-" means standard output.
 */
struct output {
	const char *path;
	char *tmp;
	int fd;
};

/* 0 ok; else prints why and returns an exit code. */
int output_open(struct output *o, const char *path, int force);
int output_commit(struct output *o, int like_fd);
/*
 * After a pipeline wrote into o: on success commit it, on failure (err,
 * described by fl, which report() prints) remove it; the exit code.
 */
struct failure;
int output_finish(struct output *o, int err, const struct failure *fl);
void output_abort(struct output *o);
/* Refuse frames on a terminal unless allowed; exits 2. */
void refuse_tty_out(int fd, int allowed);
void refuse_tty_in(int fd, int allowed);

/* Open a file operand for reading ("-": stdin); -1 after a message. */
int open_input(const char *path);

/* Progress on stderr for large inputs on a terminal. */
struct progress {
	int on;
	uint64_t total;
	double last;
	const char *name;
};

void progress_start(struct progress *p, int fd, const char *name);
void progress_show(struct progress *p, uint64_t done);
void progress_end(struct progress *p);

/* Where a pipeline failed: which file, and where in it. */
struct failure {
	const char *file;
	char where[Z4_NAME_MAX + 80];
	char note[256];		/* said instead of the error's text */
};

/* Report a failure as one line and return the exit code for it. */
int report(const struct failure *fl, int err);

/* bytes -> frames, each plane coded at level (0: stored). */
struct compress_opts {
	int level;
	unsigned threads;
	struct z4_ref *ref;	/* deltas against this, or NULL */
	unsigned max_depth;	/* deltas between archive members: -K */
	size_t chunk_size;
	int raw_dtype;
};

int run_compress(int in_fd, const char *in_name, int out_fd,
    const char *out_name, const struct compress_opts *o,
    struct failure *fl);
/*
 * What run_recode does to frames: z4plane codes their stored planes,
 * z4delta codes each chunk afresh against the reference, z4pal takes out
 * redundancy and leaves planes stored.
 */
enum recode_mode { RECODE_PLANES, RECODE_DELTA, RECODE_DETECT };
/* frames -> frames, at level, as mode says. */
int run_recode(int in_fd, const char *in_name, int out_fd,
    const char *out_name, int level, unsigned threads, struct z4_ref *ref,
    enum recode_mode mode, struct failure *fl);
/*
 * Option arguments, checked: a bad one is a usage error (exit 2) with the
 * same message in every tool.  -T 0 means every core.
 */
unsigned opt_threads(const char *s);
size_t opt_chunk_size(const char *s);
unsigned opt_depth(const char *s);
/* The number of cores, the default for -T. */
unsigned all_cores(void);
/* frames -> original bytes, decoded on threads; out_fd -1 only tests. */
int run_decompress(int in_fd, const char *in_name, int out_fd,
    const char *out_name, struct z4_ref *ref, unsigned threads,
    struct failure *fl);
/* Open a reference checkpoint for -r; exits with a message on failure. */
struct z4_ref *open_ref(const char *path);

/* The main of z4plane, z4delta and z4pal. */
int recode_main(int argc, char *argv[], const char *name, const char *text,
    enum recode_mode mode);

/* The z4info report of one file; json selects JSON output. */
int run_info(const char *path, int json, struct z4_ref *ref,
    struct failure *fl);

#endif

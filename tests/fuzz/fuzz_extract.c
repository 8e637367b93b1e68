/*
 * fuzz_extract.c - random access, as z4cat -n and -m read a file:
 * trailers from the end, an index, one tensor's frames.  The first byte
 * of the input gives the length of a name taken from the bytes after it,
 * looked for as a tensor and as an archive member; the rest is the file,
 * read as it is and with its checksums made right.  Each is also looked
 * for by a sequential scan: when the scan reads the whole file without
 * error, random access must agree with it.
 */
#include <stdio.h>

#include "fuzz.h"

/* Extract member and name from fd, by seeking or scanning, onto got. */
static int
extract(int fd, const char *member, const char *name, int seek,
    struct z4_buf *got)
{
	struct z4_in in;
	struct z4_out out;
	struct z4_reader *r;
	char where[64];
	int out_fd = memfd_create("tensor", 0), err;

	fuzz_rewind(fd);
	if (out_fd < 0 || z4_in_init(&in, fd) || z4_out_init(&out, out_fd))
		abort();
	if (seek) {
		err = z4_extract(&in, member, name, &out, where, sizeof where);
		if (strlen(where) == 0)
			abort();
	} else {
		if (z4_reader_new(&r, &in, 0))
			abort();
		err = z4_scan(r, member, name, &out);
		z4_reader_free(r);
	}
	if (z4_out_flush(&out))
		abort();
	fuzz_slurp(out_fd, got);
	close(out_fd);
	z4_in_release(&in);
	z4_out_release(&out);
	return err;
}

static void
check(int fd, const char *member, const char *name)
{
	struct z4_buf a = { 0 }, b = { 0 };
	int err = extract(fd, member, name, 1, &a);
	int scan = extract(fd, member, name, 0, &b);

	if ((scan == 0 || scan == Z4_E_NOT_FOUND || scan == Z4_E_NO_MEMBER) &&
	    (err != scan ||
	    (err == 0 && (a.len != b.len ||
	    (a.len && memcmp(a.p, b.p, a.len) != 0)))))
		abort();
	z4_buf_release(&a);
	z4_buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "a", "b", "c", "" };
	char name[16];

	if (size < 1)
		return 0;
	size_t len = data[0] % sizeof name;
	if (len > size - 1)
		len = size - 1;
	memcpy(name, data + 1, len);
	name[len] = '\0';
	const uint8_t *p = data + 1 + len;
	size_t n = size - 1 - len;
	uint8_t *fixed = malloc(n ? n : 1);
	if (fixed == NULL)
		abort();
	memcpy(fixed, p, n);
	fuzz_fix(fixed, n);
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1 && (n == 0 || memcmp(fixed, p, n) == 0))
			break;
		int fd = fuzz_file(pass ? fixed : p, n);
		check(fd, NULL, name);
		check(fd, name, NULL);
		for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
			if (strcmp(names[i], name) != 0)
				check(fd, NULL, names[i]);
		close(fd);
	}
	free(fixed);
	return 0;
}

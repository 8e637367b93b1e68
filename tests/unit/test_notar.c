/*
 * test_notar.c - tar input when libarchive cannot be loaded.
 *
 * Linked with container_tar.c built to load a library that does not
 * exist: a tar stream must then fail with Z4_E_LIBARCHIVE, a system error
 * (exit 3 in the tools), and never be taken for opaque bytes.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

static int failed, passed;

#define CHECK(cond) check((cond), #cond, __LINE__)

static void
check(int ok, const char *what, int line)
{
	if (ok) {
		passed++;
		return;
	}
	failed++;
	fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, line, what);
}

int
main(void)
{
	/* A header block with the ustar magic, then two of zeros. */
	static uint8_t tar[1536];
	FILE *fp = tmpfile();
	struct z4_split_opts so = { .raw_dtype = -1 };
	struct z4_split *s = NULL;
	struct z4_in in;

	memcpy(tar, "model.safetensors", 17);
	memcpy(tar + 257, "ustar", 5);
	if (fp == NULL || fwrite(tar, 1, sizeof tar, fp) != sizeof tar ||
	    fflush(fp) != 0 || z4_in_init(&in, fileno(fp)) != 0)
		return 2;
	int err = z4_split_new(&s, &in, &so);
	CHECK(err == Z4_E_LIBARCHIVE && s == NULL);
	CHECK(!z4_err_is_data(err));
	CHECK(strcmp(z4_strerror(err),
	    "tar input needs libarchive, which cannot be loaded") == 0);
	z4_in_release(&in);
	fclose(fp);
	printf("notar: %d passed, %d failed\n", passed, failed);
	return failed != 0;
}

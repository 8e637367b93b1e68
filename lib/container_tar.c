/*
 * container_tar.c - a tar stream as members: where each member's data
 * starts and how long it is, so that checkpoints inside an archive are
 * parsed like files of their own while the tar headers and padding stay
 * glue, byte for byte.
 *
 * libarchive reads the archive (ustar, pax, GNU) and says where each
 * entry's headers start.  The data follows the entry's last header
 * block: extended headers (pax 'x' and 'g', GNU 'L' and 'K') are stepped
 * over by their size fields, and the first bytes of the data are checked
 * against what libarchive read, so a member whose layout is anything else
 * (a GNU sparse file, say) is simply left in the glue.
 *
 * libarchive, with the libraries it needs in turn, takes a few
 * milliseconds to load, three times what the rest of a tool takes to
 * start; so it is loaded with dlopen(3), when a tar stream first comes,
 * and never for a checkpoint.  Its functions are called through the
 * pointers below, which keep the types of its header.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "internal.h"

#ifndef Z4_LIBARCHIVE
#define Z4_LIBARCHIVE "libarchive.so.13"
#endif

#define LA_FUNCTIONS(X) \
	X(archive_read_new) X(archive_read_support_format_tar) \
	X(archive_read_support_format_gnutar) X(archive_read_open_fd) \
	X(archive_read_next_header) X(archive_read_header_position) \
	X(archive_read_data) X(archive_read_free) \
	X(archive_entry_pathname) X(archive_entry_size) \
	X(archive_entry_filetype) X(archive_entry_hardlink) \
	X(archive_entry_sparse_count)

static struct {
#define LA_POINTER(f) __typeof__(f) *f;
	LA_FUNCTIONS(LA_POINTER)
#undef LA_POINTER
} la;
static int la_loaded;

static void
la_load(void)
{
	void *h = dlopen(Z4_LIBARCHIVE, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL)
		return;
#define LA_LOAD(f) if ((*(void **)&la.f = dlsym(h, #f)) == NULL) return;
	LA_FUNCTIONS(LA_LOAD)
#undef LA_LOAD
	la_loaded = 1;	/* the handle stays open for the process */
}

/* Whether libarchive could be loaded (once a process). */
static int
la_ready(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, la_load);
	return la_loaded;
}

#define BLOCK 512

static uint64_t
octal(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	if (p[0] & 0x80) {	/* base-256, for sizes past 8 GiB */
		for (size_t i = 1; i < n; i++)
			v = v << 8 | p[i];
		return v;
	}
	for (size_t i = 0; i < n && p[i] != 0 && p[i] != ' '; i++) {
		if (p[i] < '0' || p[i] > '7')
			return UINT64_MAX;
		v = v << 3 | (uint64_t)(p[i] - '0');
	}
	return v;
}

/* Where the data of the entry whose headers start at pos begins. */
static int
data_start(int fd, uint64_t pos, uint64_t end, uint64_t *start)
{
	uint8_t b[BLOCK];

	for (int hops = 0; hops < 16 && pos + BLOCK <= end; hops++) {
		if (pread(fd, b, BLOCK, (off_t)pos) != BLOCK)
			return -1;
		unsigned type = b[156];
		if (type != 'x' && type != 'g' && type != 'L' && type != 'K') {
			*start = pos + BLOCK;
			return 0;
		}
		uint64_t size = octal(b + 124, 12);
		if (size == UINT64_MAX || size > end)
			return -1;
		pos += BLOCK + (size + BLOCK - 1) / BLOCK * BLOCK;
	}
	return -1;
}

int
z4_tar_members(int fd, uint64_t size, struct z4_member **out, size_t *count)
{
	struct archive *a;
	struct archive_entry *e;
	struct z4_member *m = NULL;
	/* Until the end, a member's name is at this offset in names. */
	size_t *name_at = NULL;
	struct z4_buf names = { 0 };
	size_t n = 0, cap = 0, cap_at = 0;
	int ret = 0, r;
	uint8_t first[BLOCK], check[BLOCK];

	*out = NULL;
	*count = 0;
	if (!la_ready())
		return Z4_E_LIBARCHIVE;
	if ((a = la.archive_read_new()) == NULL)
		return Z4_E_NOMEM;
	la.archive_read_support_format_tar(a);
	la.archive_read_support_format_gnutar(a);
	if (lseek(fd, 0, SEEK_SET) != 0 ||
	    la.archive_read_open_fd(a, fd, 64 << 10) != ARCHIVE_OK) {
		la.archive_read_free(a);
		/* Not a tar stream: no members, and the input as it was. */
		return lseek(fd, 0, SEEK_SET) == 0 ? 0 : Z4_E_IO;
	}
	while ((r = la.archive_read_next_header(a, &e)) == ARCHIVE_OK ||
	    r == ARCHIVE_WARN) {
		const char *name = la.archive_entry_pathname(e);
		int64_t sz = la.archive_entry_size(e);
		uint64_t at = (uint64_t)la.archive_read_header_position(a), st;
		if (name == NULL || sz < 0 || strlen(name) > Z4_NAME_MAX ||
		    la.archive_entry_filetype(e) != AE_IFREG ||
		    la.archive_entry_hardlink(e) != NULL ||
		    la.archive_entry_sparse_count(e) > 0 ||
		    data_start(fd, at, size, &st) != 0 ||
		    st + (uint64_t)sz > size)
			continue;
		/* The first bytes must be the ones libarchive reads. */
		size_t k = (uint64_t)sz < BLOCK ? (size_t)sz : BLOCK;
		if (k > 0 && (la.archive_read_data(a, first, k) != (la_ssize_t)k ||
		    pread(fd, check, k, (off_t)st) != (ssize_t)k ||
		    memcmp(first, check, k) != 0))
			continue;
		size_t len = strlen(name);
		if ((ret = z4_array_room(&m, &cap, n, sizeof *m)) ||
		    (ret = z4_array_room(&name_at, &cap_at, n,
		    sizeof *name_at)))
			break;
		name_at[n] = names.len;
		if ((ret = z4_buf_add(&names, name, len + 1)))
			break;
		m[n++] = (struct z4_member){ NULL, len, st, (uint64_t)sz };
	}
	la.archive_read_free(a);
	if (!ret && lseek(fd, 0, SEEK_SET) != 0)
		ret = Z4_E_IO;
	/* Members in order, none overlapping: anything else stays glue. */
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (k == 0 || m[i].begin >= m[k - 1].begin + m[k - 1].size +
		    (m[k - 1].size == 0)) {
			m[k] = m[i];
			name_at[k++] = name_at[i];
		}
	/* The members, then their names, in one block. */
	struct z4_member *all = NULL;
	if (!ret && k > 0 &&
	    (all = malloc(k * sizeof *all + names.len)) == NULL)
		ret = Z4_E_NOMEM;
	if (!ret && k > 0) {
		char *to = (char *)(all + k);
		for (size_t i = 0; i < k; i++) {
			all[i] = m[i];
			all[i].name = memcpy(to, names.p + name_at[i],
			    m[i].name_len + 1);
			to += m[i].name_len + 1;
		}
	}
	free(m);
	free(name_at);
	z4_buf_release(&names);
	if (ret)
		return ret;
	*out = all;
	*count = k;
	return 0;
}

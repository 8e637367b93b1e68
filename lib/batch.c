/*
 * batch.c - coding many frames at once on several threads.
 *
 * Frames are independent: each is coded from its own bytes into its own
 * buffers, so the output is the same whatever the number of threads, and
 * the caller writes the frames in their order.  Threads take the next
 * frame from a shared counter, so a batch of one large and many small
 * frames still keeps every thread busy.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "internal.h"

struct batch {
	struct z4_frame *const *frames;
	size_t n;
	const struct z4_encode_opts *opts;
	atomic_size_t next;
	atomic_int err;
};

static void *
worker(void *arg)
{
	struct batch *b = arg;
	size_t i;

	while ((i = atomic_fetch_add(&b->next, 1)) < b->n) {
		int err = b->opts->recode ?
		    z4_frame_recode(b->frames[i], b->opts) :
		    z4_frame_encode(b->frames[i], b->opts);
		if (err) {
			int none = 0;
			atomic_compare_exchange_strong(&b->err, &none, err);
		}
	}
	return NULL;
}

int
z4_encode_frames(struct z4_frame *const *frames, size_t n,
    const struct z4_encode_opts *o, unsigned threads)
{
	struct batch b = { .frames = frames, .n = n, .opts = o };
	pthread_t tid[Z4_THREADS_MAX];
	unsigned started = 0;

	atomic_init(&b.next, 0);
	atomic_init(&b.err, 0);
	if (threads > Z4_THREADS_MAX)
		threads = Z4_THREADS_MAX;
	if (threads > n)
		threads = (unsigned)n;
	/* This thread is one of the workers. */
	while (started + 1 < threads &&
	    pthread_create(&tid[started], NULL, worker, &b) == 0)
		started++;
	worker(&b);
	for (unsigned i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	return atomic_load(&b.err);
}

/*
 * batch.c - coding or decoding many frames at once on several threads.
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
	const struct z4_encode_opts *opts;	/* NULL: decoding */
	int *errs;				/* decoding: each frame's */
	atomic_size_t next;
	atomic_int err;
};

static void *
worker(void *arg)
{
	struct batch *b = arg;
	size_t i;

	while ((i = atomic_fetch_add(&b->next, 1)) < b->n) {
		int err;
		if (b->opts == NULL) {
			b->errs[i] = z4_frame_decode_deferred(b->frames[i]);
			continue;
		}
		err = b->opts->recode ? z4_frame_recode(b->frames[i], b->opts) :
		    z4_frame_encode(b->frames[i], b->opts);
		if (err) {
			int none = 0;
			atomic_compare_exchange_strong(&b->err, &none, err);
		}
	}
	return NULL;
}

static int
run(struct batch *b, unsigned threads)
{
	pthread_t tid[Z4_THREADS_MAX];
	unsigned started = 0;

	atomic_init(&b->next, 0);
	atomic_init(&b->err, 0);
	if (threads > Z4_THREADS_MAX)
		threads = Z4_THREADS_MAX;
	if (threads > b->n)
		threads = (unsigned)b->n;
	/* This thread is one of the workers. */
	while (started + 1 < threads &&
	    pthread_create(&tid[started], NULL, worker, b) == 0)
		started++;
	worker(b);
	for (unsigned i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	return atomic_load(&b->err);
}

int
z4_encode_frames(struct z4_frame *const *frames, size_t n,
    const struct z4_encode_opts *o, unsigned threads)
{
	struct batch b = { .frames = frames, .n = n, .opts = o };
	return run(&b, threads);
}

void
z4_decode_frames(struct z4_frame *const *frames, int *errs, size_t n,
    unsigned threads)
{
	struct batch b = { .frames = frames, .n = n, .errs = errs };
	run(&b, threads);
}

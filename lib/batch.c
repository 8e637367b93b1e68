/*
 * batch.c - coding or decoding frames on several threads.
 *
 * Frames are independent: each is coded from its own bytes into its own
 * buffers, so the output is the same whatever the number of threads, and
 * the caller writes the frames in their order.
 *
 * A batch codes a set of frames at once: threads take the next frame
 * from a shared counter, so one large and many small frames still keep
 * every thread busy.  A pool keeps its threads and a queue: the caller
 * reads and queues frames and takes them back, oldest first, while the
 * threads code the ones behind, so reading and writing overlap coding.
 */
#include <pthread.h>
#include <stdlib.h>
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

enum { QUEUED, RUNNING, DONE };

struct job {
	struct z4_frame *f;
	const struct z4_encode_opts *o;	/* NULL: decoding */
	int state, err;
};

struct z4_pool {
	pthread_mutex_t mu;
	pthread_cond_t work;	/* a job was queued, or the pool ends */
	pthread_cond_t done;	/* a job was done */
	struct job jobs[Z4_POOL_MAX];
	unsigned head, count;	/* the queue: its oldest job, its length */
	unsigned taken;		/* jobs from the oldest on that a thread has */
	int ending;
	unsigned nthreads;
	pthread_t tid[Z4_THREADS_MAX];
};

static int
run_job(struct job *j)
{
	if (j->o == NULL)
		return z4_frame_decode_deferred(j->f);
	return j->o->recode ? z4_frame_recode(j->f, j->o) :
	    z4_frame_encode(j->f, j->o);
}

/*
 * With the lock held: run the oldest job no thread has yet, the lock let
 * go meanwhile, and mark it done.  Jobs are taken in order, so when the
 * oldest of all is still queued, it is the one run.
 */
static void
run_next(struct z4_pool *p)
{
	struct job *j = &p->jobs[(p->head + p->taken++) % Z4_POOL_MAX];
	j->state = RUNNING;
	pthread_mutex_unlock(&p->mu);
	int err = run_job(j);
	pthread_mutex_lock(&p->mu);
	j->err = err;
	j->state = DONE;
	pthread_cond_broadcast(&p->done);
}

static void *
pool_worker(void *arg)
{
	struct z4_pool *p = arg;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->ending && p->taken == p->count)
			pthread_cond_wait(&p->work, &p->mu);
		if (p->ending)
			break;
		run_next(p);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int
z4_pool_new(struct z4_pool **pp, unsigned threads)
{
	struct z4_pool *p = calloc(1, sizeof *p);

	*pp = NULL;
	if (p == NULL)
		return Z4_E_NOMEM;
	if (pthread_mutex_init(&p->mu, NULL)) {
		free(p);
		return Z4_E_NOMEM;
	}
	if (pthread_cond_init(&p->work, NULL)) {
		pthread_mutex_destroy(&p->mu);
		free(p);
		return Z4_E_NOMEM;
	}
	if (pthread_cond_init(&p->done, NULL)) {
		pthread_cond_destroy(&p->work);
		pthread_mutex_destroy(&p->mu);
		free(p);
		return Z4_E_NOMEM;
	}
	if (threads > Z4_THREADS_MAX)
		threads = Z4_THREADS_MAX;
	/* Fewer threads than asked still work: z4_pool_take runs jobs too. */
	while (p->nthreads < threads &&
	    pthread_create(&p->tid[p->nthreads], NULL, pool_worker, p) == 0)
		p->nthreads++;
	*pp = p;
	return 0;
}

void
z4_pool_free(struct z4_pool *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->ending = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->tid[i], NULL);
	pthread_cond_destroy(&p->done);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

int
z4_pool_put(struct z4_pool *p, struct z4_frame *f,
    const struct z4_encode_opts *o)
{
	pthread_mutex_lock(&p->mu);
	if (p->count == Z4_POOL_MAX) {
		pthread_mutex_unlock(&p->mu);
		return Z4_E_USAGE;
	}
	p->jobs[(p->head + p->count++) % Z4_POOL_MAX] =
	    (struct job){ f, o, QUEUED, 0 };
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

int
z4_pool_take(struct z4_pool *p, struct z4_frame **f)
{
	pthread_mutex_lock(&p->mu);
	if (p->count == 0) {
		pthread_mutex_unlock(&p->mu);
		*f = NULL;
		return Z4_E_USAGE;
	}
	struct job *j = &p->jobs[p->head];
	/* No thread has it yet: better to code it than to wait. */
	if (j->state == QUEUED)
		run_next(p);
	while (j->state != DONE)
		pthread_cond_wait(&p->done, &p->mu);
	*f = j->f;
	int err = j->err;
	p->head = (p->head + 1) % Z4_POOL_MAX;
	p->count--;
	p->taken--;
	pthread_mutex_unlock(&p->mu);
	return err;
}

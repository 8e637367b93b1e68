/*
 * batch.c - coding or decoding frames on several threads.
 *
 * Frames are independent: each is coded from its own bytes into its own
 * buffers, so the output is the same whatever the number of threads, and
 * the caller writes the frames in their order.
 *
 * A pool keeps its threads and a queue: the caller reads and queues
 * frames and takes them back, oldest first, while the threads code the
 * ones behind, so reading and writing overlap coding.  A batch is the
 * same pool, given a set of frames at once.
 */
#include <pthread.h>
#include <stdlib.h>

#include "internal.h"

enum { QUEUED, RUNNING, DONE };

struct job {
	struct z4_frame *f;
	const struct z4_encode_opts *o;	/* NULL: decoding */
	int state, err;
};

struct z4_pool {
	pthread_mutex_t mu;
	pthread_cond_t work;	/* a job was queued, or the pool ends */
	pthread_cond_t done;	/* the jobs the caller waits for are done */
	struct job jobs[Z4_POOL_MAX];
	unsigned head, count;	/* the queue: its oldest job, its length */
	unsigned want;		/* the caller waits for this many oldest */
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
	if (j->o->detect)
		return z4_frame_detect(j->f, j->o);
	return j->o->recode ? z4_frame_recode(j->f, j->o) :
	    z4_frame_encode(j->f, j->o);
}

/* With the lock held: how many of the oldest jobs are done. */
static unsigned
oldest_done(const struct z4_pool *p)
{
	unsigned n = 0;
	while (n < p->count && p->jobs[(p->head + n) % Z4_POOL_MAX].state ==
	    DONE)
		n++;
	return n;
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
	/* Waking the caller for less than it waits for costs a switch. */
	if (p->want && oldest_done(p) >= p->want)
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
	p->want = 1;
	while (j->state != DONE)
		pthread_cond_wait(&p->done, &p->mu);
	p->want = 0;
	*f = j->f;
	int err = j->err;
	p->head = (p->head + 1) % Z4_POOL_MAX;
	p->count--;
	p->taken--;
	pthread_mutex_unlock(&p->mu);
	return err;
}

void
z4_pool_wait(struct z4_pool *p, unsigned n)
{
	pthread_mutex_lock(&p->mu);
	p->want = n < p->count ? n : p->count;
	/* With no thread of its own, the pool codes them here. */
	while (p->nthreads == 0 && p->taken < p->want)
		run_next(p);
	while (oldest_done(p) < p->want)
		pthread_cond_wait(&p->done, &p->mu);
	p->want = 0;
	pthread_mutex_unlock(&p->mu);
}

int
z4_encode_frames(struct z4_frame *const *frames, size_t n,
    const struct z4_encode_opts *o, unsigned threads)
{
	struct z4_pool *p;
	int first = 0, err;

	/* This thread is one of them: it codes what no other has taken. */
	if ((err = z4_pool_new(&p, threads > 1 ? threads - 1 : 0)))
		return err;
	for (size_t i = 0; i < n; i += Z4_POOL_MAX) {
		size_t k = n - i < Z4_POOL_MAX ? n - i : Z4_POOL_MAX;
		for (size_t j = 0; j < k; j++)
			z4_pool_put(p, frames[i + j], o);	/* room: k */
		for (size_t j = 0; j < k; j++) {
			struct z4_frame *f;
			if ((err = z4_pool_take(p, &f)) && first == 0)
				first = err;
		}
	}
	z4_pool_free(p);
	return first;
}

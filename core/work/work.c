/* work.c - the worker pools and the completion queue (DESIGN.md section 2).
 * DB pool: each thread owns one struct db (db_open on conninfo), reconnects
 * with exponential back-off up to LIMIT_DB_RECONNECT_MAX_MS and runs jobs
 * with db = NULL while the database is down, so sessions answer a temporary
 * failure at once instead of queueing behind a dead server. Auth pool:
 * argon2 and other CPU work, db always NULL. Finished jobs go to one queue
 * whose eventfd wakes the loop (h2o's multithread.c), and done() runs there.
 * Each pool holds at most LIMIT_JOB_QUEUE waiting jobs. Group commit: a DB
 * worker that dequeues a batchable job (work.h) also unlinks the queued jobs
 * of the same batch_key, up to LIMIT_DELIVER_BATCH, and runs them with one
 * run_batch call; it never waits to fill a batch. One batch per key runs at
 * a time: the jobs of a busy key stay queued (other jobs pass them) and
 * form the next batch, rather than each waiting on the same row lock in a
 * transaction of its own. */
#include "work/work.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "config/limits.h"
#include "db/db.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "net/loop.h"

#define WORK_BACKOFF_MIN_MS 100

struct work_queue {
	struct job *head, *tail;
	unsigned len;
};

struct work_pool {
	const char *name;
	bool is_db;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct work_queue q;
	bool stopping;
	pthread_t *threads;
	int n_threads;
	uint64_t *busy_keys;	/* [thread index]: batch_key it is running, 0 = none */
	int n_busy_keys;
};

struct work_thread_arg {
	struct work_pool *pool;
	int index;
};

static struct work_pool work_db = { .name = "db", .is_db = true };
static struct work_pool work_auth = { .name = "auth", .is_db = false };
/* mailauth: DNS work of the inbound checks (SPF/DKIM/DMARC), no DB */
static struct work_pool work_dns = { .name = "dns", .is_db = false };
static char *work_conninfo;
static bool work_started;

/* Completions: workers push, the loop pops after the eventfd fires. */
static pthread_mutex_t work_done_lock = PTHREAD_MUTEX_INITIALIZER;
static struct work_queue work_done;
static int work_efd = -1;
/* Submitted and not yet done() (loop thread only). */
static _Atomic unsigned work_inflight;	/* read by /metrics from web threads */

static void work_queue_push(struct work_queue *q, struct job *j)
{
	j->next = NULL;
	if (q->tail != NULL)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
	q->len++;
}

static uint64_t work_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Hands finished jobs to the loop: one lock and one eventfd write. */
static void work_complete(struct job **jobs, size_t n)
{
	uint64_t one = 1;
	pthread_mutex_lock(&work_done_lock);
	for (size_t i = 0; i < n; i++)
		work_queue_push(&work_done, jobs[i]);
	pthread_mutex_unlock(&work_done_lock);
	while (write(work_efd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

static bool work_batchable(const struct job *j)
{
	return j->batch_key != 0 && j->run_batch != NULL;
}

static bool work_key_busy(const struct work_pool *p, uint64_t key)
{
	for (int i = 0; i < p->n_busy_keys; i++)
		if (p->busy_keys[i] == key)
			return true;
	return false;
}

/* Pool lock held. Unlinks and returns the first queued job that may run
 * now: any job, except a batchable one whose key another thread is running
 * (it waits for that batch to end and then goes with the next one, instead
 * of waiting in its own transaction for the same row lock). NULL when
 * none may. */
static struct job *work_pop(struct work_pool *p)
{
	struct job *prev = NULL;

	for (struct job *j = p->q.head; j != NULL; prev = j, j = j->next) {
		if (p->is_db && work_batchable(j) && work_key_busy(p, j->batch_key))
			continue;
		if (prev != NULL)
			prev->next = j->next;
		else
			p->q.head = j->next;
		if (p->q.tail == j)
			p->q.tail = prev;
		p->q.len--;
		j->next = NULL;
		return j;
	}
	return NULL;
}

/* Pool lock held; first was just popped. Unlinks the queued jobs that may
 * share its batch (same key, same run_batch), in queue order, into
 * batch[1..]; returns the batch size (>= 1). One pass over the queue. */
static size_t work_take_batch(struct work_queue *q, struct job *first, struct job **batch,
			      size_t max)
{
	struct job *prev = NULL, *j = q->head;
	size_t n = 1;

	batch[0] = first;
	while (j != NULL && n < max) {
		struct job *next = j->next;
		if (j->batch_key == first->batch_key && j->run_batch == first->run_batch) {
			if (prev != NULL)
				prev->next = next;
			else
				q->head = next;
			if (q->tail == j)
				q->tail = prev;
			q->len--;
			j->next = NULL;
			batch[n++] = j;
		} else {
			prev = j;
		}
		j = next;
	}
	return n;
}

/* DB thread state: the connection and when to try again after a failure. */
struct work_dbconn {
	struct db *db;
	uint64_t next_try;
	uint64_t backoff;
	bool reported_down;
	int index;
};

static void work_db_connect(struct work_dbconn *w)
{
	if (w->db != NULL && !db_ok(w->db)) {
		log_warn("work", "db worker %d: connection lost, reconnecting", w->index);
		db_close(&w->db);
		w->next_try = 0;
	}
	if (w->db != NULL || work_now_ms() < w->next_try)
		return;
	const char *err = NULL;
	w->db = db_open(work_conninfo, &err);
	if (w->db != NULL) {
		if (w->reported_down)
			log_info("work", "db worker %d: connected again", w->index);
		w->reported_down = false;
		w->backoff = WORK_BACKOFF_MIN_MS;
		return;
	}
	if (!w->reported_down)
		log_warn("work", "db worker %d: cannot connect: %s", w->index, err ? err : "error");
	w->reported_down = true;
	w->next_try = work_now_ms() + w->backoff;
	w->backoff *= 2;
	if (w->backoff > LIMIT_DB_RECONNECT_MAX_MS)
		w->backoff = LIMIT_DB_RECONNECT_MAX_MS;
}

static void *work_thread(void *arg)
{
	struct work_thread_arg *ta = arg;
	struct work_pool *p = ta->pool;
	struct work_dbconn w = { .backoff = WORK_BACKOFF_MIN_MS, .index = ta->index };
	free(ta);

	if (p->is_db)
		work_db_connect(&w);
	for (;;) {
		struct job *batch[LIMIT_DELIVER_BATCH];
		struct job *j;
		size_t n = 0;

		pthread_mutex_lock(&p->lock);
		while ((j = work_pop(p)) == NULL && !(p->stopping && p->q.head == NULL)) {
			if (p->is_db && w.db == NULL && w.next_try != 0) {
				/* Reconnect in the background while idle. */
				struct timespec ts;
				clock_gettime(CLOCK_REALTIME, &ts);
				uint64_t wait = w.next_try > work_now_ms() ? w.next_try - work_now_ms() : 0;
				ts.tv_sec += (time_t)(wait / 1000);
				ts.tv_nsec += (long)(wait % 1000) * 1000000L;
				if (ts.tv_nsec >= 1000000000L) {
					ts.tv_sec++;
					ts.tv_nsec -= 1000000000L;
				}
				if (pthread_cond_timedwait(&p->cond, &p->lock, &ts) == ETIMEDOUT) {
					pthread_mutex_unlock(&p->lock);
					work_db_connect(&w);
					pthread_mutex_lock(&p->lock);
				}
			} else {
				pthread_cond_wait(&p->cond, &p->lock);
			}
		}
		if (j != NULL && p->is_db && work_batchable(j)) {
			n = work_take_batch(&p->q, j, batch, LIMIT_DELIVER_BATCH);
			p->busy_keys[w.index] = j->batch_key;
		}
		pthread_mutex_unlock(&p->lock);
		if (j == NULL)
			break; /* stopping and the queue is empty */
		if (p->is_db)
			work_db_connect(&w);
		if (n > 0) {
			j->run_batch(batch, n, w.db);
			/* The key is free again: its jobs that queued up
			 * meanwhile are one batch for whoever comes first. */
			pthread_mutex_lock(&p->lock);
			p->busy_keys[w.index] = 0;
			if (p->stopping)	/* waiters may only have been waiting for this */
				pthread_cond_broadcast(&p->cond);
			else if (p->q.head != NULL)
				pthread_cond_signal(&p->cond);
			pthread_mutex_unlock(&p->lock);
		} else {
			j->run(j, w.db);
			batch[0] = j;
			n = 1;
		}
		work_complete(batch, n);
	}
	if (w.db != NULL)
		db_close(&w.db);
	return NULL;
}

static void work_on_done(void *arg, uint32_t events)
{
	uint64_t v;
	while (read(work_efd, &v, sizeof(v)) < 0 && errno == EINTR)
		;
	pthread_mutex_lock(&work_done_lock);
	struct job *list = work_done.head;
	work_done.head = work_done.tail = NULL;
	work_done.len = 0;
	pthread_mutex_unlock(&work_done_lock);
	while (list != NULL) {
		struct job *j = list;
		list = j->next;
		j->next = NULL;
		work_inflight--;
		j->done(j);
	}
}

static int work_pool_start(struct work_pool *p, int n)
{
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->stopping = false;
	p->threads = xcalloc((size_t)n, sizeof(pthread_t));
	p->busy_keys = xcalloc((size_t)n, sizeof(*p->busy_keys));
	p->n_busy_keys = n;
	for (int i = 0; i < n; i++) {
		struct work_thread_arg *ta = xmalloc(sizeof(*ta));
		ta->pool = p;
		ta->index = i;
		int e = pthread_create(&p->threads[i], NULL, work_thread, ta);
		if (e != 0) {
			free(ta);
			log_error("work", "%s pool: pthread_create: %s", p->name, strerror(e));
			return -1;
		}
		p->n_threads++;
	}
	return 0;
}

int work_init(const char *conninfo, int db_workers, int auth_workers)
{
	if (work_started || db_workers < 1 || auth_workers < 1)
		return -1;
	work_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (work_efd < 0) {
		log_error("work", "eventfd: %s", strerror(errno));
		return -1;
	}
	if (loop_add(work_efd, EPOLLIN, work_on_done, NULL) < 0) {
		close(work_efd);
		work_efd = -1;
		return -1;
	}
	work_conninfo = xstrdup(conninfo ? conninfo : "");
	work_started = true;
	if (work_pool_start(&work_db, db_workers) < 0 || work_pool_start(&work_auth, auth_workers) < 0 ||
	    work_pool_start(&work_dns, LIMIT_AUTHCHECK_WORKERS) < 0) {
		work_shutdown();
		return -1;
	}
	return 0;
}

static int work_submit(struct work_pool *p, struct job *j)
{
	if (!work_started)
		return -1;
	pthread_mutex_lock(&p->lock);
	if (p->stopping || p->q.len >= LIMIT_JOB_QUEUE) {
		pthread_mutex_unlock(&p->lock);
		return -1;
	}
	work_queue_push(&p->q, j);
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	work_inflight++;
	return 0;
}

int work_submit_db(struct job *j)
{
	return work_submit(&work_db, j);
}

int work_submit_auth(struct job *j)
{
	return work_submit(&work_auth, j);
}

int work_submit_dns(struct job *j)
{
	return work_submit(&work_dns, j);
}

unsigned work_pending(void)
{
	return work_inflight;
}

static void work_pool_stop(struct work_pool *p)
{
	if (p->threads == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (int i = 0; i < p->n_threads; i++)
		pthread_join(p->threads[i], NULL);
	xfree(p->threads);
	xfree(p->busy_keys);
	p->n_busy_keys = 0;
	p->n_threads = 0;
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
}

void work_shutdown(void)
{
	if (!work_started)
		return;
	work_pool_stop(&work_db);
	work_pool_stop(&work_auth);
	work_pool_stop(&work_dns);
	work_on_done(NULL, 0); /* completions still queued */
	loop_del(work_efd);
	close(work_efd);
	work_efd = -1;
	xfree(work_conninfo);
	work_started = false;
}

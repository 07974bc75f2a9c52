/* work.c - the worker pools and the completion queue (DESIGN.md section 2).
 * DB pool: each thread owns one struct db (db_open on conninfo), reconnects
 * with exponential back-off up to LIMIT_DB_RECONNECT_MAX_MS and runs jobs
 * with db = NULL while the database is down, so sessions answer a temporary
 * failure at once instead of queueing behind a dead server. Auth pool:
 * argon2 and other CPU work, db always NULL. Finished jobs go to one queue
 * whose eventfd wakes the loop (h2o's multithread.c), and done() runs there.
 * Each pool holds at most LIMIT_JOB_QUEUE waiting jobs. */
#include "work/work.h"

#include <errno.h>
#include <pthread.h>
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
};

struct work_thread_arg {
	struct work_pool *pool;
	int index;
};

static struct work_pool work_db = { .name = "db", .is_db = true };
static struct work_pool work_auth = { .name = "auth", .is_db = false };
static char *work_conninfo;
static bool work_started;

/* Completions: workers push, the loop pops after the eventfd fires. */
static pthread_mutex_t work_done_lock = PTHREAD_MUTEX_INITIALIZER;
static struct work_queue work_done;
static int work_efd = -1;
/* Submitted and not yet done() (loop thread only). */
static unsigned work_inflight;

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

static struct job *work_queue_pop(struct work_queue *q)
{
	struct job *j = q->head;
	if (j == NULL)
		return NULL;
	q->head = j->next;
	if (q->head == NULL)
		q->tail = NULL;
	q->len--;
	j->next = NULL;
	return j;
}

static uint64_t work_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void work_complete(struct job *j)
{
	uint64_t one = 1;
	pthread_mutex_lock(&work_done_lock);
	work_queue_push(&work_done, j);
	pthread_mutex_unlock(&work_done_lock);
	while (write(work_efd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
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
		pthread_mutex_lock(&p->lock);
		while (p->q.head == NULL && !p->stopping) {
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
		struct job *j = work_queue_pop(&p->q);
		pthread_mutex_unlock(&p->lock);
		if (j == NULL)
			break; /* stopping and the queue is empty */
		if (p->is_db)
			work_db_connect(&w);
		j->run(j, w.db);
		work_complete(j);
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
	if (work_pool_start(&work_db, db_workers) < 0 || work_pool_start(&work_auth, auth_workers) < 0) {
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
	work_on_done(NULL, 0); /* completions still queued */
	loop_del(work_efd);
	close(work_efd);
	work_efd = -1;
	xfree(work_conninfo);
	work_started = false;
}

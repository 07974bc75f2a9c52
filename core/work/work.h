/* work.h - job queues and the worker pools (DESIGN.md section 2).
 *
 * A job is a struct embedding struct job as its FIRST member. The loop
 * submits it; a worker thread calls run(); the loop thread later calls done()
 * (woken through an eventfd), which owns the job and frees it. A job for a
 * connection keeps conn_id and looks the conn up in done() with conn_find():
 * a conn that left meanwhile is simply not found (h2o/OpenSMTPD style).
 *
 * Batchable jobs (DB pool only; group commit): a job with a non-zero
 * batch_key and a run_batch callback may share one worker call with other
 * queued jobs of the same key and the same run_batch. A worker that dequeues
 * one also takes the other jobs of that key waiting in the queue, up to
 * LIMIT_DELIVER_BATCH in all, in queue order, and calls run_batch once for
 * them instead of run(). It never waits for more jobs to arrive: a batch is
 * whatever is queued at that moment, often just the one job. done() still
 * runs once per job. */
#ifndef POSTERN_WORK_WORK_H
#define POSTERN_WORK_WORK_H

#include <stddef.h>
#include <stdint.h>

struct db;

struct job {
	/* Worker thread. For the DB pool db is the worker's connection, or
	 * NULL when the database cannot be reached right now (answer a
	 * temporary failure). For the auth pool db is always NULL. */
	void (*run)(struct job *j, struct db *db);
	/* Loop thread. Must free the job. */
	void (*done)(struct job *j);
	uint64_t conn_id;
	/* Group commit: 0 = not batchable (run() is called). Non-zero with
	 * run_batch set: jobs of one key may be run together by run_batch
	 * (jobs[0..n-1], n >= 1, in queue order; db as for run). run must
	 * still be set: it is used when the job is submitted to the auth
	 * pool, which never batches. */
	uint64_t batch_key;
	void (*run_batch)(struct job **jobs, size_t n, struct db *db);
	struct job *next;	/* queue link, owned by the pool */
};

/* Starts db_workers DB threads (each opens its own struct db on conninfo and
 * reconnects with back-off) and auth_workers auth threads, and registers the
 * completion eventfd with the loop. */
int work_init(const char *conninfo, int db_workers, int auth_workers);
/* Returns 0, or -1 when the queue is full (LIMIT_JOB_QUEUE): the caller
 * answers a temporary failure and frees the job. */
int work_submit_db(struct job *j);
int work_submit_auth(struct job *j);
/* mailauth: the pool for blocking DNS work (inbound SPF/DKIM/DMARC),
 * LIMIT_AUTHCHECK_WORKERS threads; db is always NULL, as for auth. */
int work_submit_dns(struct job *j);
/* Jobs queued or running (for shutdown and metrics); any thread. */
unsigned work_pending(void);
/* Stops the threads after the queued jobs ran; completions still pending
 * are run with done(). */
void work_shutdown(void);

#endif

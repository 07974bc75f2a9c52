/* loop.c - the one epoll reactor of posternd (DESIGN.md section 2),
 * shaped after Redis's ae.c: level-triggered fds in a table indexed by fd,
 * one-shot timers in a binary min-heap (cancel is O(log n)), and idle hooks
 * run once per iteration after events and timers, the safe point where
 * connections are flushed and freed. Every epoll event carries fd and a
 * per-registration generation so an event for an fd closed and reused in
 * the same iteration is never delivered to the new owner. Single-threaded. */
#include "net/loop.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/mem.h"

#define LOOP_MAX_EVENTS 256
#define LOOP_MAX_IDLE_HOOKS 8

struct loop_fd {
	loop_fd_fn *fn;
	void *arg;
	uint32_t gen;
	bool used;
};

struct loop_timer {
	uint64_t when;
	uint64_t seq;	/* ties fire in the order they were added */
	loop_timer_fn *fn;
	void *arg;
	size_t idx;	/* position in the heap */
};

static int loop_epfd = -1;
static bool loop_stopping;
static struct loop_fd *loop_fds;
static size_t loop_nfds;
static uint32_t loop_gen;

static struct loop_timer **loop_heap;
static size_t loop_heap_len, loop_heap_cap;
static uint64_t loop_timer_seq;

static void (*loop_idle_hooks[LOOP_MAX_IDLE_HOOKS])(void);
static size_t loop_n_idle_hooks;

uint64_t loop_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int loop_init(void)
{
	if (loop_epfd >= 0)
		return 0;
	loop_epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop_epfd < 0) {
		log_error("loop", "epoll_create1: %s", strerror(errno));
		return -1;
	}
	loop_stopping = false;
	return 0;
}

void loop_destroy(void)
{
	for (size_t i = 0; i < loop_heap_len; i++)
		free(loop_heap[i]);
	xfree(loop_heap);
	loop_heap_len = loop_heap_cap = 0;
	xfree(loop_fds);
	loop_nfds = 0;
	loop_n_idle_hooks = 0;
	if (loop_epfd >= 0)
		close(loop_epfd);
	loop_epfd = -1;
}

/* --- file descriptors --- */

static int loop_ctl(int op, int fd, uint32_t events)
{
	struct epoll_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.u64 = (uint64_t)loop_fds[fd].gen << 32 | (uint32_t)fd;
	return epoll_ctl(loop_epfd, op, fd, &ev);
}

int loop_add(int fd, uint32_t events, loop_fd_fn *fn, void *arg)
{
	if (fd < 0 || loop_epfd < 0)
		return -1;
	if ((size_t)fd >= loop_nfds) {
		size_t n = loop_nfds ? loop_nfds : 64;
		while (n <= (size_t)fd)
			n *= 2;
		loop_fds = xrealloc(loop_fds, n * sizeof(*loop_fds));
		memset(loop_fds + loop_nfds, 0, (n - loop_nfds) * sizeof(*loop_fds));
		loop_nfds = n;
	}
	struct loop_fd *f = &loop_fds[fd];
	if (f->used)
		return -1;
	f->fn = fn;
	f->arg = arg;
	f->gen = ++loop_gen;
	if (loop_ctl(EPOLL_CTL_ADD, fd, events) < 0) {
		log_error("loop", "epoll_ctl add fd %d: %s", fd, strerror(errno));
		return -1;
	}
	f->used = true;
	return 0;
}

int loop_mod(int fd, uint32_t events)
{
	if (fd < 0 || (size_t)fd >= loop_nfds || !loop_fds[fd].used)
		return -1;
	if (loop_ctl(EPOLL_CTL_MOD, fd, events) < 0) {
		log_error("loop", "epoll_ctl mod fd %d: %s", fd, strerror(errno));
		return -1;
	}
	return 0;
}

void loop_del(int fd)
{
	if (fd < 0 || (size_t)fd >= loop_nfds || !loop_fds[fd].used)
		return;
	epoll_ctl(loop_epfd, EPOLL_CTL_DEL, fd, NULL);
	loop_fds[fd].used = false;
	loop_fds[fd].fn = NULL;
	loop_fds[fd].arg = NULL;
}

/* --- timers: a binary min-heap on (when, seq) --- */

static bool loop_timer_before(const struct loop_timer *a, const struct loop_timer *b)
{
	return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static void loop_heap_set(size_t i, struct loop_timer *t)
{
	loop_heap[i] = t;
	t->idx = i;
}

static void loop_heap_up(size_t i)
{
	struct loop_timer *t = loop_heap[i];
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!loop_timer_before(t, loop_heap[parent]))
			break;
		loop_heap_set(i, loop_heap[parent]);
		i = parent;
	}
	loop_heap_set(i, t);
}

static void loop_heap_down(size_t i)
{
	struct loop_timer *t = loop_heap[i];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		const struct loop_timer *best = t;
		if (l < loop_heap_len && loop_timer_before(loop_heap[l], best))
			m = l, best = loop_heap[l];
		if (r < loop_heap_len && loop_timer_before(loop_heap[r], best))
			m = r;
		if (m == i)
			break;
		loop_heap_set(i, loop_heap[m]);
		i = m;
	}
	loop_heap_set(i, t);
}

static void loop_heap_remove(struct loop_timer *t)
{
	size_t i = t->idx;
	struct loop_timer *last = loop_heap[--loop_heap_len];
	if (i == loop_heap_len)
		return;
	loop_heap_set(i, last);
	if (i > 0 && loop_timer_before(last, loop_heap[(i - 1) / 2]))
		loop_heap_up(i);
	else
		loop_heap_down(i);
}

struct loop_timer *loop_timer_add(uint64_t ms, loop_timer_fn *fn, void *arg)
{
	struct loop_timer *t = xmalloc(sizeof(*t));
	t->when = loop_now_ms() + ms;
	t->seq = ++loop_timer_seq;
	t->fn = fn;
	t->arg = arg;
	if (loop_heap_len == loop_heap_cap) {
		loop_heap_cap = loop_heap_cap ? loop_heap_cap * 2 : 64;
		loop_heap = xrealloc(loop_heap, loop_heap_cap * sizeof(*loop_heap));
	}
	loop_heap_set(loop_heap_len++, t);
	loop_heap_up(t->idx);
	return t;
}

void loop_timer_cancel(struct loop_timer **tp)
{
	struct loop_timer *t = *tp;
	if (t == NULL)
		return;
	loop_heap_remove(t);
	free(t);
	*tp = NULL;
}

/* Fires the timers due now. Timers added by callbacks wait for the next
 * iteration (seq bound), so a 0 ms timer cannot starve the fds. The handle
 * is freed before the callback runs: the owner forgets it there. */
static void loop_run_timers(void)
{
	uint64_t now = loop_now_ms();
	uint64_t seq_bound = loop_timer_seq;

	while (loop_heap_len > 0) {
		struct loop_timer *t = loop_heap[0];
		if (t->when > now || t->seq > seq_bound)
			break;
		loop_timer_fn *fn = t->fn;
		void *arg = t->arg;
		loop_heap_remove(t);
		free(t);
		fn(arg);
	}
}

static int loop_wait_ms(void)
{
	if (loop_heap_len == 0)
		return -1;
	uint64_t when = loop_heap[0]->when, now = loop_now_ms();
	if (when <= now)
		return 0;
	uint64_t d = when - now;
	return d > INT_MAX ? INT_MAX : (int)d;
}

/* --- the loop --- */

void loop_on_idle(void (*fn)(void))
{
	for (size_t i = 0; i < loop_n_idle_hooks; i++)
		if (loop_idle_hooks[i] == fn)
			return;
	if (loop_n_idle_hooks == LOOP_MAX_IDLE_HOOKS)
		abort(); /* a handful of modules register one each */
	loop_idle_hooks[loop_n_idle_hooks++] = fn;
}

void loop_stop(void)
{
	loop_stopping = true;
}

void loop_run(void)
{
	struct epoll_event evs[LOOP_MAX_EVENTS];

	loop_stopping = false;
	while (!loop_stopping) {
		int n = epoll_wait(loop_epfd, evs, LOOP_MAX_EVENTS, loop_wait_ms());
		if (n < 0) {
			if (errno != EINTR) {
				log_error("loop", "epoll_wait: %s", strerror(errno));
				abort();
			}
			n = 0;
		}
		for (int i = 0; i < n; i++) {
			int fd = (int)(uint32_t)evs[i].data.u64;
			uint32_t gen = (uint32_t)(evs[i].data.u64 >> 32);
			if ((size_t)fd >= loop_nfds)
				continue;
			struct loop_fd *f = &loop_fds[fd];
			if (!f->used || f->gen != gen)
				continue; /* deleted (or reused) during this iteration */
			f->fn(f->arg, evs[i].events);
		}
		loop_run_timers();
		for (size_t i = 0; i < loop_n_idle_hooks; i++)
			loop_idle_hooks[i]();
	}
}

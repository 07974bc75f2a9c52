/* loop.h - the one epoll reactor (DESIGN.md section 2) with timers.
 * Single-threaded: every function here is called from the loop thread only,
 * except loop_wake_fd users (workers signal an eventfd the loop watches). */
#ifndef POSTERN_NET_LOOP_H
#define POSTERN_NET_LOOP_H

#include <stdbool.h>
#include <stdint.h>

typedef void loop_fd_fn(void *arg, uint32_t events);	/* EPOLLIN/EPOLLOUT/EPOLLERR/EPOLLHUP */
typedef void loop_timer_fn(void *arg);

struct loop_timer;	/* opaque */

int loop_init(void);
void loop_destroy(void);
/* Registers fd (level-triggered). Returns 0 or -1. */
int loop_add(int fd, uint32_t events, loop_fd_fn *fn, void *arg);
int loop_mod(int fd, uint32_t events);
void loop_del(int fd);
/* One-shot timer after ms milliseconds. The returned handle is valid until the
 * timer fires or is cancelled. */
struct loop_timer *loop_timer_add(uint64_t ms, loop_timer_fn *fn, void *arg);
/* Cancels and frees; *t is set to NULL. Safe on NULL. */
void loop_timer_cancel(struct loop_timer **t);
/* Monotonic milliseconds. */
uint64_t loop_now_ms(void);
/* Runs until loop_stop(). */
void loop_run(void);
void loop_stop(void);
/* Called once per iteration after events: a place to free objects at a
 * safe point (Redis freeClientAsync). */
void loop_on_idle(void (*fn)(void));

#endif

/* failures.h - the most recent failed mail logins (who, from where, on which
 * listener, when), kept in a small ring for the panel's dashboard.
 * Thread-safe: written by the loop, read by the web threads. */
#ifndef POSTERN_AUTH_FAILURES_H
#define POSTERN_AUTH_FAILURES_H

#include <stddef.h>
#include <time.h>

#define AUTH_FAILURES_KEEP 32

struct auth_failure {
	time_t at;
	char user[96];		/* printable, cut */
	char peer[64];		/* client address */
	char listener[32];
};

/* Records one failure (user is client text: escaped and cut here) and
 * counts it in STATS_AUTH_FAILURES. */
void auth_failure_record(const char *user, const char *peer, const char *listener);
/* Copies up to max failures, newest first; returns the count. */
size_t auth_failure_recent(struct auth_failure *out, size_t max);

#endif

/* failures.c - a ring of the last AUTH_FAILURES_KEEP failed mail logins
 * behind a mutex (one short copy per failure or per dashboard request).
 * User names are client text: made printable and cut before they are
 * kept, and never include the password. */
#include "auth/failures.h"

#include <pthread.h>
#include <string.h>

#include "lib/stats.h"
#include "lib/str.h"

static pthread_mutex_t failures_mu = PTHREAD_MUTEX_INITIALIZER;
static struct auth_failure failures[AUTH_FAILURES_KEEP];
static size_t failures_next, failures_n;

void auth_failure_record(const char *user, const char *peer, const char *listener)
{
	struct auth_failure f = { .at = time(NULL) };

	(void)str_printable(f.user, sizeof(f.user), user != NULL ? user : "",
			    user != NULL ? strlen(user) : 0);
	str_lcpy(f.peer, peer != NULL ? peer : "?", sizeof(f.peer));
	str_lcpy(f.listener, listener != NULL ? listener : "?", sizeof(f.listener));
	stats_add(STATS_AUTH_FAILURES, 1);
	pthread_mutex_lock(&failures_mu);
	failures[failures_next] = f;
	failures_next = (failures_next + 1) % AUTH_FAILURES_KEEP;
	if (failures_n < AUTH_FAILURES_KEEP)
		failures_n++;
	pthread_mutex_unlock(&failures_mu);
}

size_t auth_failure_recent(struct auth_failure *out, size_t max)
{
	size_t n;

	pthread_mutex_lock(&failures_mu);
	n = failures_n < max ? failures_n : max;
	for (size_t i = 0; i < n; i++)
		out[i] = failures[(failures_next + AUTH_FAILURES_KEEP - 1 - i) % AUTH_FAILURES_KEEP];
	pthread_mutex_unlock(&failures_mu);
	return n;
}

/* stats.h - process-wide event counters for /metrics and the dashboard:
 * lock-free (C11 atomics), incremented from any thread, read from any. */
#ifndef POSTERN_LIB_STATS_H
#define POSTERN_LIB_STATS_H

#include <stdint.h>

enum stats_id {
	STATS_MESSAGES_ACCEPTED,	/* SMTP DATA/BDAT answered 250 (committed) */
	STATS_MESSAGES_DELIVERED,	/* local mailbox copies stored by those */
	STATS_AUTH_FAILURES,		/* failed mail logins (SMTP AUTH, POP3, IMAP) */
	STATS__COUNT
};

void stats_add(enum stats_id id, uint64_t n);
uint64_t stats_get(enum stats_id id);

#endif

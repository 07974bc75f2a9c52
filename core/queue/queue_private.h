/* queue_private.h - what runner.c and deliver.c share: a claimed queue row
 * with its delivery result, and a message (rows of one blob and sender). */
#ifndef POSTERN_QUEUE_QUEUE_PRIVATE_H
#define POSTERN_QUEUE_QUEUE_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/dns.h"
#include "queue/queue.h"
#include "queue/smtpc.h"

struct db;

enum queue_fate {
	QUEUE_FATE_DEFER = 0,	/* back to the queue with a back-off */
	QUEUE_FATE_DONE,	/* delivered: the row goes */
	QUEUE_FATE_BOUNCE,	/* failed for good: DSN, the row goes */
};

struct queue_row {
	int64_t id, blob;
	char *sender, *rcpt;
	int attempts;		/* this one included */
	long long age;		/* seconds since queued */
	bool delay_notified;
	/* result of this attempt: 0 none yet, 2 delivered, 4 temporary, 5 permanent */
	int result;
	char status[16];			/* RFC 3463 */
	char diag[SMTPC_TEXT_MAX + 64];		/* reply or our own words */
	char mta[DNS_NAME_MAX + 1];		/* host that answered, "" */
	enum queue_fate fate;
	bool notify_delay;
};

struct queue_msg {
	size_t lo, hi;		/* rows[lo..hi) */
	unsigned char *body;	/* loaded by queue_deliver (NULL if unreadable) */
	size_t len;
};

int queue_deliver_init(const char **error_r);
void queue_deliver_shutdown(void);
/* Delivers the messages (all rows of one domain) and sets each row's
 * result; loads each message's body into msgs[i].body. */
void queue_deliver(struct db *db, struct queue_row *rows, struct queue_msg *msgs, size_t n_msgs,
		   const struct queue_settings *cfg, int stop_fd);

#endif

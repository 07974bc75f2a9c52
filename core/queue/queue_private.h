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

int queue_deliver_init(const struct queue_settings *cfg, const char **error_r);
void queue_deliver_shutdown(void);
/* Delivers the messages (all rows of one domain) and sets each row's
 * result; loads each message's body into msgs[i].body. */
void queue_deliver(struct db *db, struct queue_row *rows, struct queue_msg *msgs, size_t n_msgs,
		   const struct queue_settings *cfg, int stop_fd);

/* --- MTA-STS (RFC 8461; mtasts.c) --- */

enum mtasts_mode { MTASTS_NONE = 0, MTASTS_TESTING, MTASTS_ENFORCE };

struct mtasts_policy {
	enum mtasts_mode mode;
	char id[33];		/* the TXT record's id (1*32 alphanumerics) */
	long max_age;
	size_t n_mx;
	char mx[LIMIT_MTASTS_MX][DNS_NAME_MAX + 1];	/* "mx.example.com", "*.example.net" */
};

int mtasts_init(const struct queue_settings *cfg);
void mtasts_shutdown(void);
/* Pure: parses a policy file (RFC 8461 3.2) into p (id untouched). 0, or
 * -1 when it is not a valid STSv1 policy. */
int mtasts_parse(const char *text, size_t len, struct mtasts_policy *p);
/* True when host matches one of p's mx patterns (RFC 8461 4.1). */
bool mtasts_mx_match(const struct mtasts_policy *p, const char *host);
/* The policy of domain: the cached one while fresh and its id matches the
 * TXT record, else fetched over HTTPS (and cached); a failed fetch falls
 * back to a cached policy. Sets p->mode MTASTS_NONE when there is none. */
void mtasts_get(struct db *db, const char *domain, struct mtasts_policy *p);

#endif

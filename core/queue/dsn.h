/* dsn.h - delivery status notifications (RFC 3464 multipart/report with
 * message/delivery-status and the original header section), sent from the
 * null sender to a message's envelope sender: delivered to a local account
 * at once, or queued for a remote sender. Queue runner threads only. */
#ifndef POSTERN_QUEUE_DSN_H
#define POSTERN_QUEUE_DSN_H

#include <stddef.h>
#include <time.h>

struct db;

enum dsn_action {
	DSN_FAILED,	/* permanent failure or expiry: the message is dropped */
	DSN_DELAYED,	/* still being retried */
};

struct dsn_rcpt {
	const char *recipient;	/* envelope recipient */
	const char *status;	/* RFC 3463 "5.1.1" */
	const char *remote_mta;	/* host that answered, "" when none */
	const char *diag;	/* "550 5.1.1 no such user" or our own words */
};

struct dsn_msg {
	enum dsn_action action;
	const char *hostname;	/* Reporting-MTA, MAILER-DAEMON@hostname */
	const char *sender;	/* the original envelope sender (never "") */
	time_t arrival;		/* Arrival-Date */
	const unsigned char *orig;	/* the original message (its headers are quoted) */
	size_t orig_len;
	const struct dsn_rcpt *rcpts;
	size_t n_rcpts;
};

/* Builds the DSN (malloc'd, CRLF lines). */
unsigned char *dsn_build(const struct dsn_msg *m, size_t *len_r);
/* Builds and delivers it. 0 when stored or deliberately dropped (the sender
 * is a hosted address that does not exist, or over quota: logged), -1 on a
 * database failure (the caller tries again later). */
int dsn_send(struct db *db, const struct dsn_msg *m);

#endif

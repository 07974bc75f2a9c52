/* queue.h - outbound delivery: queue runner threads that claim due rows of
 * the queue table (one destination domain at a time, SELECT ... FOR UPDATE
 * SKIP LOCKED, so several posternd nodes share one queue), deliver them over
 * SMTP to the domain's MX hosts, retry with back-off and send DSNs. They
 * never touch the loop: each owns a PGconn, blocking DNS and sockets. */
#ifndef POSTERN_QUEUE_QUEUE_H
#define POSTERN_QUEUE_QUEUE_H

struct queue_settings {
	int runners;		/* threads; 0 = this node does not deliver */
	int port;		/* TCP port of remote MX hosts (25) */
	int retry_s;		/* first retry delay, doubled per attempt */
	int lifetime_s;		/* age at which a message bounces */
	int delay_notice_s;	/* age at which the sender is told of the delay */
	const char *hostname;	/* our name: EHLO, Reporting-MTA, MAILER-DAEMON */
	int mta_sts_port;	/* HTTPS port of MTA-STS policy hosts (443) */
	const char *ca_file;	/* CAs for MTA-STS checks, NULL = the system's */
};

/* Starts the runners on conninfo. 0, or -1 when a thread cannot start. */
int queue_start(const char *conninfo, const struct queue_settings *s);
/* Stops them (a delivery in progress is broken off; its rows are claimed
 * again at once by the next runner, since this session ends) and joins. */
void queue_stop(void);

#endif

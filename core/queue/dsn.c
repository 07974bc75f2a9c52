/* dsn.c - RFC 3464 delivery status notifications: a multipart/report
 * (RFC 6522) with a human-readable part, message/delivery-status (one
 * per-recipient block each) and text/rfc822-headers of the original (at
 * most LIMIT_QUEUE_BOUNCE_HEADERS octets). Sent from <> (RFC 5321 4.5.5),
 * with Auto-Submitted: auto-replied (RFC 3834), so no bounce ever answers
 * a bounce. Local senders get it in their INBOX through db_deliver(); remote
 * ones through the queue. */
#include "queue/dsn.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "config/limits.h"
#include "db/store.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"

#define DSN_MAX (LIMIT_QUEUE_BOUNCE_HEADERS + 256 * 1024)	/* headers + report */

/* The header section of the original (through its blank line), capped. */
static size_t dsn_header_len(const unsigned char *p, size_t n)
{
	size_t lim = n < LIMIT_QUEUE_BOUNCE_HEADERS ? n : LIMIT_QUEUE_BOUNCE_HEADERS;
	for (size_t i = 0; i + 3 < lim; i++)
		if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' && p[i + 3] == '\n')
			return i + 2;
	/* no blank line in reach: whole lines only */
	while (lim > 0 && p[lim - 1] != '\n')
		lim--;
	return lim;
}

/* A value safe for one header or report line: printable ASCII. */
static const char *dsn_safe(char *out, size_t outsize, const char *s)
{
	return str_printable(out, outsize, s, strlen(s));
}

unsigned char *dsn_build(const struct dsn_msg *m, size_t *len_r)
{
	struct buf b;
	char date[64], arr[64], boundary[40], mid[40], s1[600], s2[600];
	bool failed = m->action == DSN_FAILED;
	int rc = 0;

	buf_init(&b, DSN_MAX);
	str_rfc5322_date(date, sizeof(date), time(NULL));
	str_rfc5322_date(arr, sizeof(arr), m->arrival);
	str_fmt(boundary, sizeof(boundary), "=_postern_%08x%08x", randombytes_random(),
		randombytes_random());
	str_fmt(mid, sizeof(mid), "%08x%08x", randombytes_random(), randombytes_random());
	rc |= buf_printf(&b,
			 "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n"
			 "To: <%s>\r\n"
			 "Subject: %s\r\n"
			 "Date: %s\r\n"
			 "Message-ID: <dsn.%s@%s>\r\n"
			 "Auto-Submitted: auto-replied\r\n"
			 "MIME-Version: 1.0\r\n"
			 "Content-Type: multipart/report; report-type=delivery-status;\r\n"
			 "\tboundary=\"%s\"\r\n\r\n"
			 "This is a MIME-encapsulated message.\r\n\r\n"
			 "--%s\r\n"
			 "Content-Type: text/plain; charset=us-ascii\r\n\r\n",
			 m->hostname, dsn_safe(s1, sizeof(s1), m->sender),
			 failed ? "Undelivered Mail Returned to Sender"
				: "Delayed Mail (still being retried)",
			 date, mid, m->hostname, boundary, boundary);
	if (failed)
		rc |= buf_printf(&b, "This is the mail system at %s.\r\n\r\n"
				 "Your message could not be delivered to the recipients below.\r\n"
				 "It has been given up; the reasons follow.\r\n\r\n", m->hostname);
	else
		rc |= buf_printf(&b, "This is the mail system at %s.\r\n\r\n"
				 "Your message has not been delivered yet to the recipients below.\r\n"
				 "It is still being retried; you need not send it again.\r\n\r\n",
				 m->hostname);
	for (size_t i = 0; i < m->n_rcpts; i++)
		rc |= buf_printf(&b, "<%s>: %s\r\n", dsn_safe(s1, sizeof(s1), m->rcpts[i].recipient),
				 dsn_safe(s2, sizeof(s2), m->rcpts[i].diag));
	rc |= buf_printf(&b, "\r\n--%s\r\nContent-Type: message/delivery-status\r\n\r\n"
			 "Reporting-MTA: dns; %s\r\nArrival-Date: %s\r\n", boundary, m->hostname,
			 arr);
	for (size_t i = 0; i < m->n_rcpts; i++) {
		const struct dsn_rcpt *r = &m->rcpts[i];
		rc |= buf_printf(&b, "\r\nFinal-Recipient: rfc822; %s\r\nAction: %s\r\nStatus: %s\r\n",
				 dsn_safe(s1, sizeof(s1), r->recipient), failed ? "failed" : "delayed",
				 r->status);
		if (r->remote_mta[0] != '\0')
			rc |= buf_printf(&b, "Remote-MTA: dns; %s\r\n",
					 dsn_safe(s1, sizeof(s1), r->remote_mta));
		if (r->diag[0] != '\0')
			rc |= buf_printf(&b, "Diagnostic-Code: %s; %s\r\n",
					 r->remote_mta[0] != '\0' ? "smtp" : "x-postern",
					 dsn_safe(s1, sizeof(s1), r->diag));
		if (failed)
			rc |= buf_printf(&b, "Last-Attempt-Date: %s\r\n", date);
	}
	rc |= buf_printf(&b, "\r\n--%s\r\nContent-Type: text/rfc822-headers\r\n\r\n", boundary);
	rc |= buf_append(&b, m->orig, dsn_header_len(m->orig, m->orig_len));
	rc |= buf_printf(&b, "\r\n--%s--\r\n", boundary);
	if (rc != 0) {
		buf_free(&b);
		return NULL;	/* over DSN_MAX: cannot happen with the caps above */
	}
	*len_r = buf_len(&b);
	unsigned char *out = xmalloc(buf_len(&b));
	memcpy(out, buf_data(&b), buf_len(&b));
	buf_free(&b);
	return out;
}

int dsn_send(struct db *db, const struct dsn_msg *m)
{
	static const char rp[] = "Return-Path: <>\r\n";
	const char *at = strrchr(m->sender, '@');
	char local[LIMIT_ADDRESS + 1], domain[LIMIT_ADDRESS + 1];
	struct db_rcpt r;
	size_t len = 0;
	bool over = false;
	int ret = -1;

	if (at == NULL || at == m->sender || (size_t)(at - m->sender) >= sizeof(local) ||
	    str_lcpy(domain, at + 1, sizeof(domain)) >= sizeof(domain)) {
		log_warn("queue", "no DSN: malformed sender");
		return 0;
	}
	memcpy(local, m->sender, (size_t)(at - m->sender));
	local[at - m->sender] = '\0';
	str_lower(domain);
	if (db_rcpt_resolve(db, local, domain, &r) != DB_OK)
		return -1;
	if (r.result == DB_RCPT_NO_USER || r.result == DB_RCPT_INACTIVE) {
		log_warn("queue", "no DSN: the sender's account does not exist or is disabled");
		return 0;
	}
	unsigned char *msg = dsn_build(m, &len);
	if (msg == NULL)
		return 0;
	unsigned char *local_body = xmalloc(sizeof(rp) - 1 + len);
	memcpy(local_body, rp, sizeof(rp) - 1);
	memcpy(local_body + sizeof(rp) - 1, msg, len);
	const char *remote[DB_RCPT_MAX_TARGETS];
	struct db_delivery d = { .sender = "" };
	if (r.result == DB_RCPT_NOT_HOSTED) {
		remote[0] = m->sender;
		d.remote = remote;
		d.n_remote = 1;
	} else {
		for (size_t i = 0; i < r.n_remote; i++)
			remote[i] = r.remote[i];
		d.remote = remote;
		d.n_remote = r.n_remote;
		d.accounts = r.accounts;
		d.n_accounts = r.n_accounts;
	}
	if (d.n_accounts > 0) {
		d.local_body = local_body;
		d.local_len = sizeof(rp) - 1 + len;
	}
	if (d.n_remote > 0) {
		d.remote_body = msg;
		d.remote_len = len;
	}
	if (db_deliver(db, &d, &over) == DB_OK) {
		ret = 0;
		if (over)
			log_warn("queue", "DSN dropped: the sender's mailbox is over quota");
	}
	free(local_body);
	free(msg);
	return ret;
}

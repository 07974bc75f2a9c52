/* cmd_data.c - DATA and BDAT, the end of a message and the delivery job.
 * RFC 5321 4.1.1.4 (DATA, 354, end of data), 4.4 (Received, Return-Path),
 * 6.3 (loop detection: more than LIMIT_SMTP_RECEIVED_HOPS Received fields
 * -> 554 5.4.6), RFC 3030 (BDAT: the chunk is read whatever the reply; a
 * failed chunk makes later chunks be discarded until RSET; DATA after BDAT
 * -> 503), RFC 1870 (over LIMIT_SMTP_MESSAGE_SIZE: read to the end, then
 * 552 5.3.4), RFC 3848 (with ESMTP/ESMTPS/ESMTPA/ESMTPSA). The body goes
 * to a spool; a DB worker reads it and stores everything in one
 * transaction, shared with the other deliveries queued at that moment
 * (group commit, db_deliver_batch); "250 2.0.0 Ok: queued" only after the
 * COMMIT that contains this message returned DB_OK (durability). On the MX
 * listener (smtp/authcheck.h) the job first goes to the DNS pool, which adds
 * Authentication-Results (SPF, DKIM, DMARC) and drops forged ones; with
 * POSTERN_DMARC_REJECT a DMARC reject is answered 550 5.7.1 instead.
 * XXX: forged Authentication-Results are removed only from checked messages
 * (MX, untrusted client), not from submissions or trusted clients. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "db/brake.h"
#include "db/imap_store.h"
#include "db/store.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/stats.h"
#include "lib/str.h"
#include "mail/authres.h"
#include "smtp/authcheck.h"
#include "smtp/session.h"
#include "work/work.h"

struct deliver_job {
	struct job base;
	struct spool *spool;
	char *sender;		/* "" for <> */
	char *return_path;	/* "Return-Path: <...>\r\n" */
	char *received;		/* "Received: ...\r\n" */
	int64_t *accounts;
	size_t n_accounts;
	char **remote;
	size_t n_remote;
	size_t n_rcpt;
	char id[24];
	char client[80];
	char auth[LIMIT_ADDRESS + 1];
	int64_t account_id;	/* submission: the sending account (send log), else 0 */
	bool tls;
	/* inbound checks (mailauth): NULL/false when not checked */
	char *authres;		/* "Authentication-Results: ...\r\n" */
	bool dmarc_reject;
	char from_domain[254];
	char ip[64];
	char helo[256];
	/* results */
	enum db_status st;
	bool over_quota;
};

int smtp_check_data(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	if (cmd->verb == SMTP_VERB_DATA && s->bdat) {
		smtp_reply(s, "503 5.5.1 Error: DATA after BDAT in one transaction");
		return -1;
	}
	if (s->n_rcpt == 0) {
		/* RFC 5321 3.3 allows 503 or 554 here. */
		smtp_reply(s, "503 5.5.1 Error: no valid recipients");
		return -1;
	}
	return 0;
}

static void store(struct smtp_session *s, const unsigned char *p, size_t n)
{
	if (n == 0 || s->spool == NULL)
		return;
	mail_received_feed(&s->rcv, p, n);
	/* A failure sets the spool's overflow/io_error flag; reading goes on
	 * to the end of the message and the reply comes then. */
	(void)spool_append(s->spool, p, n);
}

static void begin_content(struct smtp_session *s)
{
	spool_free(&s->spool);
	s->spool = spool_new(LIMIT_SMTP_MESSAGE_SIZE);
	mail_received_init(&s->rcv);
}

void smtp_cmd_data(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	(void)cmd;
	begin_content(s);
	mail_data_init(&s->dec);
	s->in = SMTP_IN_DATA;
	smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

/* --- the delivery job --- */

static void deliver_job_free(struct deliver_job *j)
{
	spool_free(&j->spool);
	free(j->sender);
	free(j->return_path);
	free(j->received);
	free(j->authres);
	free(j->accounts);
	for (size_t i = 0; i < j->n_remote; i++)
		free(j->remote[i]);
	free(j->remote);
	free(j);
}

/* Reads the spool into one buffer: Return-Path + Received + message, the
 * local copy; the remote copy is the same without Return-Path. */
static unsigned char *deliver_body(struct deliver_job *j, struct db_delivery *d)
{
	/* XXX: db_delivery takes contiguous bodies, so the whole message is
	 * copied here (up to LIMIT_SMTP_MESSAGE_SIZE per busy worker); a
	 * streaming store API would read the spool in pieces. */
	size_t rp = strlen(j->return_path), rc = strlen(j->received);
	size_t ar = j->authres != NULL ? strlen(j->authres) : 0;
	size_t sz = spool_size(j->spool);
	unsigned char *body = xmalloc(rp + rc + ar + sz + 1);
	memcpy(body, j->return_path, rp);
	memcpy(body + rp, j->received, rc);
	if (ar > 0)
		memcpy(body + rp + rc, j->authres, ar);
	rc += ar;	/* Received and Authentication-Results go to both copies */
	if (spool_read(j->spool, 0, body + rp + rc, sz) < 0) {
		log_error("smtp", "spool read failed id=%s", j->id);
		free(body);
		return NULL;
	}
	*d = (struct db_delivery){
		.sender = j->sender,
		.local_body = j->n_accounts > 0 ? body : NULL,
		.local_len = j->n_accounts > 0 ? rp + rc + sz : 0,
		.accounts = j->accounts,
		.n_accounts = j->n_accounts,
		.remote_body = j->n_remote > 0 ? body + rp : NULL,
		.remote_len = j->n_remote > 0 ? rc + sz : 0,
		.remote = (const char *const *)j->remote,
		.n_remote = j->n_remote,
	};
	return body;
}

/* Group commit (work.h): the deliveries queued together share one
 * transaction and one COMMIT (db_deliver_batch), in pieces of at most
 * LIMIT_DELIVER_BATCH_BYTES of bodies (at least one message each), so a
 * batch holds no more memory than that or one message. Each job gets its
 * own status: 250 only for a message whose COMMIT succeeded. */
static void deliver_run_batch(struct job **jobs, size_t n, struct db *db)
{
	struct db_delivery d[LIMIT_DELIVER_BATCH];
	struct db_delivery_result r[LIMIT_DELIVER_BATCH];
	unsigned char *bodies[LIMIT_DELIVER_BATCH];
	struct deliver_job *part[LIMIT_DELIVER_BATCH];
	struct imap_store_meta meta[LIMIT_DELIVER_BATCH];
	size_t i = 0;

	if (n > LIMIT_DELIVER_BATCH)
		abort();	/* work.c takes at most that many */
	while (i < n) {
		size_t k = 0, bytes = 0;
		while (i < n && k < LIMIT_DELIVER_BATCH) {
			struct deliver_job *j = (struct deliver_job *)jobs[i];
			size_t sz = spool_size(j->spool);
			if (k > 0 && bytes + sz > LIMIT_DELIVER_BATCH_BYTES)
				break;
			i++;
			j->over_quota = false;
			if (db == NULL) {
				j->st = DB_TEMP;
				continue;
			}
			bodies[k] = deliver_body(j, &d[k]);
			if (bodies[k] == NULL) {
				j->st = DB_TEMP;
				continue;
			}
			/* IMAP ENVELOPE / BODYSTRUCTURE / part table, once, here
			 * in the worker: FETCH never parses the message. */
			memset(&meta[k], 0, sizeof(meta[k]));
			if (d[k].local_body != NULL &&
			    imap_store_meta_compute(d[k].local_body, d[k].local_len, &meta[k]) == 0) {
				d[k].envelope = meta[k].envelope;
				d[k].bodystructure = meta[k].bodystructure;
				d[k].body = meta[k].body;
				d[k].parts = meta[k].parts;
			}
			bytes += sz;
			part[k++] = j;
		}
		if (k == 0)
			continue;
		if (k > 1)
			log_debug("smtp", "group commit: %zu messages in one transaction", k);
		(void)db_deliver_batch(db, d, k, r);
		for (size_t m = 0; m < k; m++) {
			part[m]->st = r[m].st;
			part[m]->over_quota = r[m].over_quota;
			if (r[m].st == DB_OK && !r[m].over_quota && part[m]->account_id > 0 &&
			    db_brake_log(db, part[m]->account_id, part[m]->sender,
					 part[m]->n_rcpt) != DB_OK)
				log_warn("smtp", "id=%s: the send log could not be written (the "
					 "hourly limit will not count it)", part[m]->id);
			free(bodies[m]);
			imap_store_meta_free(&meta[m]);
		}
	}
}

static void deliver_run(struct job *base, struct db *db)
{
	deliver_run_batch(&base, 1, db);
}

static void deliver_done(struct job *base)
{
	struct deliver_job *j = (struct deliver_job *)base;
	struct smtp_session *s = smtp_session_find(j->base.conn_id);
	char from[160];
	str_printable(from, sizeof from, j->sender, strlen(j->sender));
	if (j->st == DB_OK && !j->over_quota) {
		char auth[160];
		stats_add(STATS_MESSAGES_ACCEPTED, 1);
		stats_add(STATS_MESSAGES_DELIVERED, j->n_accounts);
		str_printable(auth, sizeof auth, j->auth, strlen(j->auth));
		log_info("smtp",
			 "delivered id=%s from=<%s> rcpts=%zu local=%zu remote=%zu size=%zu "
			 "client=%s tls=%s auth=%s%s",
			 j->id, from, j->n_rcpt, j->n_accounts, j->n_remote,
			 spool_size(j->spool), j->client, j->tls ? "yes" : "no",
			 auth[0] ? auth : "-", s == NULL ? " (client gone)" : "");
	} else {
		log_warn("smtp", "not delivered id=%s from=<%s> status=%d over_quota=%d client=%s",
			 j->id, from, (int)j->st, (int)j->over_quota, j->client);
	}
	if (s != NULL) {
		if (j->st == DB_OK && j->over_quota)
			smtp_reply(s, "452 4.2.2 Mailbox full");
		else if (j->st == DB_OK)
			smtp_reply(s, "250 2.0.0 Ok: queued as %s", j->id);
		else if (j->st == DB_DISKFULL)
			smtp_reply(s, "452 4.3.1 Insufficient system storage");
		else
			smtp_reply(s, "451 4.3.0 Error: temporary failure, try again later");
		smtp_unbusy(s);
	}
	deliver_job_free(j);
}

/* --- inbound checks (DNS pool; mailauth) --- */

/* DNS pool thread: SPF, DKIM and DMARC over the spooled message; forged
 * Authentication-Results fields with our name are dropped by spooling the
 * message again without them. */
static void authcheck_run(struct job *base, struct db *db)
{
	struct deliver_job *j = (struct deliver_job *)base;
	size_t sz = spool_size(j->spool);
	unsigned char *msg = xmalloc(sz + 1);
	struct authres_input in = { j->ip, j->helo, j->sender, smtp_hostname() };
	struct authres_outcome out;
	struct buf stripped;
	int removed;

	(void)db;
	if (spool_read(j->spool, 0, msg, sz) < 0) {
		log_error("smtp", "spool read failed id=%s (checks skipped)", j->id);
		free(msg);
		return;
	}
	buf_init(&stripped, LIMIT_SMTP_MESSAGE_SIZE);
	removed = authres_strip(msg, sz, smtp_hostname(), &stripped);
	if (removed > 0) {
		struct spool *sp = spool_new(LIMIT_SMTP_MESSAGE_SIZE);
		if (spool_append(sp, buf_data(&stripped), buf_len(&stripped)) == 0) {
			spool_free(&j->spool);
			j->spool = sp;
			log_info("smtp", "id=%s: %d forged Authentication-Results removed", j->id,
				 removed);
		} else {
			spool_free(&sp);
		}
	}
	buf_free(&stripped);
	j->authres = authres_check(&in, msg, sz, &out);
	free(msg);
	j->dmarc_reject = out.have_from && out.dmarc.result == DMARC_FAIL &&
			  out.dmarc.disposition == DMARC_P_REJECT;
	str_lcpy(j->from_domain, out.dmarc.from_domain, sizeof(j->from_domain));
	log_info("smtp", "checked id=%s spf=%s dkim=%s dmarc=%s from_domain=%s", j->id,
		 spf_result_name(out.spf.result),
		 out.n_dkim > 0 ? dkim_verdict_name(out.dkim[0].verdict) : "none",
		 out.have_from ? dmarc_result_name(out.dmarc.result) : "permerror",
		 out.have_from ? out.dmarc.from_domain : "-");
}

/* Loop: the checks are done; deliver, or refuse a DMARC reject. */
static void authcheck_done(struct job *base)
{
	struct deliver_job *j = (struct deliver_job *)base;
	struct smtp_session *s = smtp_session_find(j->base.conn_id);

	if (s == NULL) {
		deliver_job_free(j);	/* nothing was acknowledged: the client retries */
		return;
	}
	if (j->dmarc_reject && smtp_authcheck_dmarc_reject()) {
		log_info("smtp", "rejected id=%s: DMARC policy of %s", j->id, j->from_domain);
		smtp_reply(s, "550 5.7.1 Message rejected by the DMARC policy of %s",
			   j->from_domain);
		deliver_job_free(j);
		smtp_unbusy(s);
		return;
	}
	j->base.run = deliver_run;
	j->base.done = deliver_done;
	if (work_submit_db(&j->base) < 0) {
		deliver_job_free(j);
		smtp_reply(s, "451 4.3.0 Error: server busy, try again later");
		smtp_unbusy(s);
	}
}

/* --- building the job --- */

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t dedupe_accounts(int64_t *v, size_t n)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof *v, cmp_i64);
	size_t o = 1;
	for (size_t i = 1; i < n; i++)
		if (v[i] != v[o - 1])
			v[o++] = v[i];
	return o;
}

static size_t dedupe_strings(char **v, size_t n)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof *v, cmp_str);
	size_t o = 1;
	for (size_t i = 1; i < n; i++) {
		if (strcmp(v[i], v[o - 1]) != 0)
			v[o++] = v[i];
		else
			free(v[i]);
	}
	return o;
}

/* A queue id: seconds and 32 random bits, in hex. */
static void queue_id(char *out, size_t outsize)
{
	if (str_fmt(out, outsize, "%08llX%08X", (unsigned long long)time(NULL) & 0xffffffffULL,
		    (unsigned)randombytes_random()) < 0)
		abort();	/* outsize is fixed at 24: a broken invariant */
}

/* The client's address as an RFC 5321 address literal. */
static void peer_literal(struct smtp_session *s, char *out, size_t outsize)
{
	const char *ip = conn_peer_addr(s->c);
	if (ip == NULL)
		ip = "unknown";
	if (strncmp(ip, "::ffff:", 7) == 0 && strchr(ip + 7, ':') == NULL)
		ip += 7;	/* IPv4-mapped */
	int r = strchr(ip, ':') != NULL ? str_fmt(out, outsize, "[IPv6:%s]", ip)
					: str_fmt(out, outsize, "[%s]", ip);
	if (r < 0)
		str_lcpy(out, "[unknown]", outsize);
}

/* RFC 5321 4.4 trace field with the RFC 3848 protocol and the TLS facts.
 * XXX: no reverse DNS name (the loop does no DNS): "from helo ([ip])". */
static char *build_received(struct smtp_session *s, const char *id)
{
	char lit[80], date[64], tls[200] = "", forc[LIMIT_ADDRESS + 16] = "";
	bool is_tls = conn_is_tls(s->c);
	const char *proto;
	if (!s->esmtp)
		proto = "SMTP";
	else if (s->authed)
		proto = is_tls ? "ESMTPSA" : "ESMTPA";
	else
		proto = is_tls ? "ESMTPS" : "ESMTP";
	peer_literal(s, lit, sizeof lit);
	str_rfc5322_date(date, sizeof date, time(NULL));
	if (is_tls) {
		const char *v = conn_tls_version(s->c), *ci = conn_tls_cipher(s->c);
		if (str_fmt(tls, sizeof tls, "\r\n\t(using %s with cipher %s)", v ? v : "TLS",
			    ci ? ci : "unknown") < 0)
			tls[0] = '\0';
	}
	if (s->n_rcpt == 1 && s->first_rcpt[0] != '\0')
		if (str_fmt(forc, sizeof forc, "\r\n\tfor <%s>", s->first_rcpt) < 0)
			forc[0] = '\0';
	size_t size = strlen(s->helo_name) + strlen(lit) + strlen(tls) + strlen(smtp_hostname()) +
		      strlen(id) + strlen(forc) + strlen(date) + 128;
	char *out = xmalloc(size);
	int n = snprintf(out, size, "Received: from %s (%s)%s\r\n\tby %s (Postern) with %s id %s%s;\r\n\t%s\r\n",
			 s->helo_name, lit, tls, smtp_hostname(), proto, id, forc, date);
	if (n < 0 || (size_t)n >= size)
		abort();	/* sized above: a broken invariant */
	return out;
}

/* Deliveries with the same key may share a transaction: keyed by the
 * lowest local account (accounts are sorted), so one batch writes to few
 * mailboxes, and batches for different mailboxes commit in parallel on the
 * other workers (work.c runs one batch per key at a time). Remote-only
 * messages contend on no row: 0, not batched, they run in parallel. */
static uint64_t deliver_batch_key(const struct deliver_job *j)
{
	return j->n_accounts > 0 ? (uint64_t)j->accounts[0] : 0;
}

static void end_of_message(struct smtp_session *s)
{
	s->in = SMTP_IN_CMD;
	if (spool_overflow(s->spool)) {
		smtp_txn_reset(s);
		smtp_reply(s, "552 5.3.4 Message size exceeds fixed maximum message size");
		return;
	}
	if (spool_io_error(s->spool)) {
		smtp_txn_reset(s);
		log_error("smtp", "spool write failed");
		smtp_reply(s, "452 4.3.1 Insufficient system storage");
		return;
	}
	if (s->rcv.count > LIMIT_SMTP_RECEIVED_HOPS) {
		smtp_txn_reset(s);
		smtp_reply(s, "554 5.4.6 Too many hops: mail loop detected");
		return;
	}

	struct deliver_job *j = xcalloc(1, sizeof *j);
	j->base.run = deliver_run;
	j->base.done = deliver_done;
	j->base.conn_id = s->conn_id;
	j->base.run_batch = deliver_run_batch;
	queue_id(j->id, sizeof j->id);
	j->received = build_received(s, j->id);
	size_t rpl = strlen(s->sender.addr) + 32;
	j->return_path = xmalloc(rpl);
	if (str_fmt(j->return_path, rpl, "Return-Path: <%s>\r\n", s->sender.addr) < 0)
		abort();	/* sized above */
	j->sender = xstrdup(s->sender.addr);
	j->n_rcpt = s->n_rcpt;
	j->accounts = s->accounts;
	j->n_accounts = dedupe_accounts(s->accounts, s->n_accounts);
	j->remote = s->remote;
	j->n_remote = dedupe_strings(s->remote, s->n_remote);
	s->accounts = NULL;
	s->n_accounts = s->cap_accounts = 0;
	s->remote = NULL;
	s->n_remote = s->cap_remote = 0;
	j->spool = s->spool;
	s->spool = NULL;
	if (str_fmt(j->client, sizeof j->client, "%s:%d",
		    conn_peer_addr(s->c) ? conn_peer_addr(s->c) : "?", conn_peer_port(s->c)) < 0)
		str_lcpy(j->client, "?", sizeof j->client);
	str_lcpy(j->auth, s->authed ? s->account : "", sizeof j->auth);
	j->account_id = s->role == SMTP_ROLE_SUBMISSION && s->authed ? s->account_id : 0;
	j->tls = conn_is_tls(s->c);
	j->base.batch_key = deliver_batch_key(j);
	if (smtp_authcheck_wanted(s)) {
		const char *ip = conn_peer_addr(s->c);
		str_lcpy(j->ip, ip != NULL ? ip : "", sizeof j->ip);
		str_lcpy(j->helo, s->helo_name, sizeof j->helo);
		j->base.run = authcheck_run;
		j->base.done = authcheck_done;
	}
	smtp_txn_reset(s);

	if ((j->base.run == authcheck_run ? work_submit_dns(&j->base)
					  : work_submit_db(&j->base)) < 0) {
		deliver_job_free(j);
		smtp_reply(s, "451 4.3.0 Error: server busy, try again later");
		return;
	}
	smtp_busy(s);
}

void smtp_data_input(struct smtp_session *s)
{
	struct buf *in = conn_in(s->c);
	unsigned char out[16384];
	size_t used = 0, olen = 0;
	int r = mail_data_decode(&s->dec, buf_data(in), buf_len(in), &used, out, sizeof out, &olen);
	store(s, out, olen);
	buf_consume(in, used);
	if (r == 1)
		end_of_message(s);
}

/* --- BDAT --- */

int smtp_bdat_prepare(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	uint64_t size;
	bool last;
	if (smtp_parse_bdat(cmd->args, cmd->args_len, &size, &last) < 0) {
		/* The chunk's length is unknown, so nothing can be skipped:
		 * whatever follows is read as commands again. Those bytes come
		 * from this same client, which could send them as commands
		 * anyway, so this is not a smuggling path. */
		smtp_reply(s, "501 5.5.4 Syntax: BDAT chunk-size [LAST]");
		return -1;
	}
	s->in = SMTP_IN_CHUNK;
	s->chunk_left = size;
	s->chunk_size = size;
	s->chunk_last = last;
	s->chunk_discard = true;
	s->defer_reply = true;
	s->deferred[0] = '\0';
	return 0;
}

void smtp_cmd_bdat(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	(void)cmd;
	if (s->bdat_failed) {
		smtp_reply(s, "503 5.5.1 Error: an earlier chunk failed, send RSET");
		return;
	}
	if (!s->bdat) {
		s->bdat = true;
		begin_content(s);
		mail_bdat_init(&s->dec);
	}
	/* RFC 3030 / STYLE rule 3: the declared size against what is left,
	 * before reading anything. */
	if (s->chunk_left > (uint64_t)(LIMIT_SMTP_MESSAGE_SIZE - spool_size(s->spool))) {
		s->bdat_failed = true;
		spool_free(&s->spool);
		if (s->chunk_last) {
			smtp_txn_reset(s);
		}
		smtp_reply(s, "552 5.3.4 Message size exceeds fixed maximum message size");
		return;
	}
	s->chunk_discard = false;
}

static void chunk_end(struct smtp_session *s)
{
	s->in = SMTP_IN_CMD;
	s->defer_reply = false;
	if (s->deferred[0] != '\0' || s->chunk_discard) {
		char line[sizeof s->deferred];
		str_lcpy(line, s->deferred, sizeof line);
		s->deferred[0] = '\0';
		if (line[0] != '\0')
			smtp_reply(s, "%s", line);
		return;
	}
	if (s->chunk_last) {
		unsigned char tail[2];
		store(s, tail, mail_bdat_finish(&s->dec, tail));
		end_of_message(s);
		return;
	}
	if (spool_overflow(s->spool) || spool_io_error(s->spool)) {
		bool full = spool_overflow(s->spool);
		s->bdat_failed = true;
		spool_free(&s->spool);
		if (full)
			smtp_reply(s, "552 5.3.4 Message size exceeds fixed maximum message size");
		else
			smtp_reply(s, "452 4.3.1 Insufficient system storage");
		return;
	}
	smtp_reply(s, "250 2.0.0 %llu octets received", (unsigned long long)s->chunk_size);
}

void smtp_chunk_input(struct smtp_session *s)
{
	if (s->chunk_left > 0) {
		struct buf *in = conn_in(s->c);
		size_t take = buf_len(in);
		if ((uint64_t)take > s->chunk_left)
			take = (size_t)s->chunk_left;
		if (!s->chunk_discard) {
			unsigned char out[16384];
			size_t off = 0;
			while (off < take) {
				size_t used = 0, olen = 0;
				mail_bdat_decode(&s->dec, buf_data(in) + off, take - off, &used, out,
						 sizeof out, &olen);
				store(s, out, olen);
				off += used;
			}
		}
		buf_consume(in, take);
		s->chunk_left -= take;
		if (s->chunk_left > 0)
			return;
	}
	chunk_end(s);
}

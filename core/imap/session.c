/* session.c - IMAP sessions on a conn (RFC 3501 sections 3, 5.5, 7).
 *
 * The greeting, the input loop (one command at a time through the pure
 * parser; stops while a job, the failed-login delay, the STARTTLS
 * handshake, a large reply or too much pending output is out), literals
 * ("+ Ready", NO [TOOBIG] before reading; APPEND's message literal streamed
 * into a spool), AUTHENTICATE continuation lines and IDLE's DONE, the DB
 * job plumbing (id + generation lookup), the selected mailbox's view with
 * its untagged EXISTS / EXPUNGE / FETCH FLAGS, and the registry that
 * NOTIFY mailbox_changed wakes. Limits: LIMIT_IMAP_* (limits.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap.h"
#include "imap/session.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/strnum.h"
#include "net/tls.h"

#define IMAP_LINE_MAX 1024	/* status lines the server writes itself */
#define IMAP_REG_BUCKETS 1024

/* ---------- registry: sessions by selected mailbox ---------- */

static struct imap_session *imap_reg[IMAP_REG_BUCKETS];

static size_t reg_bucket(int64_t id)
{
	return (size_t)((uint64_t)id * 0x9E3779B97F4A7C15ull >> 54) % IMAP_REG_BUCKETS;
}

static void reg_remove(struct imap_session *s)
{
	if (!s->registered)
		return;
	if (s->reg_prev != NULL)
		s->reg_prev->reg_next = s->reg_next;
	else
		imap_reg[reg_bucket(s->sel.mailbox_id)] = s->reg_next;
	if (s->reg_next != NULL)
		s->reg_next->reg_prev = s->reg_prev;
	s->reg_next = s->reg_prev = NULL;
	s->registered = false;
}

static void reg_add(struct imap_session *s)
{
	size_t b = reg_bucket(s->sel.mailbox_id);

	reg_remove(s);
	s->reg_prev = NULL;
	s->reg_next = imap_reg[b];
	if (s->reg_next != NULL)
		s->reg_next->reg_prev = s;
	imap_reg[b] = s;
	s->registered = true;
}

static void session_notify(struct imap_session *s)
{
	s->notify_pending = true;
	if (s->idling && s->wait == IMAP_WAIT_NONE && !s->closing)
		imap_sync_start(s, true);
}

void imap_notify_mailbox(const char *payload)
{
	uint64_t id;
	struct imap_session *s, *next;

	if (payload == NULL || strnum_parse(payload, INT64_MAX, &id) < 0)
		return;
	imap_notify_event((int64_t)id);
	for (s = imap_reg[reg_bucket((int64_t)id)]; s != NULL; s = next) {
		next = s->reg_next;
		if (s->sel.mailbox_id == (int64_t)id)
			session_notify(s);
	}
}

void imap_notify_all(void)
{
	imap_notify_event_all();
	for (size_t b = 0; b < IMAP_REG_BUCKETS; b++) {
		struct imap_session *s, *next;

		for (s = imap_reg[b]; s != NULL; s = next) {
			next = s->reg_next;
			session_notify(s);
		}
	}
}

/* ---------- output ---------- */

struct imap_session *imap_session_find(uint64_t id)
{
	struct conn *c = conn_find(id);
	struct imap_session *s;

	if (c == NULL)
		return NULL;
	s = conn_session(c);
	if (s == NULL || s->closing)
		return NULL;
	return s;
}

void imap_send_raw(struct imap_session *s, const void *p, size_t n)
{
	if (s->closing)
		return;
	if (conn_write(s->conn, p, n) < 0)
		s->closing = true;
}

static void vsend(struct imap_session *s, const char *prefix, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static void vsend(struct imap_session *s, const char *prefix, const char *fmt, va_list ap)
{
	char line[IMAP_LINE_MAX], *p = line;
	size_t plen = prefix != NULL ? strlen(prefix) : 0;
	va_list aq;
	int k;

	/* Most lines fit the stack buffer; COPYUID sets may not. */
	va_copy(aq, ap);
	k = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (k < 0)
		k = 0;
	if (plen + (size_t)k + 3 > sizeof(line))
		p = xmalloc(plen + (size_t)k + 3);
	if (plen > 0)
		memcpy(p, prefix, plen);
	vsnprintf(p + plen, (size_t)k + 1, fmt, ap);
	p[plen + (size_t)k] = '\r';
	p[plen + (size_t)k + 1] = '\n';
	imap_send_raw(s, p, plen + (size_t)k + 2);
	if (p != line)
		free(p);
}

void imap_send(struct imap_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsend(s, NULL, fmt, ap);
	va_end(ap);
}

static void vtagged(struct imap_session *s, const char *status, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static void vtagged(struct imap_session *s, const char *status, const char *fmt, va_list ap)
{
	char prefix[IMAP_LINE_MAX / 2];
	const char *tag = s->tag != NULL ? s->tag : "*";

	if (str_fmt(prefix, sizeof(prefix), "%s %s ", tag, status) < 0)
		str_fmt(prefix, sizeof(prefix), "* %s ", status);
	vsend(s, prefix, fmt, ap);
}

void imap_tagged(struct imap_session *s, const char *status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vtagged(s, status, fmt, ap);
	va_end(ap);
}

void imap_session_close(struct imap_session *s)
{
	s->closing = true;
	if (!s->close_called) {
		s->close_called = true;
		conn_close(s->conn);
	}
}

static bool count_error(struct imap_session *s)
{
	unsigned max = s->state == IMAP_STATE_NOTAUTH ? LIMIT_IMAP_ERRORS_PREAUTH
						      : LIMIT_IMAP_ERRORS;

	if (++s->errors < max)
		return false;
	log_info("imap", "too many errors ip=%s", conn_peer_addr(s->conn));
	imap_send(s, "* BYE Too many errors");
	imap_session_close(s);
	return true;
}

void imap_error(struct imap_session *s, const char *status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vtagged(s, status, fmt, ap);
	va_end(ap);
	/* After login only protocol errors count: a client may ask for many
	 * mailboxes that do not exist. */
	if (strcmp(status, "BAD") == 0 || s->state == IMAP_STATE_NOTAUTH)
		count_error(s);
}

bool imap_session_login_allowed(const struct imap_session *s)
{
	return conn_listener_tls(s->conn) != TLS_MODE_STARTTLS || conn_is_tls(s->conn);
}

bool imap_session_starttls_available(const struct imap_session *s)
{
	return conn_listener_tls(s->conn) == TLS_MODE_STARTTLS && !conn_is_tls(s->conn) &&
	       tls_server_ctx() != NULL;
}

void imap_session_touch(struct imap_session *s)
{
	conn_set_timeout(s->conn, s->state == IMAP_STATE_NOTAUTH ? LIMIT_IMAP_TIMEOUT_PREAUTH_MS
								 : LIMIT_IMAP_TIMEOUT_MS);
}

void imap_session_wait(struct imap_session *s, enum imap_wait why)
{
	s->wait = why;
	if (why != IMAP_WAIT_TLS && !s->closing)
		conn_pause(s->conn, true);
}

/* ---------- input ---------- */

static void session_run(struct imap_session *s);

void imap_session_resume(struct imap_session *s)
{
	if (s->closing)
		return;
	s->wait = IMAP_WAIT_NONE;
	conn_pause(s->conn, false);
	session_run(s);
}

static void set_tag(struct imap_session *s, const char *tag)
{
	xfree(s->tag);
	if (tag != NULL)
		s->tag = xstrdup(tag);
}

static void parse_error(struct imap_session *s, const struct imap_cmd *cmd)
{
	const struct imap_parser_error *e = &cmd->error;
	char code[64] = "";

	if (e->code != NULL)
		str_fmt(code, sizeof(code), "[%s] ", e->code);
	if (e->reply == IMAP_REPLY_BYE || e->close) {
		imap_send(s, "* BYE %s%s", code, e->text);
		imap_session_close(s);
		return;
	}
	set_tag(s, cmd->tag);
	imap_tagged(s, "BAD", "%s%s", code, e->text);
	count_error(s);
}

/* A literal announced at the end of a line. */
static void on_literal(struct imap_session *s, const struct imap_cmd *cmd)
{
	const struct imap_literal *l = &cmd->literal;
	/* depth 1: APPEND ... UTF8 (~{n}) after UTF8=ACCEPT (RFC 6855 4) */
	bool append = cmd->name != NULL && strcmp(cmd->name, "APPEND") == 0 &&
		      (l->depth == 0 || (l->depth == 1 && s->utf8)) && l->index >= 1 &&
		      s->state != IMAP_STATE_NOTAUTH;

	set_tag(s, cmd->tag);
	if (l->too_big) {
		imap_parser_literal_refuse(s->parser);
		spool_free(&s->spool);
		s->lit_left = 0;
		imap_error(s, "NO", "[TOOBIG] Literal too large");
		return;
	}
	if (append && s->spool == NULL && s->quota_bytes > 0 && l->size > (uint64_t)s->quota_bytes) {
		/* can never fit; the exact check is at commit (NO [OVERQUOTA]) */
		imap_parser_literal_refuse(s->parser);
		imap_error(s, "NO", "[OVERQUOTA] Message larger than the quota");
		return;
	}
	if (append && s->spool == NULL) {
		s->spool = spool_new((size_t)l->size);
		s->lit_left = l->size;
		s->lit_failed = false;
		imap_parser_literal_take(s->parser);
		if (l->sync)
			imap_send(s, "+ Ready for literal data");
		return;
	}
	if (append || !l->fits || imap_parser_literal_accept(s->parser) < 0) {
		imap_parser_literal_refuse(s->parser);
		spool_free(&s->spool);	/* the command is abandoned */
		s->lit_left = 0;
		imap_error(s, "BAD", "[TOOBIG] Command too long");
		return;
	}
	if (l->sync)
		imap_send(s, "+ Ready for literal data");
}

/* APPEND's message bytes into the spool; true when more are needed. */
static bool take_literal(struct imap_session *s, struct buf *in)
{
	size_t n = buf_len(in);

	if ((uint64_t)n > s->lit_left)
		n = (size_t)s->lit_left;
	if (n > 0 && !s->lit_failed && spool_append(s->spool, buf_data(in), n) < 0)
		s->lit_failed = true;
	buf_consume(in, n);
	s->lit_left -= n;
	return s->lit_left > 0;
}

static void session_run(struct imap_session *s)
{
	if (s->running)
		return;
	s->running = true;
	while (!s->closing && s->wait == IMAP_WAIT_NONE) {
		struct buf *in = conn_in(s->conn);
		struct imap_cmd cmd;
		size_t used = 0;
		int r;

		if (s->lit_left > 0) {
			if (take_literal(s, in))
				break;
			continue;
		}
		if (buf_len(in) == 0)
			break;
		if (conn_out_pending(s->conn) > LIMIT_IMAP_OUT_HIGHWATER) {
			imap_session_wait(s, IMAP_WAIT_DRAIN);
			break;
		}
		if (s->idling || s->auth_cont) {
			const char *line = NULL, *err = NULL;
			size_t len = 0;

			r = imap_parser_read_line(s->parser, buf_data(in), buf_len(in), &used, &line,
						  &len, &err);
			buf_consume(in, used);
			if (r == 0)
				break;
			imap_session_touch(s);
			if (s->auth_cont) {
				s->auth_cont = false;
				if (r < 0) {
					imap_error(s, "BAD", "%s", err);
					continue;
				}
				imap_auth_response(s, line, len);
			} else {
				if (r < 0) {
					imap_send(s, "* BAD %s", err);
					count_error(s);
					continue;
				}
				imap_idle_line(s, line, len);
			}
			continue;
		}
		memset(&cmd, 0, sizeof(cmd));
		r = imap_parser_read(s->parser, buf_data(in), buf_len(in), &used, &cmd);
		buf_consume(in, used);
		if (r == IMAP_PARSE_MORE)
			break;
		imap_session_touch(s);
		if (r == IMAP_PARSE_ERROR) {
			if (s->spool != NULL) {
				spool_free(&s->spool);
				s->lit_left = 0;
			}
			parse_error(s, &cmd);
			continue;
		}
		if (r == IMAP_PARSE_LITERAL) {
			on_literal(s, &cmd);
			continue;
		}
		set_tag(s, cmd.tag);
		imap_commands_dispatch(s, &cmd);
		if (s->spool != NULL && s->wait != IMAP_WAIT_JOB)
			spool_free(&s->spool);	/* an APPEND that failed before its job */
	}
	/* Idle sessions (IDLE above all) keep no parser arena: commands copy
	 * what their jobs need. */
	if (!s->closing && s->lit_left == 0 && buf_len(conn_in(s->conn)) == 0)
		imap_parser_shrink(s->parser);
	s->running = false;
}

/* ---------- streaming large replies ---------- */

static void stream_pump(struct imap_session *s)
{
	if (s->pumping)
		return;
	s->pumping = true;
	while (s->out != NULL && !s->closing) {
		size_t n = s->out_len - s->out_off;

		if (conn_out_pending(s->conn) + LIMIT_IMAP_STREAM_CHUNK > LIMIT_IMAP_OUT_HIGHWATER)
			break;
		if (n > LIMIT_IMAP_STREAM_CHUNK)
			n = LIMIT_IMAP_STREAM_CHUNK;
		imap_send_raw(s, s->out + s->out_off, n);
		s->out_off += n;
		if (s->out_off == s->out_len) {
			void (*cont)(struct imap_session *) = s->out_cont;

			xfree(s->out);
			s->out_len = s->out_off = 0;
			s->out_cont = NULL;
			s->pumping = false;
			if (cont != NULL)
				cont(s);
			else
				imap_session_resume(s);
			return;
		}
	}
	s->pumping = false;
}

void imap_session_stream(struct imap_session *s, unsigned char *data, size_t len,
			 void (*cont)(struct imap_session *s))
{
	if (len == 0) {
		free(data);
		if (cont != NULL)
			cont(s);
		else
			imap_session_resume(s);
		return;
	}
	s->out = data;
	s->out_len = len;
	s->out_off = 0;
	s->out_cont = cont;
	imap_session_wait(s, IMAP_WAIT_STREAM);
	stream_pump(s);
}

/* ---------- jobs ---------- */

void imap_job_free(struct imap_job *j)
{
	if (j->cleanup != NULL)
		j->cleanup(j);
	imap_store_sync_free(&j->sync_res);
	free(j->uids);
	free(j->skip);
	free(j->recent);
	free(j);
}

static void job_run(struct job *jj, struct db *db)
{
	struct imap_job *j = (struct imap_job *)jj;

	if (db == NULL) {
		j->st = DB_TEMP;
		j->sync_st = DB_TEMP;
		return;
	}
	if (j->sync && j->sync_before) {
		j->sync_st = imap_store_sync(db, j->mailbox_id, j->since, &j->sync_res);
		imap_recent_claim(j, db);
	}
	if (j->work != NULL)
		j->work(j, db);
	if (j->sync && !j->sync_before) {
		j->sync_st = imap_store_sync(db, j->mailbox_id, j->since, &j->sync_res);
		imap_recent_claim(j, db);
	}
}

static void job_done(struct job *jj)
{
	struct imap_job *j = (struct imap_job *)jj;
	struct imap_session *s = imap_session_find(jj->conn_id);

	if (s == NULL || s->wait != IMAP_WAIT_JOB) {
		imap_job_free(j);
		return;
	}
	bool quiet = s->idle_job;	/* an untagged-only job (IDLE, NOTIFY report) */
	uint32_t last = s->sel.n > 0 ? s->sel.uids[s->sel.n - 1] : 0;
	size_t first;
	int64_t applied = 0;	/* the mailbox whose view the sync moved */
	const struct fetch_req *nf;

	s->wait = IMAP_WAIT_NONE;
	if (j->sync && j->sync_st == DB_OK && s->state == IMAP_STATE_SELECTED &&
	    s->sel.mailbox_id == j->mailbox_id) {
		imap_view_apply(s, &j->sync_res, j->allow_expunge, j->skip, j->n_skip);
		applied = j->mailbox_id;
	}
	j->finish(s, j);
	imap_job_free(j);
	/* NOTIFY MessageNew (fetch-att) for the selected mailbox (RFC 5465 5.2) */
	for (first = s->sel.n; first > 0 && s->sel.uids[first - 1] > last; first--)
		;
	if (applied != 0 && s->state == IMAP_STATE_SELECTED && s->sel.mailbox_id == applied &&
	    first < s->sel.n && s->wait == IMAP_WAIT_NONE && !s->closing &&
	    (nf = imap_notify_fetch_template(s)) != NULL)
		imap_fetch_quiet(s, nf, &s->sel.uids[first], s->sel.n - first);
	/* NOTIFY (RFC 5465 3): changes are reported after a command too, not
	 * only at IDLE / NOOP; never chained after an untagged-only job */
	if (!quiet && s->wait == IMAP_WAIT_NONE && !s->idling && !s->closing &&
	    imap_notify_pending(s))
		imap_sync_start(s, true);
	if (s->wait == IMAP_WAIT_NONE)
		imap_session_resume(s);
}

void imap_job_submit(struct imap_session *s, struct imap_job *j)
{
	j->job.run = job_run;
	j->job.done = job_done;
	j->job.conn_id = s->conn_id;
	j->account_id = s->account_id;
	if (s->state == IMAP_STATE_SELECTED) {
		j->mailbox_id = s->sel.mailbox_id;
		j->since = s->sel.modseq;
		j->sync = true;
		j->claim_recent = !s->sel.readonly;
		s->notify_pending = false;
	}
	if (work_submit_db(&j->job) < 0) {
		if (!s->idle_job)
			imap_tagged(s, "NO", "[UNAVAILABLE] Server busy, try again later");
		s->idle_job = false;
		imap_job_free(j);
		return;
	}
	imap_session_wait(s, IMAP_WAIT_JOB);
}

/* ---------- the selected mailbox ---------- */

void imap_view_clear(struct imap_session *s)
{
	reg_remove(s);
	xfree(s->sel.name);
	xfree(s->sel.uids);
	xfree(s->sel.saved);
	xfree(s->sel.recent);
	memset(&s->sel, 0, sizeof(s->sel));
	if (s->state == IMAP_STATE_SELECTED)
		s->state = IMAP_STATE_AUTH;
}

void imap_view_set(struct imap_session *s, int64_t id, const char *name, bool readonly)
{
	imap_view_clear(s);
	s->sel.mailbox_id = id;
	s->sel.name = xstrdup(name);
	s->sel.readonly = readonly;
	s->state = IMAP_STATE_SELECTED;
	reg_add(s);
}

uint32_t imap_view_seq(const uint32_t *uids, size_t n, uint32_t uid)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (uids[mid] == uid)
			return (uint32_t)mid + 1;
		if (uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static uint32_t view_remove(struct imap_session *s, uint32_t uid)
{
	uint32_t seq = imap_view_seq(s->sel.uids, s->sel.n, uid);

	if (seq == 0)
		return 0;
	memmove(&s->sel.uids[seq - 1], &s->sel.uids[seq], (s->sel.n - seq) * sizeof(uint32_t));
	s->sel.n--;
	imap_recent_remove(s, uid);
	return seq;
}

void imap_view_expunge(struct imap_session *s, uint32_t uid)
{
	uint32_t seq = view_remove(s, uid);

	if (seq == 0)
		return;
	if (s->qresync)
		imap_send(s, "* VANISHED %u", uid);	/* RFC 7162 3.2.10 */
	else
		imap_send(s, "* %u EXPUNGE", seq);
}

void imap_view_expunge_many(struct imap_session *s, const uint32_t *uids, size_t n)
{
	uint32_t *gone;
	size_t k = 0;

	if (!s->qresync) {
		for (size_t i = 0; i < n; i++)
			imap_view_expunge(s, uids[i]);
		return;
	}
	/* QRESYNC: one "* VANISHED set" (RFC 7162 3.2.10) */
	gone = xcalloc(n + 1, sizeof(*gone));
	for (size_t i = 0; i < n; i++)
		if (view_remove(s, uids[i]) != 0)
			gone[k++] = uids[i];
	imap_vanished_send(s, gone, k, NULL, false);
	free(gone);
}

static void view_append(struct imap_session *s, uint32_t uid)
{
	if (s->sel.n == s->sel.alloc) {
		s->sel.alloc = s->sel.alloc ? s->sel.alloc * 2 : 64;
		s->sel.uids = xrealloc(s->sel.uids, s->sel.alloc * sizeof(uint32_t));
	}
	s->sel.uids[s->sel.n++] = uid;
}

void imap_flags_write(struct buf *b, int flags, const char *keywords)
{
	static const struct {
		int bit;
		const char *name;
	} sys[] = {
		{ IMAP_FLAG_SEEN, "\\Seen" },	    { IMAP_FLAG_ANSWERED, "\\Answered" },
		{ IMAP_FLAG_FLAGGED, "\\Flagged" }, { IMAP_FLAG_DELETED, "\\Deleted" },
		{ IMAP_FLAG_DRAFT, "\\Draft" },	    { IMAP_FLAG_RECENT, "\\Recent" },
	};
	bool first = true;

	buf_append_str(b, "FLAGS (");
	for (size_t i = 0; i < sizeof(sys) / sizeof(sys[0]); i++) {
		if ((flags & sys[i].bit) == 0)
			continue;
		if (!first)
			buf_append_str(b, " ");
		buf_append_str(b, sys[i].name);
		first = false;
	}
	if (keywords != NULL && keywords[0] != '\0') {
		if (!first)
			buf_append_str(b, " ");
		buf_append_str(b, keywords);
	}
	buf_append_str(b, ")");
}

static bool uid_in(const uint32_t *uids, size_t n, uint32_t uid)
{
	return uids != NULL && imap_view_seq(uids, n, uid) != 0;
}

void imap_view_apply(struct imap_session *s, const struct imap_store_sync *sy, bool allow_expunge,
		     const uint32_t *skip, size_t n_skip)
{
	bool held = false, added = false;
	uint32_t *gone = NULL;
	size_t n_gone = 0, first;

	if (sy->gone) {
		/* XXX: RFC 3501 leaves this open; Dovecot says BYE. */
		imap_send(s, "* BYE Mailbox deleted");
		imap_session_close(s);
		return;
	}
	for (size_t i = 0; i < sy->n_expunged; i++) {
		if (imap_view_seq(s->sel.uids, s->sel.n, sy->expunged[i]) == 0)
			continue;
		if (!allow_expunge) {
			held = true;
			continue;
		}
		if (gone == NULL)
			gone = xcalloc(sy->n_expunged, sizeof(*gone));
		gone[n_gone++] = sy->expunged[i];
	}
	if (n_gone > 0)
		imap_view_expunge_many(s, gone, n_gone);
	free(gone);
	first = s->sel.n;	/* the view's new UIDs start here */
	for (size_t i = 0; i < sy->n_msgs; i++) {
		const struct imap_store_flags *f = &sy->msgs[i];
		uint32_t seq;

		if (s->sel.n == 0 || f->uid > s->sel.uids[s->sel.n - 1]) {
			if (s->sel.n >= LIMIT_IMAP_MESSAGES)
				continue;
			view_append(s, f->uid);
			added = true;
			continue;
		}
		seq = imap_view_seq(s->sel.uids, s->sel.n, f->uid);
		if (seq == 0 || uid_in(skip, n_skip, f->uid))
			continue;
		{
			struct buf b;

			buf_init(&b, IMAP_LINE_MAX * 8);
			buf_printf(&b, "* %u FETCH (UID %u ", seq, f->uid);
			imap_flags_write(&b, imap_recent_flags(s, f->uid, f->flags), f->keywords);
			if (s->condstore)
				buf_printf(&b, " MODSEQ (%lld)", (long long)f->modseq);
			buf_append_str(&b, ")\r\n");
			imap_send_raw(s, buf_data(&b), buf_len(&b));
			buf_free(&b);
		}
	}
	if (added) {
		/* EXAMINE shows the UIDs no session had claimed at the sync;
		 * SELECT those its own claim took */
		if (s->sel.readonly)
			imap_recent_mark(s, first, sy->recent_uid, INT64_MAX);
		else
			imap_recent_mark(s, first, sy->claim_from, sy->claim_to);
		imap_send(s, "* %zu EXISTS", s->sel.n);
		if (!s->rev2)	/* RFC 3501 7.3.2; RFC 9051 has no RECENT */
			imap_send(s, "* %zu RECENT", s->sel.n_recent);
	}
	if (sy->uidnext > 0)
		s->sel.uidnext = sy->uidnext;
	if (!held)
		s->sel.modseq = sy->highestmodseq;
}

/* ---------- NOOP / IDLE sync ---------- */

void imap_sync_finish(struct imap_session *s, struct imap_job *j)
{
	bool idle = s->idle_job;

	s->idle_job = false;
	if (idle) {
		/* Still in IDLE: nothing tagged; keep reading lines. */
		if (s->notify_pending && s->idling)
			imap_sync_start(s, true);
		return;
	}
	if (j->sync_st != DB_OK && j->sync) {
		imap_tagged(s, "NO", "[UNAVAILABLE] Try again later");
		return;
	}
	imap_tagged(s, "OK", "NOOP completed");
}

void imap_sync_start(struct imap_session *s, bool idle)
{
	struct imap_job *j = imap_notify_job(s);	/* NOTIFY changes first (imapa) */

	if (j == NULL) {
		j = xcalloc(1, sizeof(*j));
		j->finish = imap_sync_finish;
	}
	j->allow_expunge = true;
	s->idle_job = idle;
	imap_job_submit(s, j);
}

/* ---------- conn callbacks ---------- */

static void *session_open(struct conn *c)
{
	struct imap_session *s = xcalloc(1, sizeof(*s));
	struct imap_parser_params pp;
	struct buf b;

	s->conn = c;
	s->conn_id = conn_id(c);
	s->state = IMAP_STATE_NOTAUTH;
	imap_parser_params_default(&pp, false);
	s->parser = imap_parser_create(&pp);
	buf_init(&b, IMAP_LINE_MAX);
	buf_append_str(&b, "* OK [CAPABILITY ");
	imap_capabilities(s, &b);
	buf_append_str(&b, "] Postern IMAP ready\r\n");
	imap_send_raw(s, buf_data(&b), buf_len(&b));
	buf_free(&b);
	imap_session_touch(s);
	return s;
}

static void session_input(void *session, struct conn *c)
{
	(void)c;
	session_run(session);
}

static void session_timeout(void *session, struct conn *c)
{
	struct imap_session *s = session;

	if (s->closing)
		return;
	if (s->wait == IMAP_WAIT_JOB) {
		conn_set_timeout(c, LIMIT_IMAP_TIMEOUT_MS);	/* its answer comes first */
		return;
	}
	log_info("imap", "autologout ip=%s", conn_peer_addr(c));
	if (s->out == NULL && s->wait != IMAP_WAIT_TLS && s->lit_left == 0)
		imap_send(s, "* BYE Autologout; idle for too long");
	imap_session_close(s);
}

static void session_tls_done(void *session, struct conn *c, bool ok)
{
	struct imap_session *s = session;

	if (s->closing)
		return;
	if (!ok) {
		log_info("imap", "STARTTLS handshake failed ip=%s", conn_peer_addr(c));
		s->closing = true;
		return;
	}
	imap_parser_reset(s->parser);
	imap_session_touch(s);
	s->wait = IMAP_WAIT_NONE;
	session_run(s);
}

static void session_drained(void *session, struct conn *c)
{
	struct imap_session *s = session;

	(void)c;
	if (s->closing)
		return;
	if (s->out != NULL)
		stream_pump(s);
	else if (s->wait == IMAP_WAIT_DRAIN)
		imap_session_resume(s);
}

static void session_shutdown(void *session, struct conn *c)
{
	struct imap_session *s = session;

	(void)c;
	if (s->closing)
		return;
	if (s->out == NULL && s->wait != IMAP_WAIT_TLS && s->lit_left == 0)
		imap_send(s, "* BYE Server shutting down");
	imap_session_close(s);
}

static void session_close(void *session, struct conn *c)
{
	struct imap_session *s = session;

	(void)c;
	if (s == NULL)
		return;
	loop_timer_cancel(&s->fail_timer);
	imap_notify_free(s);
	imap_view_clear(s);
	imap_parser_free(&s->parser);
	spool_free(&s->spool);
	free(s->out);
	if (s->cont_data != NULL && s->cont_free != NULL)
		s->cont_free(s->cont_data);
	free(s->tag);
	explicit_bzero(s->user, sizeof(s->user));
	free(s);
}

const struct conn_proto imap_proto = {
	.name = "imap",
	.busy_reply = "* BYE Too many connections\r\n",
	.open = session_open,
	.input = session_input,
	.timeout = session_timeout,
	.tls_done = session_tls_done,
	.drained = session_drained,
	.shutdown = session_shutdown,
	.close = session_close,
};

/* cmd_mail.c - MAIL FROM and RCPT TO. RFC 5321 4.1.1.2-3 (250 2.1.0 /
 * 2.1.5, 503 nested MAIL), 4.1.2 (Path, esmtp-param), 4.5.3.1.8 (more than
 * LIMIT_SMTP_RECIPIENTS -> 452 4.5.3), RFC 1870 (SIZE over
 * LIMIT_SMTP_MESSAGE_SIZE -> 552 5.3.4), RFC 6152 (BODY=7BIT|8BITMIME),
 * RFC 6531 (SMTPUTF8; non-ASCII without it -> 553 5.6.7), RFC 4954 5
 * (AUTH= accepted and ignored), RFC 6409 (submission: the sender must
 * belong to the account, <> refused). Recipients are resolved by a DB job;
 * the MX never relays: a domain we do not host gets 554 5.7.1 unless the
 * session is authenticated submission. */
#include <string.h>

#include "db/store.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/strnum.h"
#include "smtp/rcpt_cache.h"
#include "smtp/session.h"
#include "work/work.h"

/* --- MAIL --- */

struct mail_job {
	struct job base;
	int64_t account_id;
	struct mail_address addr;
	bool smtputf8;
	bool body_8bit;
	enum db_status st;
	bool allowed;
};

static void mail_accept(struct smtp_session *s, const struct mail_address *a, bool smtputf8,
			bool body_8bit)
{
	s->mail = true;
	s->sender = *a;
	s->smtputf8 = smtputf8;
	s->body_8bit = body_8bit;
	smtp_reply(s, "250 2.1.0 Ok");
}

static void mail_run(struct job *base, struct db *db)
{
	struct mail_job *j = (struct mail_job *)base;
	if (db == NULL) {
		j->st = DB_TEMP;
		return;
	}
	j->st = db_sender_allowed(db, j->account_id, j->addr.addr, &j->allowed);
}

static void mail_done(struct job *base)
{
	struct mail_job *j = (struct mail_job *)base;
	struct smtp_session *s = smtp_session_find(j->base.conn_id);
	if (s != NULL) {
		if (j->st != DB_OK) {
			smtp_reply(s, "451 4.3.0 Error: temporary failure, try again later");
		} else if (!j->allowed) {
			char who[160], addr[160];
			str_printable(who, sizeof who, s->account, strlen(s->account));
			str_printable(addr, sizeof addr, j->addr.addr, strlen(j->addr.addr));
			log_info("smtp", "sender rejected account=%s from=<%s> client=%s", who, addr,
				 conn_peer_addr(s->c));
			smtp_reply(s, "553 5.7.1 Sender address rejected: not owned by user");
		} else {
			mail_accept(s, &j->addr, j->smtputf8, j->body_8bit);
		}
		smtp_unbusy(s);
	}
	free(j);
}

static void reply_addr_error(struct smtp_session *s, enum mail_addr_error e, const char *enh)
{
	switch (e) {
	case MAIL_ADDR_ERR_UTF8:
		smtp_reply(s, "553 5.6.7 Non-ASCII address requires SMTPUTF8");
		break;
	case MAIL_ADDR_ERR_LOCAL_TOO_LONG:
		smtp_reply(s, "501 %s Local part too long", enh);
		break;
	case MAIL_ADDR_ERR_DOMAIN_TOO_LONG:
		smtp_reply(s, "501 %s Domain too long", enh);
		break;
	default:
		smtp_reply(s, "501 %s Bad address syntax", enh);
		break;
	}
}

void smtp_cmd_mail(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	const char *path;
	size_t plen, used, n = 0;
	struct mail_address a;
	enum mail_addr_error err;
	struct smtp_param params[LIMIT_SMTP_PARAMS];
	bool smtputf8 = false, body_8bit = false, have_size = false, have_body = false;

	if (s->mail) {
		smtp_reply(s, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	s->active = true;
	if (smtp_parse_path_prefix(cmd->args, cmd->args_len, "FROM:", &path, &plen) < 0) {
		smtp_reply(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return;
	}
	/* UTF-8 is checked against the SMTPUTF8 parameter, which follows. */
	if (mail_address_parse(path, plen, MAIL_ADDR_UTF8 | MAIL_ADDR_NULL_OK, &a, &used, &err) < 0) {
		reply_addr_error(s, err, "5.1.7");
		return;
	}
	if (smtp_parse_params(path + used, plen - used, params, LIMIT_SMTP_PARAMS, &n) < 0) {
		smtp_reply(s, "501 5.5.4 Syntax error in parameters");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct smtp_param *p = &params[i];
		if (smtp_param_is(p, "SIZE")) {
			uint64_t size;
			if (have_size || p->value == NULL ||
			    strnum_u64(p->value, p->value_len, UINT64_MAX, &size) < 0) {
				smtp_reply(s, "501 5.5.4 Bad SIZE parameter");
				return;
			}
			have_size = true;
			if (size > LIMIT_SMTP_MESSAGE_SIZE) {
				smtp_reply(s, "552 5.3.4 Message size exceeds fixed maximum message size");
				return;
			}
		} else if (smtp_param_is(p, "BODY")) {
			if (have_body || p->value == NULL) {
				smtp_reply(s, "501 5.5.4 Bad BODY parameter");
				return;
			}
			have_body = true;
			if (p->value_len == 8 && str_casestarts(p->value, 8, "8BITMIME")) {
				body_8bit = true;
			} else if (!(p->value_len == 4 && str_casestarts(p->value, 4, "7BIT"))) {
				smtp_reply(s, "501 5.5.4 Unsupported BODY type");
				return;
			}
		} else if (smtp_param_is(p, "SMTPUTF8")) {
			if (p->value != NULL) {
				smtp_reply(s, "501 5.5.4 SMTPUTF8 takes no value");
				return;
			}
			smtputf8 = true;
		} else if (smtp_param_is(p, "AUTH")) {
			/* RFC 4954 5: accepted, not trusted, not passed on. */
		} else {
			smtp_reply(s, "555 5.5.4 Unsupported MAIL parameter");
			return;
		}
	}
	if (a.utf8 && !smtputf8) {
		smtp_reply(s, "553 5.6.7 Non-ASCII address requires SMTPUTF8");
		return;
	}
	if (s->role == SMTP_ROLE_MX) {
		mail_accept(s, &a, smtputf8, body_8bit);
		return;
	}
	/* Submission (authenticated: the table checked). */
	if (a.is_null) {
		smtp_reply(s, "553 5.7.1 Sender address rejected: null sender not allowed");
		return;
	}
	struct mail_job *j = xcalloc(1, sizeof *j);
	j->base.run = mail_run;
	j->base.done = mail_done;
	j->base.conn_id = s->conn_id;
	j->account_id = s->account_id;
	j->addr = a;
	j->smtputf8 = smtputf8;
	j->body_8bit = body_8bit;
	if (work_submit_db(&j->base) < 0) {
		free(j);
		smtp_reply(s, "451 4.3.0 Error: server busy, try again later");
		return;
	}
	smtp_busy(s);
}

/* --- RCPT --- */

struct rcpt_job {
	struct job base;
	uint64_t cache_gen;
	struct mail_address addr;
	char local[LIMIT_LOCAL_PART + 1];
	char domain[LIMIT_DOMAIN + 1];
	enum db_status st;
	struct db_rcpt res;
};

static void rcpt_accept(struct smtp_session *s, const struct mail_address *a)
{
	if (s->n_rcpt++ == 0)
		str_lcpy(s->first_rcpt, a->addr, sizeof s->first_rcpt);
	smtp_reply(s, "250 2.1.5 Ok");
}

/* A domain we do not host: relay only for authenticated submission. */
static void rcpt_remote(struct smtp_session *s, const struct mail_address *a)
{
	if (s->role == SMTP_ROLE_SUBMISSION && s->authed) {
		smtp_add_remote(s, a->addr);
		rcpt_accept(s, a);
		return;
	}
	char addr[160];
	str_printable(addr, sizeof addr, a->addr, strlen(a->addr));
	log_info("smtp", "relay denied to=<%s> client=%s", addr, conn_peer_addr(s->c));
	smtp_reply(s, "554 5.7.1 Relay access denied");
}

static void rcpt_run(struct job *base, struct db *db)
{
	struct rcpt_job *j = (struct rcpt_job *)base;
	if (db == NULL) {
		j->st = DB_TEMP;
		return;
	}
	j->st = db_rcpt_resolve(db, j->local, j->domain, &j->res);
	/* "<Postmaster>": the host name's domain, else its parents
	 * (mail.example.com -> example.com), down to two labels. */
	const char *d = j->domain;
	while (j->addr.is_postmaster && j->st == DB_OK && j->res.result == DB_RCPT_NOT_HOSTED) {
		const char *dot = strchr(d, '.');
		if (dot == NULL || strchr(dot + 1, '.') == NULL)
			break;
		d = dot + 1;
		j->st = db_rcpt_resolve(db, j->local, d, &j->res);
		if (j->st == DB_OK && j->res.result != DB_RCPT_NOT_HOSTED)
			str_fmt(j->addr.addr, sizeof j->addr.addr, "postmaster@%s", d);
	}
}

/* The reply to RCPT once the recipient is resolved (st, r). */
static void rcpt_answer(struct smtp_session *s, enum db_status st, const struct mail_address *a,
			const struct db_rcpt *r)
{
	if (st != DB_OK) {
		smtp_reply(s, "451 4.3.0 Error: temporary failure, try again later");
	} else if (r->result == DB_RCPT_NOT_HOSTED && a->is_postmaster) {
		smtp_reply(s, "550 5.1.1 User unknown");
	} else if (r->result == DB_RCPT_NOT_HOSTED) {
		rcpt_remote(s, a);
	} else if (r->result == DB_RCPT_INACTIVE) {
		smtp_reply(s, "550 5.2.1 Mailbox disabled");
	} else if (r->result != DB_RCPT_HOSTED || r->n_accounts + r->n_remote == 0) {
		smtp_reply(s, "550 5.1.1 User unknown");
	} else if (r->over_quota) {
		smtp_reply(s, "452 4.2.2 Mailbox full");
	} else {
		for (size_t i = 0; i < r->n_accounts && i < DB_RCPT_MAX_TARGETS; i++)
			smtp_add_account(s, r->accounts[i]);
		for (size_t i = 0; i < r->n_remote && i < DB_RCPT_MAX_TARGETS; i++)
			smtp_add_remote(s, r->remote[i]);
		rcpt_accept(s, a);
	}
}

static void rcpt_done(struct job *base)
{
	struct rcpt_job *j = (struct rcpt_job *)base;
	struct smtp_session *s = smtp_session_find(j->base.conn_id);

	if (j->st == DB_OK && !j->addr.is_postmaster)
		rcpt_cache_put(j->cache_gen, j->local, j->domain, &j->res);
	if (s == NULL) {
		free(j);
		return;
	}
	rcpt_answer(s, j->st, &j->addr, &j->res);
	smtp_unbusy(s);
	free(j);
}

void smtp_cmd_rcpt(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	const char *path;
	size_t plen, used, n = 0;
	struct mail_address a;
	enum mail_addr_error err;
	struct smtp_param params[LIMIT_SMTP_PARAMS];

	if (smtp_parse_path_prefix(cmd->args, cmd->args_len, "TO:", &path, &plen) < 0) {
		smtp_reply(s, "501 5.5.4 Syntax: RCPT TO:<address>");
		return;
	}
	if (s->n_rcpt >= LIMIT_SMTP_RECIPIENTS) {
		smtp_reply(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	unsigned flags = MAIL_ADDR_POSTMASTER | (s->smtputf8 ? MAIL_ADDR_UTF8 : 0);
	if (mail_address_parse(path, plen, flags, &a, &used, &err) < 0) {
		reply_addr_error(s, err, "5.1.3");
		return;
	}
	if (smtp_parse_params(path + used, plen - used, params, LIMIT_SMTP_PARAMS, &n) < 0) {
		smtp_reply(s, "501 5.5.4 Syntax error in parameters");
		return;
	}
	if (n > 0) {
		/* XXX: no DSN (RFC 3461): NOTIFY/ORCPT are not offered. */
		smtp_reply(s, "555 5.5.4 Unsupported RCPT parameter");
		return;
	}
	if (a.is_literal) {
		/* XXX: mail to our own address literal is not recognised; an
		 * address literal is never a hosted domain. */
		rcpt_remote(s, &a);
		return;
	}
	if (!a.is_postmaster) {
		struct db_rcpt cached;
		if (rcpt_cache_get(a.local, a.domain, &cached)) {
			rcpt_answer(s, DB_OK, &a, &cached);
			return;
		}
	}
	struct rcpt_job *j = xcalloc(1, sizeof *j);
	j->cache_gen = rcpt_cache_generation();
	j->base.run = rcpt_run;
	j->base.done = rcpt_done;
	j->base.conn_id = s->conn_id;
	j->addr = a;
	if (a.is_postmaster) {
		/* RFC 5321 4.1.1.3: "<Postmaster>" is the postmaster of this
		 * host: postmaster@<POSTERN_HOSTNAME> or of a parent domain
		 * (rcpt_run). XXX: when none of those is hosted with a
		 * postmaster account or alias, it is refused with 550. */
		str_lcpy(j->local, "postmaster", sizeof j->local);
		str_lcpy(j->domain, smtp_hostname(), sizeof j->domain);
		str_lower(j->domain);
		str_fmt(j->addr.addr, sizeof j->addr.addr, "postmaster@%s", j->domain);
	} else {
		str_lcpy(j->local, a.local, sizeof j->local);
		str_lcpy(j->domain, a.domain, sizeof j->domain);
	}
	if (work_submit_db(&j->base) < 0) {
		free(j);
		smtp_reply(s, "451 4.3.0 Error: server busy, try again later");
		return;
	}
	smtp_busy(s);
}

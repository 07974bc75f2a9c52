/* cmd_mailbox.c - mailbox commands (RFC 3501 6.3, 6.4): LIST/LSUB with
 * RFC 6154 special-use and RFC 3348 CHILDREN attributes, CREATE, DELETE,
 * RENAME, SUBSCRIBE/UNSUBSCRIBE, STATUS, SELECT/EXAMINE, CLOSE, UNSELECT
 * (RFC 3691), EXPUNGE and UID EXPUNGE (RFC 4315), IDLE (RFC 2177) and
 * APPEND with APPENDUID (RFC 4315; the literal arrives in the spool).
 * STATUS also answers HIGHESTMODSEQ, SIZE (RFC 8438), APPENDLIMIT (RFC 7889)
 * and DELETED (RFC 9051); SELECT takes (CONDSTORE) and (QRESYNC ...) (RFC
 * 7162 3.2.5) and behaves as RFC 9051 says after ENABLE IMAP4rev2; APPEND
 * takes UTF8 (~{n}) after UTF8=ACCEPT (RFC 6855 4). CREATE takes (USE (attr))
 * (RFC 6154 3 CREATE-SPECIAL-USE): one real use per mailbox and per account.
 * Names are modified UTF-7 on the wire (UTF-8 once UTF8=ACCEPT or IMAP4rev2
 * is enabled) and UTF-8 in the database. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "db/store.h"
#include "imap/mutf7.h"
#include "imap/session.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/strnum.h"

enum mbox_op { OP_LIST, OP_CREATE, OP_DELETE, OP_RENAME, OP_SUBSCRIBE, OP_STATUS };

#define ST_MESSAGES	(1u << 0)
#define ST_UIDNEXT	(1u << 1)
#define ST_UIDVALIDITY	(1u << 2)
#define ST_UNSEEN	(1u << 3)
#define ST_RECENT	(1u << 4)
#define ST_HIGHESTMODSEQ (1u << 5)
#define ST_SIZE		(1u << 6)
#define ST_APPENDLIMIT	(1u << 7)	/* RFC 7889 */
#define ST_DELETED	(1u << 8)	/* RFC 9051 */

struct mbox_job {
	struct imap_job j;
	enum mbox_op op;
	char *name;
	char *name2;
	bool on;
	bool lsub;
	unsigned items;
	bool found;
	int result;
	const char *use;	/* CREATE (USE (...)): static, or NULL */
	enum imap_store_create_result created;
	struct imap_store_mbox *list;
	size_t n;
	struct imap_store_status status;
};

static void mbox_cleanup(struct imap_job *jj)
{
	struct mbox_job *m = (struct mbox_job *)jj;

	free(m->name);
	free(m->name2);
	imap_store_mboxes_free(m->list, m->n);
}

static void mbox_work(struct imap_job *jj, struct db *db)
{
	struct mbox_job *m = (struct mbox_job *)jj;
	bool exists = false;

	switch (m->op) {
	case OP_LIST:
		jj->st = imap_store_list(db, jj->account_id, &m->list, &m->n);
		break;
	case OP_CREATE:
		if (m->use != NULL) {
			jj->st = imap_store_create_use(db, jj->account_id, m->name, m->use,
						       &m->created);
			break;
		}
		jj->st = imap_store_create(db, jj->account_id, m->name, &exists);
		m->created = exists ? IMAP_STORE_NAME_TAKEN : IMAP_STORE_CREATED;
		break;
	case OP_DELETE:
		jj->st = imap_store_delete(db, jj->account_id, m->name, &m->found);
		break;
	case OP_RENAME:
		jj->st = imap_store_rename(db, jj->account_id, m->name, m->name2, &m->result);
		break;
	case OP_SUBSCRIBE:
		jj->st = imap_store_subscribe(db, jj->account_id, m->name, m->on, &m->found);
		break;
	case OP_STATUS:
		jj->st = imap_store_status(db, jj->account_id, m->name, &m->status, &m->found);
		break;
	}
}

bool imap_list_match(const char *p, const char *n)
{
	for (; *p != '\0'; p++, n++) {
		if (*p == '*' || *p == '%') {
			for (const char *k = n;; k++) {
				if (imap_list_match(p + 1, k))
					return true;
				if (*k == '\0' || (*p == '%' && *k == '/'))
					return false;
			}
		}
		if (*n != *p)
			return false;
	}
	return *n == '\0';
}

static bool has_children(const struct mbox_job *m, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < m->n; i++)
		if (strncmp(m->list[i].name, name, len) == 0 && m->list[i].name[len] == '/')
			return true;
	return false;
}

static void list_finish(struct imap_session *s, struct mbox_job *m)
{
	const char *verb = m->lsub ? "LSUB" : "LIST";

	for (size_t i = 0; i < m->n; i++) {
		const struct imap_store_mbox *mb = &m->list[i];
		struct buf b;

		if (m->lsub && !mb->subscribed)
			continue;
		if (!imap_list_match(m->name, mb->name))
			continue;
		buf_init(&b, LIMIT_IMAP_MAILBOX_NAME * 8);
		buf_printf(&b, "* %s (%s", verb,
			   has_children(m, mb->name) ? "\\HasChildren" : "\\HasNoChildren");
		if (mb->special_use[0] != '\0' && !m->lsub)
			buf_printf(&b, " %s", mb->special_use);
		buf_append_str(&b, ") \"/\" ");
		if (imap_mailbox_out(s, &b, mb->name) == 0) {
			buf_append_str(&b, "\r\n");
			imap_send_raw(s, buf_data(&b), buf_len(&b));
		}
		buf_free(&b);
	}
	imap_tagged(s, "OK", "%s completed", verb);
}

void imap_status_write(struct imap_session *s, const char *name, unsigned items,
		       const struct imap_store_status *st)
{
	struct buf b;
	const char *sep = "";

	buf_init(&b, LIMIT_IMAP_MAILBOX_NAME * 8);
	buf_append_str(&b, "* STATUS ");
	imap_mailbox_out(s, &b, name);
	buf_append_str(&b, " (");
#define ITEM(bit, label, val)                                                                   \
	do {                                                                                    \
		if (items & (bit)) {                                                            \
			buf_printf(&b, "%s%s %lld", sep, label, (long long)(val));              \
			sep = " ";                                                              \
		}                                                                               \
	} while (0)
	ITEM(ST_MESSAGES, "MESSAGES", st->messages);
	ITEM(ST_RECENT, "RECENT", st->recent);
	ITEM(ST_UIDNEXT, "UIDNEXT", st->uidnext);
	ITEM(ST_UIDVALIDITY, "UIDVALIDITY", st->uidvalidity);
	ITEM(ST_UNSEEN, "UNSEEN", st->unseen);
	ITEM(ST_HIGHESTMODSEQ, "HIGHESTMODSEQ", st->highestmodseq);
	ITEM(ST_SIZE, "SIZE", st->size);
	ITEM(ST_APPENDLIMIT, "APPENDLIMIT", LIMIT_IMAP_LITERAL);
	ITEM(ST_DELETED, "DELETED", st->deleted);
#undef ITEM
	buf_append_str(&b, ")\r\n");
	imap_send_raw(s, buf_data(&b), buf_len(&b));
	buf_free(&b);
}

static void status_finish(struct imap_session *s, struct mbox_job *m)
{
	imap_status_write(s, m->name, m->items, &m->status);
	imap_tagged(s, "OK", "STATUS completed");
}

static void mbox_finish(struct imap_session *s, struct imap_job *jj)
{
	struct mbox_job *m = (struct mbox_job *)jj;

	if (jj->st != DB_OK) {
		imap_tagged(s, "NO", "[UNAVAILABLE] Try again later");
		return;
	}
	switch (m->op) {
	case OP_LIST:
		list_finish(s, m);
		return;
	case OP_CREATE:
		if (m->created == IMAP_STORE_NAME_TAKEN)
			imap_error(s, "NO", "[ALREADYEXISTS] Mailbox already exists");
		else if (m->created == IMAP_STORE_USE_TAKEN)
			imap_error(s, "NO", "[USEATTR] Another mailbox already has %s", m->use);
		else
			imap_tagged(s, "OK", "CREATE completed");
		return;
	case OP_DELETE:
		if (!m->found)
			imap_error(s, "NO", "[NONEXISTENT] No such mailbox");
		else
			imap_tagged(s, "OK", "DELETE completed");
		return;
	case OP_RENAME:
		if (m->result == 1)
			imap_error(s, "NO", "[NONEXISTENT] No such mailbox");
		else if (m->result == 2)
			imap_error(s, "NO", "[ALREADYEXISTS] Target mailbox already exists");
		else
			imap_tagged(s, "OK", "RENAME completed");
		return;
	case OP_SUBSCRIBE:
		if (!m->found)
			imap_error(s, "NO", "[NONEXISTENT] No such mailbox");
		else
			imap_tagged(s, "OK", "%s completed", m->on ? "SUBSCRIBE" : "UNSUBSCRIBE");
		return;
	case OP_STATUS:
		if (!m->found)
			imap_error(s, "NO", "[NONEXISTENT] No such mailbox");
		else
			status_finish(s, m);
		return;
	}
}

static struct mbox_job *mbox_job_new(enum mbox_op op)
{
	struct mbox_job *m = xcalloc(1, sizeof(*m));

	m->op = op;
	m->j.work = mbox_work;
	m->j.finish = mbox_finish;
	m->j.cleanup = mbox_cleanup;
	m->j.allow_expunge = true;
	return m;
}

void imap_cmd_list(struct imap_session *s, const struct imap_cmd *cmd)
{
	const char *ref, *pat;
	size_t rlen, plen;
	struct mbox_job *m;
	char *name;
	bool lsub = strcmp(cmd->name, "LSUB") == 0;

	if (imap_arg_astring(&cmd->args[0], &ref, &rlen) < 0 ||
	    imap_arg_astring(&cmd->args[1], &pat, &plen) < 0) {
		imap_error(s, "BAD", "%s reference pattern", cmd->name);
		return;
	}
	if (plen == 0) {
		if (!lsub)
			imap_send(s, "* LIST (\\Noselect) \"/\" \"\"");
		imap_tagged(s, "OK", "%s completed", cmd->name);
		return;
	}
	if ((name = imap_list_pattern(s, ref, rlen, pat, plen)) == NULL)
		return;
	m = mbox_job_new(OP_LIST);
	m->lsub = lsub;
	m->name = name;
	imap_job_submit(s, &m->j);
}

static void simple_op(struct imap_session *s, const struct imap_cmd *cmd, enum mbox_op op,
		      const char *use)
{
	struct mbox_job *m;
	char *name = imap_mailbox_arg(s, &cmd->args[0]);

	if (name == NULL)
		return;
	if ((op == OP_DELETE || op == OP_CREATE) && strcmp(name, "INBOX") == 0) {
		free(name);
		imap_error(s, "NO", "[CANNOT] INBOX cannot be %s",
			   op == OP_DELETE ? "deleted" : "created");
		return;
	}
	if (op == OP_DELETE && s->state == IMAP_STATE_SELECTED && strcmp(name, s->sel.name) == 0)
		imap_view_clear(s);	/* XXX: Dovecot refuses; we unselect */
	m = mbox_job_new(op);
	m->name = name;
	m->use = use;
	m->on = strcmp(cmd->name, "SUBSCRIBE") == 0;
	imap_job_submit(s, &m->j);
}

/* RFC 6154 2: the special uses; \All and \Flagged name virtual mailboxes
 * (every message, the flagged ones) that Postern does not have, so a
 * mailbox created with them would lie. */
static const struct {
	const char *attr;
	bool supported;
} create_uses[] = {
	{ "\\All", false },
	{ "\\Archive", true },
	{ "\\Drafts", true },
	{ "\\Flagged", false },
	{ "\\Junk", true },
	{ "\\Sent", true },
	{ "\\Trash", true },
};

/* The create-params of RFC 4466 2.2 after the name: only USE (RFC 6154 6)
 * is known. *use_r NULL for none or "USE ()". Returns -1 when it answered
 * (BAD for a syntax error or an unknown parameter, NO [USEATTR] for a use
 * it cannot give). */
static int create_params(struct imap_session *s, const struct imap_cmd *cmd, const char **use_r)
{
	const struct imap_arg *a = &cmd->args[1], *l;
	bool seen = false;

	*use_r = NULL;
	if (cmd->n_args == 1)
		return 0;
	if (cmd->n_args > 2 || a->type != IMAP_ARG_LIST || a->list_count % 2 != 0) {
		imap_error(s, "BAD", "CREATE mailbox [(USE (attr))]");
		return -1;
	}
	for (unsigned i = 0; i < a->list_count; i += 2) {
		if (!imap_arg_atom_is(&a->list[i], "USE") || a->list[i + 1].type != IMAP_ARG_LIST ||
		    seen) {
			imap_error(s, "BAD", "Unknown or repeated CREATE parameter");
			return -1;
		}
		seen = true;
		l = &a->list[i + 1];
		if (l->list_count > 1) {
			/* XXX: RFC 6154 5.3 shows (USE (\Drafts \Sent)); the column holds one */
			imap_error(s, "NO", "[USEATTR] One special use per mailbox");
			return -1;
		}
		if (l->list_count == 0)
			continue;
		if (l->list[0].type != IMAP_ARG_ATOM) {
			imap_error(s, "BAD", "USE (attr)");
			return -1;
		}
		for (size_t k = 0; k < sizeof(create_uses) / sizeof(create_uses[0]); k++)
			if (imap_arg_atom_is(&l->list[0], create_uses[k].attr))
				*use_r = create_uses[k].attr;
		if (*use_r == NULL) {
			imap_error(s, "NO", "[USEATTR] Unknown special use");
			return -1;
		}
		for (size_t k = 0; k < sizeof(create_uses) / sizeof(create_uses[0]); k++)
			if (create_uses[k].attr == *use_r && !create_uses[k].supported) {
				imap_error(s, "NO", "[USEATTR] %s mailboxes are not supported", *use_r);
				*use_r = NULL;
				return -1;
			}
	}
	return 0;
}

void imap_cmd_create(struct imap_session *s, const struct imap_cmd *cmd)
{
	const char *use;

	if (create_params(s, cmd, &use) < 0)
		return;
	simple_op(s, cmd, OP_CREATE, use);
}

void imap_cmd_delete(struct imap_session *s, const struct imap_cmd *cmd)
{
	simple_op(s, cmd, OP_DELETE, NULL);
}

void imap_cmd_subscribe(struct imap_session *s, const struct imap_cmd *cmd)
{
	simple_op(s, cmd, OP_SUBSCRIBE, NULL);
}

void imap_cmd_rename(struct imap_session *s, const struct imap_cmd *cmd)
{
	char *from = imap_mailbox_arg(s, &cmd->args[0]), *to;
	struct mbox_job *m;

	if (from == NULL)
		return;
	if ((to = imap_mailbox_arg(s, &cmd->args[1])) == NULL) {
		free(from);
		return;
	}
	if (strcmp(from, "INBOX") == 0 || strcmp(to, "INBOX") == 0) {
		/* XXX: RFC 3501 6.3.5 renaming INBOX moves its messages. */
		free(from);
		free(to);
		imap_error(s, "NO", "[CANNOT] INBOX cannot be renamed");
		return;
	}
	m = mbox_job_new(OP_RENAME);
	m->name = from;
	m->name2 = to;
	imap_job_submit(s, &m->j);
}

int imap_status_items_parse(struct imap_session *s, const struct imap_arg *l, unsigned *bits_r)
{
	static const struct {
		const char *name;
		unsigned bit;
	} items[] = {
		{ "MESSAGES", ST_MESSAGES }, { "UIDNEXT", ST_UIDNEXT },
		{ "UIDVALIDITY", ST_UIDVALIDITY }, { "UNSEEN", ST_UNSEEN },
		{ "RECENT", ST_RECENT }, { "HIGHESTMODSEQ", ST_HIGHESTMODSEQ },
		{ "SIZE", ST_SIZE }, { "APPENDLIMIT", ST_APPENDLIMIT },
		{ "DELETED", ST_DELETED },
	};
	unsigned bits = 0;

	*bits_r = 0;
	if (l->type != IMAP_ARG_LIST || l->list_count == 0) {
		imap_error(s, "BAD", "STATUS mailbox (items)");
		return -1;
	}
	for (unsigned i = 0; i < l->list_count; i++) {
		size_t k;

		for (k = 0; k < sizeof(items) / sizeof(items[0]); k++)
			if (imap_arg_atom_is(&l->list[i], items[k].name))
				break;
		if (k == sizeof(items) / sizeof(items[0])) {
			imap_error(s, "BAD", "Unknown STATUS item");
			return -1;
		}
		bits |= items[k].bit;
	}
	if (s->rev2 && (bits & ST_RECENT)) {
		imap_error(s, "BAD", "RECENT is not an IMAP4rev2 STATUS item");
		return -1;
	}
	if (bits & ST_HIGHESTMODSEQ)
		s->condstore = true;	/* RFC 7162 3.1 */
	*bits_r = bits;
	return 0;
}

unsigned imap_status_bits_notify(bool condstore)
{
	return ST_MESSAGES | ST_UIDNEXT | ST_UNSEEN | (condstore ? ST_HIGHESTMODSEQ : 0);
}

void imap_cmd_status(struct imap_session *s, const struct imap_cmd *cmd)
{
	unsigned bits;
	struct mbox_job *m;
	char *name;

	if (imap_status_items_parse(s, &cmd->args[1], &bits) < 0)
		return;
	if ((name = imap_mailbox_arg(s, &cmd->args[0])) == NULL)
		return;
	m = mbox_job_new(OP_STATUS);
	m->name = name;
	m->items = bits;
	imap_job_submit(s, &m->j);
}

/* ---------- SELECT / EXAMINE ---------- */

struct select_job {
	struct imap_job j;
	char *name;
	bool readonly;
	bool found;
	struct imap_store_mbox_info info;
	struct imap_store_sync sy;
	/* SELECT (QRESYNC (uidvalidity modseq [known-uids])) (RFC 7162 3.2.5) */
	bool qresync;
	int64_t qr_uidvalidity, qr_modseq;
	struct imap_seqset *qr_known;
	uint32_t *vanished;
	size_t n_vanished;
	/* recent: the UIDs claimed, [from, to) and (a delivery between the
	 * claim and the sync) [from2, to2) */
	int64_t claim_from, claim_to, claim_from2, claim_to2;
};

static void select_cleanup(struct imap_job *jj)
{
	struct select_job *sj = (struct select_job *)jj;

	free(sj->name);
	imap_store_sync_free(&sj->sy);
	imap_seqset_free(&sj->qr_known);
	free(sj->vanished);
}

static void select_work(struct imap_job *jj, struct db *db)
{
	struct select_job *sj = (struct select_job *)jj;

	/* a read-write SELECT claims \Recent in the statement that finds the
	 * mailbox (no extra round trip) */
	jj->st = imap_store_recent_select(db, jj->account_id, sj->name, !sj->readonly, &sj->info,
					  &sj->found, &sj->claim_from, &sj->claim_to);
	if (jj->st == DB_OK && sj->found)
		jj->st = imap_store_sync(db, sj->info.id, 0, &sj->sy);
	/* UIDs that arrived between the two statements: claimed now, so that
	 * every UID of the view is settled (rare: one more statement) */
	if (jj->st == DB_OK && sj->found && !sj->sy.gone && !sj->readonly &&
	    sj->sy.recent_uid < sj->sy.uidnext &&
	    imap_store_recent_claim(db, sj->info.id, sj->sy.uidnext, &sj->claim_from2) == DB_OK &&
	    sj->claim_from2 > 0)
		sj->claim_to2 = sj->sy.uidnext;
	if (jj->st == DB_OK && sj->found && sj->qresync && sj->qr_uidvalidity == sj->info.uidvalidity)
		jj->st = imap_store_vanished(db, sj->info.id, sj->qr_modseq, &sj->vanished,
					     &sj->n_vanished);
}

/* QRESYNC: what changed since the client's MODSEQ, after the SELECT
 * responses: VANISHED (EARLIER) then FETCH of changed flags. */
static void select_qresync(struct imap_session *s, struct select_job *sj)
{
	if (!sj->qresync || sj->qr_uidvalidity != sj->info.uidvalidity)
		return;
	imap_vanished_send(s, sj->vanished, sj->n_vanished, sj->qr_known, true);
	for (size_t i = 0; i < sj->sy.n_msgs; i++) {
		const struct imap_store_flags *f = &sj->sy.msgs[i];
		struct buf b;

		if (f->modseq <= sj->qr_modseq)
			continue;
		buf_init(&b, 64 * 1024);
		buf_printf(&b, "* %zu FETCH (UID %u ", i + 1, f->uid);
		imap_flags_write(&b, imap_recent_flags(s, f->uid, f->flags), f->keywords);
		buf_printf(&b, " MODSEQ (%lld))\r\n", (long long)f->modseq);
		imap_send_raw(s, buf_data(&b), buf_len(&b));
		buf_free(&b);
	}
}

/* Adds the distinct keywords of kw (space separated) to set (space
 * separated, bounded). */
static void keywords_union(struct buf *set, const char *kw)
{
	while (*kw != '\0') {
		const char *end = strchr(kw, ' ');
		size_t len = end ? (size_t)(end - kw) : strlen(kw);
		const char *p = (const char *)buf_data(set);
		size_t n = buf_len(set);
		bool have = false;

		for (size_t i = 0; i + len <= n; i++)
			if ((i == 0 || p[i - 1] == ' ') && memcmp(p + i, kw, len) == 0 &&
			    (i + len == n || p[i + len] == ' ')) {
				have = true;
				break;
			}
		if (!have && len > 0) {
			buf_append_str(set, " ");
			buf_append(set, kw, len);
		}
		kw += len;
		while (*kw == ' ')
			kw++;
	}
}

static void select_finish(struct imap_session *s, struct imap_job *jj)
{
	struct select_job *sj = (struct select_job *)jj;
	uint32_t unseen = 0;
	struct buf kw;

	if (jj->st != DB_OK) {
		imap_tagged(s, "NO", "[UNAVAILABLE] Try again later");
		return;
	}
	if (!sj->found || sj->sy.gone) {
		imap_error(s, "NO", "[NONEXISTENT] No such mailbox");
		return;
	}
	if (sj->sy.n_msgs > LIMIT_IMAP_MESSAGES) {
		imap_tagged(s, "NO", "[LIMIT] Mailbox too large");
		return;
	}
	imap_view_set(s, sj->info.id, sj->name, sj->readonly);
	s->sel.uidvalidity = sj->info.uidvalidity;
	s->sel.uidnext = sj->sy.uidnext;
	s->sel.modseq = sj->sy.highestmodseq;
	s->sel.alloc = sj->sy.n_msgs > 0 ? sj->sy.n_msgs : 16;
	s->sel.uids = xcalloc(s->sel.alloc, sizeof(uint32_t));
	buf_init(&kw, 16 * 1024);
	for (size_t i = 0; i < sj->sy.n_msgs; i++) {
		s->sel.uids[s->sel.n++] = sj->sy.msgs[i].uid;
		if (unseen == 0 && (sj->sy.msgs[i].flags & IMAP_FLAG_SEEN) == 0)
			unseen = (uint32_t)s->sel.n;
		keywords_union(&kw, sj->sy.msgs[i].keywords);
	}
	if (sj->readonly)	/* RFC 3501 6.3.2: EXAMINE leaves \Recent as it is */
		imap_recent_mark(s, 0, sj->sy.recent_uid, INT64_MAX);
	else {
		imap_recent_mark(s, 0, sj->claim_from, sj->claim_to);
		imap_recent_mark(s, 0, sj->claim_from2, sj->claim_to2);
	}
	imap_send(s, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft%.*s)",
		  (int)buf_len(&kw), (const char *)buf_data(&kw));
	imap_send(s, "* OK [PERMANENTFLAGS (%s)] Flags permitted",
		  sj->readonly ? "" : "\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*");
	buf_free(&kw);
	imap_send(s, "* %zu EXISTS", s->sel.n);
	if (!s->rev2)	/* RFC 9051 has no RECENT and no [UNSEEN] */
		imap_send(s, "* %zu RECENT", s->sel.n_recent);
	if (unseen > 0 && !s->rev2)
		imap_send(s, "* OK [UNSEEN %u] First unseen", unseen);
	if (s->rev2) {
		/* RFC 9051 6.3.2: a LIST response with the mailbox name */
		struct buf lb;

		buf_init(&lb, LIMIT_IMAP_MAILBOX_NAME * 8);
		buf_append_str(&lb, "* LIST () \"/\" ");
		imap_mailbox_out(s, &lb, sj->name);
		buf_append_str(&lb, "\r\n");
		imap_send_raw(s, buf_data(&lb), buf_len(&lb));
		buf_free(&lb);
	}
	imap_send(s, "* OK [UIDVALIDITY %lld] UIDs valid", (long long)s->sel.uidvalidity);
	imap_send(s, "* OK [UIDNEXT %lld] Predicted next UID", (long long)s->sel.uidnext);
	imap_send(s, "* OK [HIGHESTMODSEQ %lld] Highest", (long long)s->sel.modseq);
	select_qresync(s, sj);
	imap_tagged(s, "OK", "[%s] %s completed", sj->readonly ? "READ-ONLY" : "READ-WRITE",
		    sj->readonly ? "EXAMINE" : "SELECT");
}

/* SELECT parameters (RFC 4466 2.1): (CONDSTORE) and (QRESYNC (uidvalidity
 * modseq [known-uids [seq-match]])). The seq-match data is accepted and
 * not needed: every expunged UID is kept with its MODSEQ. 0, or -1 after
 * answering BAD. */
static int select_params(struct imap_session *s, const struct imap_arg *l, struct select_job *sj)
{
	if (l->type == IMAP_ARG_EOL)
		return 0;
	if (l->type != IMAP_ARG_LIST || l[1].type != IMAP_ARG_EOL) {
		imap_error(s, "BAD", "SELECT mailbox [(parameters)]");
		return -1;
	}
	for (unsigned i = 0; i < l->list_count; i++) {
		const struct imap_arg *a = &l->list[i];
		const struct imap_arg *q;
		uint64_t uv, ms;
		const char *err = NULL;

		if (imap_arg_atom_is(a, "CONDSTORE")) {
			s->condstore = true;
			continue;
		}
		if (!imap_arg_atom_is(a, "QRESYNC") || i + 1 >= l->list_count) {
			imap_error(s, "BAD", "Unknown SELECT parameter");
			return -1;
		}
		if (!s->qresync) {
			imap_error(s, "BAD", "ENABLE QRESYNC first");
			return -1;
		}
		q = &l->list[++i];
		if (q->type != IMAP_ARG_LIST || q->list_count < 2 || q->list_count > 4 ||
		    imap_arg_u64(&q->list[0], UINT32_MAX, &uv) < 0 || uv == 0 ||
		    imap_arg_u64(&q->list[1], INT64_MAX, &ms) < 0 || ms == 0) {
			imap_error(s, "BAD", "QRESYNC (uidvalidity modseq [known-uids [seq-match]])");
			return -1;
		}
		if (q->list_count >= 3 && q->list[2].type != IMAP_ARG_LIST) {
			if (q->list[2].type != IMAP_ARG_ATOM ||
			    imap_seqset_parse(q->list[2].str, q->list[2].len, &sj->qr_known, &err) < 0 ||
			    sj->qr_known->star || sj->qr_known->searchres) {
				imap_error(s, "BAD", "%s", err != NULL ? err : "Invalid known-uids");
				return -1;
			}
		}
		sj->qresync = true;
		sj->qr_uidvalidity = (int64_t)uv;
		sj->qr_modseq = (int64_t)ms;
	}
	return 0;
}

void imap_cmd_select(struct imap_session *s, const struct imap_cmd *cmd)
{
	struct select_job *sj;
	char *name = imap_mailbox_arg(s, &cmd->args[0]);

	if (name == NULL)
		return;
	sj = xcalloc(1, sizeof(*sj));
	if (select_params(s, &cmd->args[1], sj) < 0) {
		free(name);
		imap_seqset_free(&sj->qr_known);
		free(sj);
		return;
	}
	if (s->state == IMAP_STATE_SELECTED) {
		imap_view_clear(s);
		/* RFC 7162 3.2.11: a server advertising CONDSTORE/QRESYNC
		 * always marks the boundary (so does RFC 9051 7.1) */
		imap_send(s, "* OK [CLOSED] Previous mailbox closed");
	}
	sj->j.work = select_work;
	sj->j.finish = select_finish;
	sj->j.cleanup = select_cleanup;
	sj->name = name;
	sj->readonly = strcmp(cmd->name, "EXAMINE") == 0;
	imap_job_submit(s, &sj->j);
}

/* ---------- EXPUNGE, UID EXPUNGE, CLOSE ---------- */

struct expunge_job {
	struct imap_job j;
	int64_t mailbox_id;
	char *filter;		/* UID EXPUNGE set, or NULL */
	bool close;
	uint32_t *gone;
	size_t n_gone;
};

static void expunge_cleanup(struct imap_job *jj)
{
	struct expunge_job *e = (struct expunge_job *)jj;

	free(e->filter);
	free(e->gone);
}

static void expunge_work(struct imap_job *jj, struct db *db)
{
	struct expunge_job *e = (struct expunge_job *)jj;

	jj->st = imap_store_expunge(db, jj->account_id, e->mailbox_id, e->filter, &e->gone,
				    &e->n_gone);
}

static void expunge_finish(struct imap_session *s, struct imap_job *jj)
{
	struct expunge_job *e = (struct expunge_job *)jj;

	if (jj->st != DB_OK) {
		imap_tagged(s, "NO", "[UNAVAILABLE] Try again later");
		return;
	}
	if (e->close) {
		imap_tagged(s, "OK", "CLOSE completed");
		return;
	}
	imap_view_expunge_many(s, e->gone, e->n_gone);
	imap_tagged(s, "OK", "EXPUNGE completed");
}

static void expunge_start(struct imap_session *s, char *filter, bool close)
{
	struct expunge_job *e = xcalloc(1, sizeof(*e));

	e->j.work = expunge_work;
	e->j.finish = expunge_finish;
	e->j.cleanup = expunge_cleanup;
	e->j.allow_expunge = true;
	e->mailbox_id = s->sel.mailbox_id;
	e->filter = filter;
	e->close = close;
	if (close)
		imap_view_clear(s);	/* CLOSE sends no EXPUNGE responses */
	imap_job_submit(s, &e->j);
}

void imap_cmd_expunge(struct imap_session *s, const struct imap_cmd *cmd)
{
	(void)cmd;
	if (s->sel.readonly) {
		imap_error(s, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	expunge_start(s, NULL, false);
}

void imap_cmd_uid_expunge(struct imap_session *s, const struct imap_cmd *cmd,
			  const struct imap_arg *args)
{
	uint32_t *uids;
	size_t n;

	(void)cmd;
	if (s->sel.readonly) {
		imap_error(s, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	if (imap_seqset_uids(s, &args[0], true, &uids, &n) < 0)
		return;
	if (n == 0) {
		free(uids);
		imap_tagged(s, "OK", "EXPUNGE completed");
		return;
	}
	expunge_start(s, db_array_u32(uids, n), false);
	free(uids);
}

void imap_cmd_close(struct imap_session *s, const struct imap_cmd *cmd)
{
	if (strcmp(cmd->name, "UNSELECT") == 0 || s->sel.readonly) {
		imap_view_clear(s);
		imap_tagged(s, "OK", "%s completed", cmd->name);
		return;
	}
	expunge_start(s, NULL, true);
}

/* ---------- IDLE ---------- */

void imap_cmd_idle(struct imap_session *s, const struct imap_cmd *cmd)
{
	(void)cmd;
	s->idling = true;
	imap_send(s, "+ idling");
	if (s->state == IMAP_STATE_SELECTED || imap_notify_pending(s))
		imap_sync_start(s, true);
}

void imap_idle_line(struct imap_session *s, const char *line, size_t len)
{
	s->idling = false;
	if (len == 4 && strncasecmp(line, "DONE", 4) == 0) {
		imap_tagged(s, "OK", "IDLE terminated");
		return;
	}
	imap_error(s, "BAD", "Expected DONE");
}

/* ---------- APPEND ---------- */

struct append_job {
	struct imap_job j;
	char *name;
	struct spool *spool;
	int flags;
	char *keywords;
	int64_t date;
	bool found, over_quota;
	int64_t uidvalidity;
	uint32_t uid;
};

static void append_cleanup(struct imap_job *jj)
{
	struct append_job *a = (struct append_job *)jj;

	free(a->name);
	free(a->keywords);
	spool_free(&a->spool);
}

static void append_work(struct imap_job *jj, struct db *db)
{
	struct append_job *a = (struct append_job *)jj;
	size_t len = spool_size(a->spool);
	unsigned char *msg = xmalloc(len > 0 ? len : 1);
	struct imap_store_meta meta;
	struct imap_store_append ap;

	if (len > 0 && spool_read(a->spool, 0, msg, len) < 0) {
		free(msg);
		jj->st = DB_DISKFULL;
		return;
	}
	if (imap_store_meta_compute(msg, len, &meta) < 0)
		memset(&meta, 0, sizeof(meta));
	ap.msg = msg;
	ap.len = len;
	ap.meta = &meta;
	ap.flags = a->flags;
	ap.keywords = a->keywords;
	ap.internal_date = a->date;
	jj->st = imap_store_append(db, jj->account_id, a->name, &ap, &a->found, &a->over_quota,
				   &a->uidvalidity, &a->uid);
	imap_store_meta_free(&meta);
	free(msg);
}

static void append_finish(struct imap_session *s, struct imap_job *jj)
{
	struct append_job *a = (struct append_job *)jj;

	if (jj->st != DB_OK)
		imap_tagged(s, "NO", "[UNAVAILABLE] Try again later");
	else if (!a->found)
		imap_error(s, "NO", "[TRYCREATE] No such mailbox");
	else if (a->over_quota)
		imap_tagged(s, "NO", "[OVERQUOTA] Quota exceeded");
	else
		imap_tagged(s, "OK", "[APPENDUID %lld %u] APPEND completed",
			    (long long)a->uidvalidity, a->uid);
}

static const char *const months[12] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

int imap_date_time_parse(const char *s, size_t len, int64_t *out)
{
	struct tm tm;
	char mon[4];
	int d, y, hh, mm, ss, zone, n = 0;
	char sign;

	memset(&tm, 0, sizeof(tm));
	if (len < 25 || len > 26)
		return -1;
	if (sscanf(s, "%2d-%3c-%4d %2d:%2d:%2d %c%4d%n", &d, mon, &y, &hh, &mm, &ss, &sign,
		   &zone, &n) != 8 || (size_t)n != len || (sign != '+' && sign != '-'))
		return -1;
	mon[3] = '\0';
	tm.tm_mon = -1;
	for (int i = 0; i < 12; i++)
		if (strcasecmp(mon, months[i]) == 0)
			tm.tm_mon = i;
	if (tm.tm_mon < 0 || d < 1 || d > 31 || y < 1970 || hh > 23 || mm > 59 || ss > 60)
		return -1;
	tm.tm_mday = d;
	tm.tm_year = y - 1900;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	*out = (int64_t)timegm(&tm) -
	       (sign == '-' ? -1 : 1) * ((zone / 100) * 3600 + (zone % 100) * 60);
	return 0;
}

void imap_cmd_append(struct imap_session *s, const struct imap_cmd *cmd)
{
	const struct imap_arg *lit = &cmd->args[cmd->n_args - 1];
	unsigned nargs = cmd->n_args;
	struct append_job *a;
	const char *err = NULL;
	char *name;
	unsigned i = 1;
	int flags = 0;
	char *keywords = NULL;
	int64_t date = 0;

	if (s->utf8 && nargs >= 3 && lit->type == IMAP_ARG_LIST && lit->list_count == 1 &&
	    imap_arg_atom_is(&cmd->args[nargs - 2], "UTF8")) {
		lit = &lit->list[0];	/* RFC 6855 4: UTF8 (~{n}) */
		nargs--;
	}
	if (lit->type != IMAP_ARG_LITERAL_TAKEN || s->spool == NULL || nargs > 4) {
		imap_error(s, "BAD", "APPEND mailbox [(flags)] [date-time] literal");
		return;
	}
	if (s->lit_failed || spool_overflow(s->spool) || spool_io_error(s->spool)) {
		imap_tagged(s, "NO", "[UNAVAILABLE] Message could not be stored");
		return;
	}
	if (i < nargs - 1 && cmd->args[i].type == IMAP_ARG_LIST) {
		if (imap_flags_parse(&cmd->args[i], &flags, &keywords, &err) < 0) {
			imap_error(s, "BAD", "%s", err);
			return;
		}
		i++;
	}
	if (i < nargs - 1) {
		const char *ds;
		size_t dl;

		if (imap_arg_string(&cmd->args[i], &ds, &dl) < 0 ||
		    imap_date_time_parse(ds, dl, &date) < 0) {
			free(keywords);
			imap_error(s, "BAD", "Invalid date-time");
			return;
		}
		i++;
	}
	if (i != nargs - 1 || (name = imap_mailbox_arg(s, &cmd->args[0])) == NULL) {
		if (i != nargs - 1)
			imap_error(s, "BAD", "APPEND mailbox [(flags)] [date-time] literal");
		free(keywords);
		return;
	}
	a = xcalloc(1, sizeof(*a));
	a->j.work = append_work;
	a->j.finish = append_finish;
	a->j.cleanup = append_cleanup;
	a->j.allow_expunge = true;
	a->name = name;
	a->flags = flags;
	a->keywords = keywords != NULL ? keywords : xstrdup("{}");
	a->date = date;
	a->spool = s->spool;
	s->spool = NULL;
	imap_job_submit(s, &a->j);
}

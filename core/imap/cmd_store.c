/* cmd_store.c - STORE (RFC 3501 6.4.6), COPY / MOVE with COPYUID (RFC 4315,
 * RFC 6851), with their UID forms. STORE changes flags and keywords in one
 * statement that bumps MODSEQ and notifies
 * (UNCHANGEDSINCE and [MODIFIED]: RFC 7162 3.1.3); COPY/MOVE run in one
 * transaction with UIDs from the mailbox row. SEARCH is in cmd_search.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/session.h"
#include "lib/mem.h"

/* ---------- STORE ---------- */

struct store_job {
	struct imap_job j;
	char *uids;
	char op;
	int flags;
	char *keywords;
	bool silent;
	bool uid_cmd;
	bool condstore;		/* MODSEQ in the FETCH responses (RFC 7162 3.1.3) */
	int64_t unchanged_since;	/* -1: unconditional STORE */
	struct imap_store_flags *res;
	size_t n_res;
	uint32_t *modified;	/* UIDs that failed UNCHANGEDSINCE */
	size_t n_modified;
};

static void store_cleanup(struct imap_job *jj)
{
	struct store_job *sj = (struct store_job *)jj;

	free(sj->uids);
	free(sj->keywords);
	imap_store_flags_free(sj->res, sj->n_res);
	free(sj->modified);
}

static void store_work(struct imap_job *jj, struct db *db)
{
	struct store_job *sj = (struct store_job *)jj;

	if (sj->unchanged_since >= 0)
		jj->st = imap_store_set_flags_unchanged(db, jj->mailbox_id, sj->uids, sj->op,
							sj->flags, sj->keywords, sj->unchanged_since,
							&sj->res, &sj->n_res, &sj->modified,
							&sj->n_modified);
	else
		jj->st = imap_store_set_flags(db, jj->mailbox_id, sj->uids, sj->op, sj->flags,
					      sj->keywords, &sj->res, &sj->n_res);
	if (jj->st == DB_OK && sj->n_res > 0) {
		jj->skip = xcalloc(sj->n_res, sizeof(uint32_t));
		for (size_t i = 0; i < sj->n_res; i++)
			jj->skip[i] = sj->res[i].uid;
		jj->n_skip = sj->n_res;
	}
}

static void store_finish(struct imap_session *s, struct imap_job *jj)
{
	struct store_job *sj = (struct store_job *)jj;

	if (jj->st != DB_OK) {
		imap_tagged(s, "NO", "[UNAVAILABLE] Try again later");
		return;
	}
	for (size_t i = 0; i < sj->n_res && (!sj->silent || sj->condstore); i++) {
		uint32_t seq = imap_view_seq(s->sel.uids, s->sel.n, sj->res[i].uid);
		struct buf b;

		if (seq == 0)
			continue;
		buf_init(&b, 64 * 1024);
		buf_printf(&b, "* %u FETCH (", seq);
		if (!sj->silent)
			imap_flags_write(&b, imap_recent_flags(s, sj->res[i].uid, sj->res[i].flags),
					 sj->res[i].keywords);
		if (sj->uid_cmd)
			buf_printf(&b, "%sUID %u", sj->silent ? "" : " ", sj->res[i].uid);
		if (sj->condstore)
			buf_printf(&b, "%sMODSEQ (%lld)", sj->silent && !sj->uid_cmd ? "" : " ",
				   (long long)sj->res[i].modseq);
		buf_append_str(&b, ")\r\n");
		imap_send_raw(s, buf_data(&b), buf_len(&b));
		buf_free(&b);
	}
	if (sj->n_modified > 0) {
		/* RFC 7162 3.1.3: [MODIFIED set], UIDs for UID STORE */
		struct imap_seqset *set = imap_seqset_create();
		struct buf b;

		for (size_t i = 0; i < sj->n_modified; i++) {
			uint32_t n = sj->uid_cmd ? sj->modified[i]
						 : imap_view_seq(s->sel.uids, s->sel.n,
								 sj->modified[i]);

			if (n > 0)
				imap_seqset_add(set, n, n);
		}
		imap_seqset_resolve(set, 0);
		buf_init(&b, 1024 * 1024);
		imap_seqset_write(set, &b);
		imap_seqset_free(&set);
		if (buf_len(&b) > 0) {
			imap_tagged(s, "OK", "[MODIFIED %.*s] Conditional STORE failed",
				    (int)buf_len(&b), (const char *)buf_data(&b));
			buf_free(&b);
			return;
		}
		buf_free(&b);
	}
	imap_tagged(s, "OK", "STORE completed");
}

/* STORE modifiers (RFC 4466 2.5): (UNCHANGEDSINCE modseq). Returns the
 * number of arguments used (0 or 1), or -1 after answering BAD. */
static int store_modifiers(struct imap_session *s, const struct imap_arg *m, int64_t *since_r)
{
	uint64_t v;

	*since_r = -1;
	if (m->type != IMAP_ARG_LIST)
		return 0;
	if (m->list_count != 2 || !imap_arg_atom_is(&m->list[0], "UNCHANGEDSINCE") ||
	    imap_arg_u64(&m->list[1], INT64_MAX, &v) < 0) {
		imap_error(s, "BAD", "STORE set [(UNCHANGEDSINCE modseq)] item value");
		return -1;
	}
	*since_r = (int64_t)v;
	s->condstore = true;	/* RFC 7162 3.1 */
	return 1;
}

void imap_cmd_store(struct imap_session *s, const struct imap_cmd *cmd, bool uid,
		    const struct imap_arg *args)
{
	const struct imap_arg *item = &args[1];
	int64_t since = -1;
	int used;
	struct imap_arg list;
	struct store_job *sj;
	const char *err = NULL, *name;
	uint32_t *uids;
	size_t n;
	char op = '=';
	int flags;
	char *keywords;
	unsigned count = 0;

	(void)cmd;
	if (s->sel.readonly) {
		imap_error(s, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	if ((used = store_modifiers(s, item, &since)) < 0)
		return;
	item += used;
	if (item->type != IMAP_ARG_ATOM) {
		imap_error(s, "BAD", "Invalid STORE item");
		return;
	}
	name = item->str;
	if (name[0] == '+' || name[0] == '-')
		op = *name++;
	if (strcasecmp(name, "FLAGS") != 0 && strcasecmp(name, "FLAGS.SILENT") != 0) {
		imap_error(s, "BAD", "Invalid STORE item");
		return;
	}
	while (item[1 + count].type != IMAP_ARG_EOL)
		count++;
	if (count == 0) {
		imap_error(s, "BAD", "Missing flags");
		return;
	}
	if (item[1].type == IMAP_ARG_LIST && count == 1) {
		list = item[1];
	} else {
		memset(&list, 0, sizeof(list));
		list.type = IMAP_ARG_LIST;
		list.list = &item[1];
		list.list_count = count;
	}
	if (imap_flags_parse(&list, &flags, &keywords, &err) < 0) {
		imap_error(s, "BAD", "%s", err);
		return;
	}
	if (imap_seqset_uids(s, &args[0], uid, &uids, &n) < 0) {
		free(keywords);
		return;
	}
	if (n == 0) {
		free(keywords);
		free(uids);
		imap_tagged(s, "OK", "STORE completed");
		return;
	}
	sj = xcalloc(1, sizeof(*sj));
	sj->j.work = store_work;
	sj->j.finish = store_finish;
	sj->j.cleanup = store_cleanup;
	sj->uids = db_array_u32(uids, n);
	free(uids);
	sj->op = op;
	sj->flags = flags;
	sj->keywords = keywords;
	sj->silent = strcasecmp(name, "FLAGS.SILENT") == 0;
	sj->uid_cmd = uid;
	sj->unchanged_since = since;
	sj->condstore = s->condstore;
	imap_job_submit(s, &sj->j);
}

/* ---------- COPY / MOVE ---------- */

struct copy_job {
	struct imap_job j;
	char *uids;
	char *dest;
	bool move;
	bool found, over_quota;
	struct imap_store_copy res;
};

static void copy_cleanup(struct imap_job *jj)
{
	struct copy_job *cj = (struct copy_job *)jj;

	free(cj->uids);
	free(cj->dest);
	imap_store_copy_free(&cj->res);
}

static void copy_work(struct imap_job *jj, struct db *db)
{
	struct copy_job *cj = (struct copy_job *)jj;

	jj->st = imap_store_copy(db, jj->account_id, jj->mailbox_id, cj->uids, cj->dest, cj->move,
				 &cj->found, &cj->over_quota, &cj->res);
}

static void copy_finish(struct imap_session *s, struct imap_job *jj)
{
	struct copy_job *cj = (struct copy_job *)jj;
	struct imap_seqset *src, *dst;
	struct buf a, b;

	if (jj->st != DB_OK) {
		imap_tagged(s, "NO", "[UNAVAILABLE] Try again later");
		return;
	}
	if (!cj->found) {
		imap_error(s, "NO", "[TRYCREATE] No such mailbox");
		return;
	}
	if (cj->over_quota) {
		imap_tagged(s, "NO", "[OVERQUOTA] Quota exceeded");
		return;
	}
	if (cj->res.n == 0) {
		imap_tagged(s, "OK", "%s completed", cj->move ? "MOVE" : "COPY");
		return;
	}
	src = imap_seqset_create();
	dst = imap_seqset_create();
	/* Source and new UIDs pair in order; both ascend, so the sets keep
	 * the pairing (RFC 4315 section 3). */
	for (size_t i = 0; i < cj->res.n; i++) {
		imap_seqset_add(src, cj->res.src[i], cj->res.src[i]);
		imap_seqset_add(dst, cj->res.dst[i], cj->res.dst[i]);
	}
	imap_seqset_resolve(src, 0);
	imap_seqset_resolve(dst, 0);
	buf_init(&a, 1024 * 1024);
	buf_init(&b, 1024 * 1024);
	imap_seqset_write(src, &a);
	imap_seqset_write(dst, &b);
	if (cj->move) {
		imap_send(s, "* OK [COPYUID %lld %.*s %.*s] Moved", (long long)cj->res.dest_uidvalidity,
			  (int)buf_len(&a), (const char *)buf_data(&a), (int)buf_len(&b),
			  (const char *)buf_data(&b));
		imap_view_expunge_many(s, cj->res.src, cj->res.n);
		imap_tagged(s, "OK", "MOVE completed");
	} else {
		imap_tagged(s, "OK", "[COPYUID %lld %.*s %.*s] COPY completed",
			    (long long)cj->res.dest_uidvalidity, (int)buf_len(&a),
			    (const char *)buf_data(&a), (int)buf_len(&b), (const char *)buf_data(&b));
	}
	buf_free(&a);
	buf_free(&b);
	imap_seqset_free(&src);
	imap_seqset_free(&dst);
}

void imap_cmd_copy(struct imap_session *s, const struct imap_cmd *cmd, bool uid,
		   const struct imap_arg *args, bool move)
{
	struct copy_job *cj;
	uint32_t *uids;
	size_t n;
	char *dest;

	(void)cmd;
	if (move && s->sel.readonly) {
		imap_error(s, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	if (args[2].type != IMAP_ARG_EOL) {
		imap_error(s, "BAD", "Too many arguments");
		return;
	}
	if (imap_seqset_uids(s, &args[0], uid, &uids, &n) < 0)
		return;
	if ((dest = imap_mailbox_arg(s, &args[1])) == NULL) {
		free(uids);
		return;
	}
	if (n == 0) {
		free(uids);
		free(dest);
		imap_tagged(s, "OK", "%s completed", move ? "MOVE" : "COPY");
		return;
	}
	cj = xcalloc(1, sizeof(*cj));
	cj->j.work = copy_work;
	cj->j.finish = copy_finish;
	cj->j.cleanup = copy_cleanup;
	/* MOVE reports its own EXPUNGEs after the COPYUID (RFC 6851 4.3). */
	cj->j.allow_expunge = !move;
	cj->uids = db_array_u32(uids, n);
	free(uids);
	cj->dest = dest;
	cj->move = move;
	imap_job_submit(s, &cj->j);
}

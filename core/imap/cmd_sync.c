/* cmd_sync.c - helpers of CONDSTORE / QRESYNC (RFC 7162) that several
 * commands share: number arguments (MODSEQ is 63-bit, RFC 7162 7),
 * "* VANISHED [(EARLIER)] uid-set" written in lines of at most
 * VANISHED_LINE octets; and the QUOTA commands (RFC 9208, resource
 * STORAGE in KiB): GETQUOTA, GETQUOTAROOT, SETQUOTA (refused: the
 * administrator sets quotas). One quota root per account, named "". */
#include <stdlib.h>
#include <string.h>

#include "imap/session.h"
#include "lib/mem.h"
#include "lib/strnum.h"

#define VANISHED_LINE 8192	/* octets of one VANISHED line before a new one starts */

int imap_arg_u64(const struct imap_arg *arg, uint64_t max, uint64_t *out)
{
	if (arg->type != IMAP_ARG_ATOM || arg->len == 0)
		return -1;
	return strnum_u64(arg->str, arg->len, max, out);
}

static void vanished_flush(struct imap_session *s, struct imap_seqset *set, bool earlier)
{
	struct buf b;

	if (set->count == 0)
		return;
	imap_seqset_resolve(set, 0);
	buf_init(&b, VANISHED_LINE * 2 + 64);
	buf_append_str(&b, earlier ? "* VANISHED (EARLIER) " : "* VANISHED ");
	imap_seqset_write(set, &b);
	buf_append_str(&b, "\r\n");
	imap_send_raw(s, buf_data(&b), buf_len(&b));
	buf_free(&b);
	set->count = 0;
}

void imap_vanished_send(struct imap_session *s, const uint32_t *uids, size_t n,
			const struct imap_seqset *filter, bool earlier)
{
	struct imap_seqset *set = imap_seqset_create();
	size_t approx = 0;

	for (size_t i = 0; i < n; i++) {
		size_t k = i;

		if (filter != NULL && !imap_seqset_contains(filter, uids[i]))
			continue;
		/* a run of consecutive UIDs is one range */
		while (k + 1 < n && uids[k + 1] == uids[k] + 1 &&
		       (filter == NULL || imap_seqset_contains(filter, uids[k + 1])))
			k++;
		imap_seqset_add(set, uids[i], uids[k]);
		approx += 22;
		i = k;
		if (approx >= VANISHED_LINE) {
			vanished_flush(s, set, earlier);
			approx = 0;
		}
	}
	vanished_flush(s, set, earlier);
	imap_seqset_free(&set);
}

/* ---------- QUOTA (RFC 9208) ---------- */

struct quota_job {
	struct imap_job j;
	char *mailbox;		/* GETQUOTAROOT: the name as given (UTF-8) */
	bool root_cmd;
	int64_t quota, used;
};

static void quota_cleanup(struct imap_job *jj)
{
	free(((struct quota_job *)jj)->mailbox);
}

static void quota_work(struct imap_job *jj, struct db *db)
{
	struct quota_job *q = (struct quota_job *)jj;
	struct imap_store_mbox_info info;
	bool found = true;

	if (q->root_cmd) {
		jj->st = imap_store_mailbox_get(db, jj->account_id, q->mailbox, &info, &found);
		if (jj->st != DB_OK)
			return;
		if (!found) {
			free(q->mailbox);
			q->mailbox = NULL;
			return;
		}
	}
	jj->st = imap_store_quota(db, jj->account_id, &q->quota, &q->used);
}

static void quota_finish(struct imap_session *s, struct imap_job *jj)
{
	struct quota_job *q = (struct quota_job *)jj;

	if (jj->st != DB_OK) {
		imap_tagged(s, "NO", "[UNAVAILABLE] Try again later");
		return;
	}
	if (q->root_cmd) {
		struct buf b;

		if (q->mailbox == NULL) {
			imap_error(s, "NO", "[NONEXISTENT] No such mailbox");
			return;
		}
		buf_init(&b, LIMIT_IMAP_MAILBOX_NAME * 8);
		buf_append_str(&b, "* QUOTAROOT ");
		imap_mailbox_out(s, &b, q->mailbox);
		if (q->quota > 0)
			buf_append_str(&b, " \"\"");
		buf_append_str(&b, "\r\n");
		imap_send_raw(s, buf_data(&b), buf_len(&b));
		buf_free(&b);
	} else if (q->quota == 0) {
		/* unlimited: the root exists but has no resource limits */
		imap_error(s, "NO", "[NONEXISTENT] No quota set");
		return;
	}
	if (q->quota > 0)
		imap_send(s, "* QUOTA \"\" (STORAGE %lld %lld)", (long long)((q->used + 1023) / 1024),
			  (long long)(q->quota / 1024));
	imap_tagged(s, "OK", "%s completed", q->root_cmd ? "GETQUOTAROOT" : "GETQUOTA");
}

static void quota_start(struct imap_session *s, char *mailbox)
{
	struct quota_job *q = xcalloc(1, sizeof(*q));

	q->j.work = quota_work;
	q->j.finish = quota_finish;
	q->j.cleanup = quota_cleanup;
	q->j.allow_expunge = true;
	q->mailbox = mailbox;
	q->root_cmd = mailbox != NULL;
	imap_job_submit(s, &q->j);
}

void imap_cmd_getquota(struct imap_session *s, const struct imap_cmd *cmd)
{
	const char *root;
	size_t len;

	if (imap_arg_astring(&cmd->args[0], &root, &len) < 0) {
		imap_error(s, "BAD", "GETQUOTA quota-root");
		return;
	}
	if (len != 0) {
		imap_error(s, "NO", "[NONEXISTENT] No such quota root");
		return;
	}
	quota_start(s, NULL);
}

void imap_cmd_getquotaroot(struct imap_session *s, const struct imap_cmd *cmd)
{
	char *name = imap_mailbox_arg(s, &cmd->args[0]);

	if (name != NULL)
		quota_start(s, name);
}

void imap_cmd_setquota(struct imap_session *s, const struct imap_cmd *cmd)
{
	(void)cmd;
	imap_error(s, "NO", "[NOPERM] Quotas are set by the administrator");
}

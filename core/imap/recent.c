/* recent.c - the \Recent flag (RFC 3501 2.3.2, 6.3.1, 6.3.2, 7.3.2): a
 * message is recent in the one session that first had its mailbox selected
 * after it arrived. The database keeps one "first unclaimed UID" per mailbox
 * (mailboxes.recent_uid, sql/013_recent.sql) that a read-write SELECT or a
 * sync finding new UIDs moves up in one UPDATE under the row lock; the UIDs
 * it passed are this session's. The session keeps them as a sorted array of
 * the view's UIDs (at most the view's size, LIMIT_IMAP_MESSAGES); expunges
 * remove members. EXAMINE claims nothing and shows the unclaimed ones.
 * IMAP4rev2 (RFC 9051) has no \Recent: nothing is shown, claims still run. */
#include <stdlib.h>
#include <string.h>

#include "imap/session.h"
#include "lib/mem.h"

void imap_recent_mark(struct imap_session *s, size_t first, int64_t from, int64_t to)
{
	struct imap_view *v = &s->sel;
	size_t lo = first, hi = v->n;

	if (from >= to)
		return;
	while (lo < hi) {	/* the first view index with uid >= from */
		size_t mid = lo + (hi - lo) / 2;

		if ((int64_t)v->uids[mid] < from)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < v->n && (int64_t)v->uids[i] < to; i++) {
		if (v->n_recent > 0 && v->recent[v->n_recent - 1] >= v->uids[i])
			continue;	/* already a member; the array stays ascending */
		if (v->n_recent == v->recent_alloc) {
			v->recent_alloc = v->recent_alloc ? v->recent_alloc * 2 : 16;
			v->recent = xrealloc(v->recent, v->recent_alloc * sizeof(uint32_t));
		}
		v->recent[v->n_recent++] = v->uids[i];
	}
}

void imap_recent_remove(struct imap_session *s, uint32_t uid)
{
	struct imap_view *v = &s->sel;
	uint32_t k = imap_view_seq(v->recent, v->n_recent, uid);

	if (k == 0)
		return;
	memmove(&v->recent[k - 1], &v->recent[k], (v->n_recent - k) * sizeof(uint32_t));
	v->n_recent--;
}

int imap_recent_flags(const struct imap_session *s, uint32_t uid, int flags)
{
	if (s->rev2 || imap_view_seq(s->sel.recent, s->sel.n_recent, uid) == 0)
		return flags;
	return flags | IMAP_FLAG_RECENT;
}

int imap_recent_job_flags(const struct imap_job *j, uint32_t uid, int flags)
{
	if (j->recent == NULL || imap_view_seq(j->recent, j->n_recent, uid) == 0)
		return flags;
	return flags | IMAP_FLAG_RECENT;
}

void imap_recent_snapshot(const struct imap_session *s, struct imap_job *j)
{
	if (s->rev2 || s->sel.n_recent == 0)
		return;
	free(j->recent);
	j->recent = xmalloc(s->sel.n_recent * sizeof(uint32_t));
	memcpy(j->recent, s->sel.recent, s->sel.n_recent * sizeof(uint32_t));
	j->n_recent = s->sel.n_recent;
}

void imap_recent_claim(struct imap_job *j, struct db *db)
{
	struct imap_store_sync *sy = &j->sync_res;
	int64_t from = 0;

	/* nothing to claim (the common NOOP): no statement at all */
	if (!j->claim_recent || j->sync_st != DB_OK || sy->gone || sy->recent_uid >= sy->uidnext)
		return;
	/* XXX: a claim whose commit is unknown (connection lost), or whose
	 * session is gone when the reply comes, leaves its UIDs recent in no
	 * session */
	if (imap_store_recent_claim(db, j->mailbox_id, sy->uidnext, &from) == DB_OK && from > 0) {
		sy->claim_from = from;
		sy->claim_to = sy->uidnext;
	}
}

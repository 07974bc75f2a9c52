/* cmd_maildrop.c - the TRANSACTION and UPDATE states (RFC 1939 sections 5-7).
 *
 * The maildrop is the snapshot loaded at login: messages 1..N in UID order,
 * sizes in stored octets (CRLF lines), UIDL "<uidvalidity>.<uid>" (1-70
 * characters 0x21-0x7E, RFC 1939 section 7). DELE only marks; QUIT deletes
 * the marked UIDs in one transaction and says "+OK" only after the commit
 * (DESIGN.md durability invariant); a dropped connection deletes nothing.
 * RETR/TOP bodies come from a DB job and are streamed (session.c).
 * XXX: no exclusive maildrop lock (RFC 1939 section 8, RFC 2449 [IN-USE]):
 * two sessions may list the same messages; deleting by UID is idempotent. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "db/store.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/strnum.h"
#include "pop3/session.h"
#include "work/work.h"

void pop3_maildrop_free(struct pop3_session *s)
{
	xfree(s->msgs);
	s->n_msgs = 0;
	s->n_deleted = 0;
	s->deleted_octets = 0;
	xfree(s->stream.data);
	memset(&s->stream, 0, sizeof(s->stream));
}

/* Messages and octets not marked deleted. */
static void maildrop_count(const struct pop3_session *s, size_t *n_r, long long *octets_r)
{
	long long octets = 0;
	size_t i;

	for (i = 0; i < s->n_msgs; i++)
		octets += s->msgs[i].size;
	*n_r = s->n_msgs - s->n_deleted;
	*octets_r = octets - s->deleted_octets;
}

/* The message a number argument names; replies and returns NULL when there
 * is none or it is deleted. *num_r is the 1-based number. */
static struct pop3_msg *msg_arg(struct pop3_session *s, const struct pop3_arg *a, size_t *num_r)
{
	uint64_t num;

	if (strnum_u64(a->p, a->len, UINT64_MAX, &num) < 0 || num == 0 || num > s->n_msgs) {
		pop3_reply(s, "-ERR no such message");
		return NULL;
	}
	if (s->msgs[num - 1].deleted) {
		pop3_reply(s, "-ERR message %zu already deleted", (size_t)num);
		return NULL;
	}
	*num_r = (size_t)num;
	return &s->msgs[num - 1];
}

void pop3_cmd_stat(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	long long octets;
	size_t n;

	(void)cmd;
	maildrop_count(s, &n, &octets);
	pop3_reply(s, "+OK %zu %lld", n, octets);
}

void pop3_cmd_list(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	long long octets;
	size_t n, num;

	if (cmd->n_args == 1) {
		const struct pop3_msg *m = msg_arg(s, &cmd->args[0], &num);

		if (m != NULL)
			pop3_reply(s, "+OK %zu %lld", num, (long long)m->size);
		return;
	}
	maildrop_count(s, &n, &octets);
	pop3_reply(s, "+OK %zu messages (%lld octets)", n, octets);
	s->stream.kind = POP3_STREAM_LIST;
	s->stream.next = 0;
	pop3_session_stream(s);
}

void pop3_cmd_uidl(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	size_t num;

	if (cmd->n_args == 1) {
		const struct pop3_msg *m = msg_arg(s, &cmd->args[0], &num);

		if (m != NULL)
			pop3_reply(s, "+OK %zu %lld.%lld", num, (long long)s->uidvalidity,
				   (long long)m->uid);
		return;
	}
	pop3_reply(s, "+OK");
	s->stream.kind = POP3_STREAM_UIDL;
	s->stream.next = 0;
	pop3_session_stream(s);
}

/* --- RETR and TOP --- */

struct body_job {
	struct job job;
	int64_t mailbox_id;
	int64_t uid;
	size_t num;		/* message number, for replies */
	bool top;
	uint64_t lines;		/* TOP's body lines */
	enum db_status st;
	unsigned char *data;
	size_t len;
	bool found;
};

static void body_run(struct job *j, struct db *db)
{
	struct body_job *bj = (struct body_job *)j;

	if (db == NULL) {
		bj->st = DB_TEMP;
		return;
	}
	bj->st = db_message_body(db, bj->mailbox_id, bj->uid, &bj->data, &bj->len, &bj->found);
}

static void body_done(struct job *j)
{
	struct body_job *bj = (struct body_job *)j;
	struct pop3_session *s = pop3_session_find(j->conn_id);

	if (s == NULL || s->wait != POP3_WAIT_JOB || s->state != POP3_STATE_TRANS)
		goto out;
	if (bj->st != DB_OK) {
		log_warn("pop3", "message read failed user=%s uid=%lld status=%d", s->address,
			 (long long)bj->uid, (int)bj->st);
		pop3_reply(s, "-ERR [SYS/TEMP] Cannot read the message, try again later");
		pop3_session_resume(s);
		goto out;
	}
	if (!bj->found) {
		pop3_reply(s, "-ERR message %zu no longer exists", bj->num);
		pop3_session_resume(s);
		goto out;
	}
	if (bj->top) {
		pop3_reply(s, "+OK");
		s->stream.len = pop3_top_len(bj->data, bj->len, bj->lines);
	} else {
		pop3_reply(s, "+OK %zu octets", bj->len);
		s->stream.len = bj->len;
	}
	s->stream.kind = POP3_STREAM_BODY;
	s->stream.data = bj->data;
	s->stream.off = 0;
	bj->data = NULL;
	pop3_session_stream(s);
out:
	free(bj->data);
	free(bj);
}

static void body_fetch(struct pop3_session *s, const struct pop3_arg *a, bool top, uint64_t lines)
{
	struct body_job *bj;
	struct pop3_msg *m;
	size_t num;

	if ((m = msg_arg(s, a, &num)) == NULL)
		return;
	bj = xcalloc(1, sizeof(*bj));
	bj->job.run = body_run;
	bj->job.done = body_done;
	bj->job.conn_id = s->conn_id;
	bj->mailbox_id = s->mailbox_id;
	bj->uid = m->uid;
	bj->num = num;
	bj->top = top;
	bj->lines = lines;
	if (work_submit_db(&bj->job) < 0) {
		free(bj);
		pop3_reply(s, "-ERR [SYS/TEMP] Server busy, try again later");
		return;
	}
	pop3_session_wait(s, POP3_WAIT_JOB);
}

void pop3_cmd_retr(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	body_fetch(s, &cmd->args[0], false, 0);
}

void pop3_cmd_top(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	uint64_t lines;

	if (strnum_u64(cmd->args[1].p, cmd->args[1].len, UINT64_MAX, &lines) < 0) {
		pop3_session_error(s, "-ERR invalid number of lines");
		return;
	}
	body_fetch(s, &cmd->args[0], true, lines);
}

/* --- DELE, NOOP, RSET --- */

void pop3_cmd_dele(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	struct pop3_msg *m;
	size_t num;

	if ((m = msg_arg(s, &cmd->args[0], &num)) == NULL)
		return;
	m->deleted = true;
	s->n_deleted++;
	s->deleted_octets += m->size;
	pop3_reply(s, "+OK message %zu deleted", num);
}

void pop3_cmd_noop(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	(void)cmd;
	pop3_reply(s, "+OK");
}

void pop3_cmd_rset(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	long long octets;
	size_t i, n;

	(void)cmd;
	for (i = 0; i < s->n_msgs; i++)
		s->msgs[i].deleted = false;
	s->n_deleted = 0;
	s->deleted_octets = 0;
	maildrop_count(s, &n, &octets);
	pop3_reply(s, "+OK maildrop has %zu messages (%lld octets)", n, octets);
}

/* --- QUIT: the UPDATE state --- */

struct expunge_job {
	struct job job;
	int64_t account_id;
	int64_t mailbox_id;
	int64_t *uids;
	size_t n;
	enum db_status st;
};

static void expunge_run(struct job *j, struct db *db)
{
	struct expunge_job *ej = (struct expunge_job *)j;

	if (db == NULL) {
		ej->st = DB_TEMP;
		return;
	}
	ej->st = db_expunge_uids(db, ej->account_id, ej->mailbox_id, ej->uids, ej->n);
}

static void expunge_done(struct job *j)
{
	struct expunge_job *ej = (struct expunge_job *)j;
	struct pop3_session *s = pop3_session_find(j->conn_id);

	if (s == NULL || !s->quitting) {
		/* The client left before the answer: the commit stands. */
		if (ej->st == DB_OK)
			log_info("pop3", "quit (connection gone) deleted=%zu", ej->n);
		goto out;
	}
	s->quitting = false;
	if (ej->st == DB_OK) {
		log_info("pop3", "quit user=%s deleted=%zu octets=%lld ip=%s", s->address, ej->n,
			 (long long)s->deleted_octets, conn_peer_addr(s->conn));
		pop3_reply(s, "+OK Bye");
	} else {
		log_warn("pop3", "quit user=%s: deleting %zu messages failed status=%d", s->address,
			 ej->n, (int)ej->st);
		pop3_reply(s, "-ERR [SYS/TEMP] Deleting messages failed, try again later");
	}
	pop3_session_close(s);
out:
	free(ej->uids);
	free(ej);
}

void pop3_cmd_quit(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	struct expunge_job *ej;
	size_t i, k = 0;

	(void)cmd;
	if (s->state != POP3_STATE_TRANS || s->n_deleted == 0) {
		if (s->state == POP3_STATE_TRANS)
			log_info("pop3", "quit user=%s deleted=0 ip=%s", s->address,
				 conn_peer_addr(s->conn));
		pop3_reply(s, "+OK Bye");
		pop3_session_close(s);
		return;
	}
	ej = xcalloc(1, sizeof(*ej));
	ej->job.run = expunge_run;
	ej->job.done = expunge_done;
	ej->job.conn_id = s->conn_id;
	ej->account_id = s->account_id;
	ej->mailbox_id = s->mailbox_id;
	ej->uids = xcalloc(s->n_deleted, sizeof(*ej->uids));
	for (i = 0; i < s->n_msgs; i++)
		if (s->msgs[i].deleted)
			ej->uids[k++] = s->msgs[i].uid;
	ej->n = k;
	if (work_submit_db(&ej->job) < 0) {
		free(ej->uids);
		free(ej);
		pop3_reply(s, "-ERR [SYS/TEMP] Server busy, nothing deleted");
		pop3_session_close(s);
		return;
	}
	s->quitting = true;
	pop3_session_wait(s, POP3_WAIT_JOB);
}

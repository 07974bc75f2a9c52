/* cmd_list.c - LIST-EXTENDED (RFC 5258): selection options SUBSCRIBED,
 * REMOTE (no remote mailboxes here), RECURSIVEMATCH (CHILDINFO
 * "SUBSCRIBED") and SPECIAL-USE (RFC 6154 section 3); return options
 * SUBSCRIBED, CHILDREN, SPECIAL-USE and STATUS (RFC 5819 LIST-STATUS);
 * several patterns in one command. A LIST with none of these is the
 * RFC 3501 LIST of cmd_mailbox.c. Matching and the STATUS counts run in
 * the worker over the account's mailboxes (one query, then one per
 * mailbox whose STATUS is asked); at most LIMIT_IMAP_LIST_PATTERNS patterns. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/mutf7.h"
#include "imap/session.h"
#include "lib/mem.h"

#define LIST_PATTERNS LIMIT_IMAP_LIST_PATTERNS

#define SEL_SUBSCRIBED	(1u << 0)
#define SEL_REMOTE	(1u << 1)
#define SEL_RECURSIVE	(1u << 2)
#define SEL_SPECIALUSE	(1u << 3)
#define RET_SUBSCRIBED	(1u << 0)
#define RET_CHILDREN	(1u << 1)
#define RET_SPECIALUSE	(1u << 2)
#define RET_STATUS	(1u << 3)

struct list_job {
	struct imap_job j;
	char *pats[LIST_PATTERNS];
	size_t n_pats;
	unsigned sel, ret, status_items;
	struct imap_store_mbox *list;
	size_t n;
	/* worker: per mailbox, 0 not listed, 1 listed, 2 listed for
	 * CHILDINFO only; and its STATUS */
	unsigned char *show;
	bool *childinfo;
	struct imap_store_status *st;
	bool *st_ok;
};

char *imap_list_pattern(struct imap_session *s, const char *ref, size_t rlen, const char *pat,
			size_t plen)
{
	struct buf raw, dec;
	char *out;

	buf_init(&raw, LIMIT_IMAP_MAILBOX_NAME * 2);
	buf_init(&dec, LIMIT_IMAP_MAILBOX_NAME * 2);
	if (buf_append(&raw, ref, rlen) < 0 || buf_append(&raw, pat, plen) < 0 ||
	    (s->utf8 ? !imap_mutf7_utf8_valid(buf_data(&raw), buf_len(&raw)) ||
			       buf_append(&dec, buf_data(&raw), buf_len(&raw)) < 0
		     : imap_mutf7_decode((const char *)buf_data(&raw), buf_len(&raw), &dec) < 0)) {
		buf_free(&raw);
		buf_free(&dec);
		imap_error(s, "BAD", "Invalid pattern");
		return NULL;
	}
	out = xstrndup((const char *)buf_data(&dec), buf_len(&dec));
	buf_free(&raw);
	buf_free(&dec);
	if (strncasecmp(out, "INBOX", 5) == 0 && (out[5] == '\0' || out[5] == '/'))
		memcpy(out, "INBOX", 5);
	return out;
}

static void list_cleanup(struct imap_job *jj)
{
	struct list_job *l = (struct list_job *)jj;

	for (size_t i = 0; i < l->n_pats; i++)
		free(l->pats[i]);
	imap_store_mboxes_free(l->list, l->n);
	free(l->show);
	free(l->childinfo);
	free(l->st);
	free(l->st_ok);
}

static bool matches(const struct list_job *l, const char *name)
{
	for (size_t i = 0; i < l->n_pats; i++)
		if (imap_list_match(l->pats[i], name))
			return true;
	return false;
}

static bool is_child(const char *parent, const char *name)
{
	size_t len = strlen(parent);

	return strncmp(name, parent, len) == 0 && name[len] == '/';
}

static void list_work(struct imap_job *jj, struct db *db)
{
	struct list_job *l = (struct list_job *)jj;

	jj->st = imap_store_list(db, jj->account_id, &l->list, &l->n);
	if (jj->st != DB_OK || l->n == 0)
		return;
	l->show = xcalloc(l->n, 1);
	l->childinfo = xcalloc(l->n, sizeof(bool));
	l->st = xcalloc(l->n, sizeof(*l->st));
	l->st_ok = xcalloc(l->n, sizeof(bool));
	for (size_t i = 0; i < l->n; i++) {
		const struct imap_store_mbox *mb = &l->list[i];
		bool own = true;

		if (!matches(l, mb->name))
			continue;
		if ((l->sel & SEL_SUBSCRIBED) && !mb->subscribed)
			own = false;
		if ((l->sel & SEL_SPECIALUSE) && mb->special_use[0] == '\0')
			own = false;
		if ((l->sel & SEL_RECURSIVE) && (l->sel & SEL_SUBSCRIBED))
			for (size_t k = 0; k < l->n; k++)
				if (l->list[k].subscribed && is_child(mb->name, l->list[k].name))
					l->childinfo[i] = true;
		if (own)
			l->show[i] = 1;
		else if (l->childinfo[i])
			l->show[i] = 2;
	}
	for (size_t i = 0; i < l->n && (l->ret & RET_STATUS); i++) {
		bool found = false;

		if (l->show[i] == 0)
			continue;
		jj->st = imap_store_status(db, jj->account_id, l->list[i].name, &l->st[i], &found);
		if (jj->st != DB_OK)
			return;
		l->st_ok[i] = found;
	}
}

static void list_finish(struct imap_session *s, struct imap_job *jj)
{
	struct list_job *l = (struct list_job *)jj;

	if (jj->st != DB_OK) {
		imap_tagged(s, "NO", "[UNAVAILABLE] Try again later");
		return;
	}
	for (size_t i = 0; i < l->n; i++) {
		const struct imap_store_mbox *mb = &l->list[i];
		bool kids = false;
		struct buf b;

		if (l->show[i] == 0)
			continue;
		for (size_t k = 0; k < l->n && !kids; k++)
			kids = is_child(mb->name, l->list[k].name);
		buf_init(&b, LIMIT_IMAP_MAILBOX_NAME * 8);
		buf_printf(&b, "* LIST (%s", kids ? "\\HasChildren" : "\\HasNoChildren");
		if (mb->subscribed && (l->sel & SEL_SUBSCRIBED || l->ret & RET_SUBSCRIBED))
			buf_append_str(&b, " \\Subscribed");
		if (mb->special_use[0] != '\0')
			buf_printf(&b, " %s", mb->special_use);
		buf_append_str(&b, ") \"/\" ");
		if (imap_mailbox_out(s, &b, mb->name) < 0) {
			buf_free(&b);
			continue;
		}
		if (l->childinfo[i])
			buf_append_str(&b, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
		buf_append_str(&b, "\r\n");
		imap_send_raw(s, buf_data(&b), buf_len(&b));
		buf_free(&b);
		if ((l->ret & RET_STATUS) && l->st_ok[i])
			imap_status_write(s, mb->name, l->status_items, &l->st[i]);
	}
	imap_tagged(s, "OK", "LIST completed");
}

/* Selection options (RFC 5258 3.1). 0, or -1 after answering BAD. */
static int parse_selection(struct imap_session *s, const struct imap_arg *a, struct list_job *l)
{
	static const struct {
		const char *name;
		unsigned bit;
	} opts[] = {
		{ "SUBSCRIBED", SEL_SUBSCRIBED },
		{ "REMOTE", SEL_REMOTE },
		{ "RECURSIVEMATCH", SEL_RECURSIVE },
		{ "SPECIAL-USE", SEL_SPECIALUSE },
	};

	for (unsigned i = 0; i < a->list_count; i++) {
		size_t k;

		for (k = 0; k < sizeof(opts) / sizeof(opts[0]); k++)
			if (imap_arg_atom_is(&a->list[i], opts[k].name))
				break;
		if (k == sizeof(opts) / sizeof(opts[0])) {
			imap_error(s, "BAD", "Unknown LIST selection option");
			return -1;
		}
		l->sel |= opts[k].bit;
	}
	/* RECURSIVEMATCH alone (or with REMOTE only) is an error */
	if ((l->sel & SEL_RECURSIVE) && (l->sel & (SEL_SUBSCRIBED | SEL_SPECIALUSE)) == 0) {
		imap_error(s, "BAD", "RECURSIVEMATCH needs another selection option");
		return -1;
	}
	return 0;
}

/* Return options (RFC 5258 3.2, RFC 5819). 0, or -1 after answering. */
static int parse_return(struct imap_session *s, const struct imap_arg *a, struct list_job *l)
{
	if (a->type != IMAP_ARG_LIST) {
		imap_error(s, "BAD", "RETURN (options)");
		return -1;
	}
	for (unsigned i = 0; i < a->list_count; i++) {
		const struct imap_arg *o = &a->list[i];

		if (imap_arg_atom_is(o, "SUBSCRIBED")) {
			l->ret |= RET_SUBSCRIBED;
		} else if (imap_arg_atom_is(o, "CHILDREN")) {
			l->ret |= RET_CHILDREN;
		} else if (imap_arg_atom_is(o, "SPECIAL-USE")) {
			l->ret |= RET_SPECIALUSE;
		} else if (imap_arg_atom_is(o, "STATUS") && i + 1 < a->list_count) {
			if (imap_status_items_parse(s, &a->list[++i], &l->status_items) < 0)
				return -1;
			l->ret |= RET_STATUS;
		} else {
			imap_error(s, "BAD", "Unknown LIST return option");
			return -1;
		}
	}
	return 0;
}

static int add_pattern(struct imap_session *s, struct list_job *l, const char *ref, size_t rlen,
		       const struct imap_arg *p)
{
	const char *pat;
	size_t plen;

	if (imap_arg_astring(p, &pat, &plen) < 0) {
		imap_error(s, "BAD", "Invalid LIST pattern");
		return -1;
	}
	if (l->n_pats >= LIST_PATTERNS) {
		imap_error(s, "BAD", "[LIMIT] Too many LIST patterns");
		return -1;
	}
	if (plen == 0)
		return 0;	/* "" names no mailbox here */
	if ((l->pats[l->n_pats] = imap_list_pattern(s, ref, rlen, pat, plen)) == NULL)
		return -1;
	l->n_pats++;
	return 0;
}

void imap_cmd_list_extended(struct imap_session *s, const struct imap_cmd *cmd)
{
	const struct imap_arg *a = cmd->args;
	struct list_job *l;
	const char *ref;
	size_t rlen;

	if (a[0].type != IMAP_ARG_LIST && a[1].type != IMAP_ARG_LIST &&
	    a[2].type == IMAP_ARG_EOL) {
		imap_cmd_list(s, cmd);	/* RFC 3501 LIST */
		return;
	}
	l = xcalloc(1, sizeof(*l));
	l->j.work = list_work;
	l->j.finish = list_finish;
	l->j.cleanup = list_cleanup;
	l->j.allow_expunge = true;
	if (a->type == IMAP_ARG_LIST) {
		if (parse_selection(s, a, l) < 0)
			goto fail;
		a++;
	}
	if (a[0].type == IMAP_ARG_EOL || a[1].type == IMAP_ARG_EOL ||
	    imap_arg_astring(&a[0], &ref, &rlen) < 0) {
		imap_error(s, "BAD", "LIST [(selection)] reference pattern [RETURN (options)]");
		goto fail;
	}
	if (a[1].type == IMAP_ARG_LIST) {
		if (a[1].list_count == 0) {
			imap_error(s, "BAD", "Empty pattern list");
			goto fail;
		}
		for (unsigned i = 0; i < a[1].list_count; i++)
			if (add_pattern(s, l, ref, rlen, &a[1].list[i]) < 0)
				goto fail;
	} else if (add_pattern(s, l, ref, rlen, &a[1]) < 0) {
		goto fail;
	}
	a += 2;
	if (a->type != IMAP_ARG_EOL) {
		if (!imap_arg_atom_is(a, "RETURN") || a[1].type == IMAP_ARG_EOL ||
		    a[2].type != IMAP_ARG_EOL) {
			imap_error(s, "BAD", "LIST ... RETURN (options)");
			goto fail;
		}
		if (parse_return(s, &a[1], l) < 0)
			goto fail;
	}
	imap_job_submit(s, &l->j);
	return;
fail:
	list_cleanup(&l->j);
	free(l);
}

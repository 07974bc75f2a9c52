/* cmd_notify.c - NOTIFY (RFC 5465): NOTIFY NONE and NOTIFY SET [STATUS]
 * with the filters SELECTED, SELECTED-DELAYED, INBOXES, PERSONAL,
 * SUBSCRIBED, SUBTREE and MAILBOXES and the events MessageNew,
 * MessageExpunge, FlagChange (non-selected mailboxes: "* STATUS"),
 * MailboxName and SubscriptionChange ("* LIST", OLDNAME for a rename).
 * The selected mailbox keeps its usual EXISTS / EXPUNGE / FETCH.
 * mailbox_changed wakes a NOTIFY session for any mailbox of its account it
 * knows, or any newer one (ids ascend: a mailbox just created); the
 * changes are read by a job that runs at IDLE or at the next NOOP, which
 * also syncs the selected mailbox. At most LIMIT_IMAP_NOTIFY_PENDING
 * changed mailboxes are remembered; past that every one is looked at.
 * Reports go out in IDLE, at NOOP, and after any command that ran a job.
 * XXX: not after commands answered without a job (CAPABILITY); the
 * selected mailbox is reported as without NOTIFY whatever the filters
 * say; MessageNew's fetch-att goes out only when the new messages were
 * announced by a job that left nothing streaming; every NOTIFY
 * session is looked at for each mailbox_changed (a list, not an index). */
#include <stdlib.h>
#include <string.h>

#include "imap/session.h"
#include "lib/mem.h"

#define EV_NEW		(1u << 0)
#define EV_EXPUNGE	(1u << 1)
#define EV_FLAGS	(1u << 2)
#define EV_NAME		(1u << 3)
#define EV_SUBSCRIPTION	(1u << 4)

enum nf_kind { NF_SELECTED, NF_INBOXES, NF_PERSONAL, NF_SUBSCRIBED, NF_SUBTREE, NF_MAILBOXES };

struct nf_filter {
	enum nf_kind kind;
	unsigned events;
	struct fetch_req *fetch;	/* SELECTED: MessageNew (fetch-att) */
	char **names;		/* SUBTREE / MAILBOXES (UTF-8) */
	size_t n_names;
};

/* A mailbox as the session last saw it, with the STATUS last reported. */
struct nf_mbox {
	int64_t id;
	char *name;
	bool subscribed;
	bool have_st;
	struct imap_store_status st;
};

struct imap_notify {
	struct nf_filter *filters;
	size_t n_filters;
	struct nf_mbox *known;	/* the account's mailboxes, ascending id */
	size_t n_known;
	int64_t max_id;
	int64_t pending[LIMIT_IMAP_NOTIFY_PENDING];
	size_t n_pending;
	bool pending_all;
	bool initial_status;	/* NOTIFY SET STATUS: one STATUS per watched mailbox */
	bool loaded;		/* known[] has been read once */
	struct imap_session *s;
	struct imap_notify *next, *prev;
};

static struct imap_notify *notify_list;

static void filters_free(struct nf_filter *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < f[i].n_names; k++)
			free(f[i].names[k]);
		free(f[i].names);
		imap_fetch_template_free(&f[i].fetch);
	}
	free(f);
}

static void known_free(struct nf_mbox *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(m[i].name);
	free(m);
}

void imap_notify_free(struct imap_session *s)
{
	struct imap_notify *n = s->notify;

	if (n == NULL)
		return;
	if (n->prev != NULL)
		n->prev->next = n->next;
	else
		notify_list = n->next;
	if (n->next != NULL)
		n->next->prev = n->prev;
	filters_free(n->filters, n->n_filters);
	known_free(n->known, n->n_known);
	free(n);
	s->notify = NULL;
}

static const struct nf_mbox *known_find(const struct imap_notify *n, int64_t id);

static void add_pending(struct imap_notify *n, int64_t id)
{
	for (size_t i = 0; i < n->n_pending; i++)
		if (n->pending[i] == id)
			return;
	if (n->n_pending < LIMIT_IMAP_NOTIFY_PENDING)
		n->pending[n->n_pending++] = id;
	else
		n->pending_all = true;
}

static void wake(struct imap_session *s)
{
	s->notify_pending = true;
	if (s->idling && s->wait == IMAP_WAIT_NONE && !s->closing)
		imap_sync_start(s, true);
}

void imap_notify_event(int64_t id)
{
	for (struct imap_notify *n = notify_list, *next; n != NULL; n = next) {
		next = n->next;
		if (n->s->sel.mailbox_id == id && n->s->state == IMAP_STATE_SELECTED)
			continue;	/* the selected mailbox's own sync */
		if (known_find(n, id) == NULL && id <= n->max_id)
			continue;	/* another account's */
		add_pending(n, id);
		wake(n->s);
	}
}

void imap_notify_event_all(void)
{
	for (struct imap_notify *n = notify_list, *next; n != NULL; n = next) {
		next = n->next;
		n->pending_all = true;
		wake(n->s);
	}
}

bool imap_notify_pending(const struct imap_session *s)
{
	return s->notify != NULL && (s->notify->n_pending > 0 || s->notify->pending_all ||
				     s->notify->initial_status || !s->notify->loaded);
}

/* ---------- which mailboxes, which events ---------- */

static bool under(const char *root, const char *name)
{
	size_t len = strlen(root);

	return strcmp(root, name) == 0 || (strncmp(root, name, len) == 0 && name[len] == '/');
}

/* The events asked for mailbox mb (0: not watched). */
static unsigned events_for(const struct imap_notify *n, const struct imap_store_mbox *mb)
{
	for (size_t i = 0; i < n->n_filters; i++) {
		const struct nf_filter *f = &n->filters[i];
		bool hit = false;

		switch (f->kind) {
		case NF_SELECTED:
			break;
		case NF_INBOXES:
			hit = strcmp(mb->name, "INBOX") == 0;
			break;
		case NF_PERSONAL:
			hit = true;
			break;
		case NF_SUBSCRIBED:
			hit = mb->subscribed;
			break;
		case NF_SUBTREE:
		case NF_MAILBOXES:
			for (size_t k = 0; k < f->n_names && !hit; k++)
				hit = f->kind == NF_SUBTREE ? under(f->names[k], mb->name)
							    : strcmp(f->names[k], mb->name) == 0;
			break;
		}
		if (hit)	/* the first filter that names a mailbox wins (RFC 5465 3) */
			return f->events;
	}
	return 0;
}

/* ---------- the job ---------- */

struct notify_job {
	struct imap_job j;
	/* copies taken on the loop, read by the worker */
	struct imap_notify spec;	/* filters, known, pending (shallow) */
	int64_t selected;
	unsigned status_items;
	/* worker results */
	struct imap_store_mbox *list;
	size_t n;
	struct imap_store_status *st;
	bool *st_ok;
};

static void notify_cleanup(struct imap_job *jj)
{
	struct notify_job *nj = (struct notify_job *)jj;

	imap_store_mboxes_free(nj->list, nj->n);
	free(nj->st);
	free(nj->st_ok);
	known_free(nj->spec.known, nj->spec.n_known);
	filters_free(nj->spec.filters, nj->spec.n_filters);
}

static bool was_pending(const struct imap_notify *n, int64_t id)
{
	if (n->pending_all || n->initial_status || !n->loaded)
		return true;
	for (size_t i = 0; i < n->n_pending; i++)
		if (n->pending[i] == id)
			return true;
	return false;
}

static void notify_work(struct imap_job *jj, struct db *db)
{
	struct notify_job *nj = (struct notify_job *)jj;

	jj->st = imap_store_list(db, jj->account_id, &nj->list, &nj->n);
	if (jj->st != DB_OK || nj->n == 0)
		return;
	nj->st = xcalloc(nj->n, sizeof(*nj->st));
	nj->st_ok = xcalloc(nj->n, sizeof(bool));
	/* the first run learns the list and each watched mailbox's STATUS
	 * (the base later changes are compared with) */
	for (size_t i = 0; i < nj->n; i++) {
		const struct imap_store_mbox *mb = &nj->list[i];
		unsigned ev = events_for(&nj->spec, mb);
		bool found = false;

		if (mb->id == nj->selected || (ev & (EV_NEW | EV_EXPUNGE | EV_FLAGS)) == 0 ||
		    !was_pending(&nj->spec, mb->id))
			continue;
		jj->st = imap_store_status(db, jj->account_id, mb->name, &nj->st[i], &found);
		if (jj->st != DB_OK)
			return;
		nj->st_ok[i] = found;
	}
}

/* known[] ascends by id */
static const struct nf_mbox *known_find(const struct imap_notify *n, int64_t id)
{
	size_t lo = 0, hi = n->n_known;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (n->known[mid].id == id)
			return &n->known[mid];
		if (n->known[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void send_list(struct imap_session *s, const char *attrs, const char *name,
		      const char *oldname)
{
	struct buf b;

	buf_init(&b, LIMIT_IMAP_MAILBOX_NAME * 16);
	buf_printf(&b, "* LIST (%s) \"/\" ", attrs);
	imap_mailbox_out(s, &b, name);
	if (oldname != NULL) {
		buf_append_str(&b, " (\"OLDNAME\" (");
		imap_mailbox_out(s, &b, oldname);
		buf_append_str(&b, "))");
	}
	buf_append_str(&b, "\r\n");
	imap_send_raw(s, buf_data(&b), buf_len(&b));
	buf_free(&b);
}

/* MailboxName / SubscriptionChange: the differences between what the
 * session knew and the list now. */
static void report_names(struct imap_session *s, struct notify_job *nj)
{
	const struct imap_notify *old = &nj->spec;

	for (size_t i = 0; i < nj->n; i++) {
		const struct imap_store_mbox *mb = &nj->list[i];
		const struct nf_mbox *k = known_find(old, mb->id);
		unsigned ev = events_for(old, mb);
		const char *sub = mb->subscribed ? "\\Subscribed" : "";

		if (k == NULL && (ev & EV_NAME))
			send_list(s, sub, mb->name, NULL);
		else if (k != NULL && strcmp(k->name, mb->name) != 0 && (ev & EV_NAME))
			send_list(s, sub, mb->name, k->name);
		else if (k != NULL && k->subscribed != mb->subscribed && (ev & EV_SUBSCRIPTION))
			send_list(s, sub, mb->name, NULL);
	}
	for (size_t i = 0; i < old->n_known; i++) {
		bool still = false;
		struct imap_store_mbox gone;

		for (size_t k = 0; k < nj->n && !still; k++)
			still = nj->list[k].id == old->known[i].id;
		memset(&gone, 0, sizeof(gone));
		gone.name = old->known[i].name;
		gone.subscribed = old->known[i].subscribed;
		if (!still && (events_for(old, &gone) & EV_NAME))
			send_list(s, "\\NonExistent", old->known[i].name, NULL);
	}
}

static int cmp_id(const void *a, const void *b)
{
	const struct nf_mbox *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* Whether a STATUS is news: new or removed messages always, flags only
 * with FlagChange; nothing at all for a rename or a subscription. */
static bool status_news(const struct nf_mbox *k, const struct imap_store_status *st, unsigned ev)
{
	if (k == NULL || !k->have_st)
		return true;
	if (k->st.messages != st->messages || k->st.uidnext != st->uidnext)
		return true;
	return (ev & EV_FLAGS) && (k->st.unseen != st->unseen ||
				   k->st.highestmodseq != st->highestmodseq);
}

static void notify_finish(struct imap_session *s, struct imap_job *jj)
{
	struct notify_job *nj = (struct notify_job *)jj;
	struct imap_notify *n = s->notify;

	if (jj->st == DB_OK && n != NULL) {
		struct nf_mbox *known;

		if (nj->spec.loaded)
			report_names(s, nj);
		for (size_t i = 0; i < nj->n; i++) {
			const struct nf_mbox *k = known_find(&nj->spec, nj->list[i].id);

			/* a mailbox just created: its LIST says it all, the
			 * STATUS is kept as the base for the next change */
			if (nj->st_ok[i] &&
			    (nj->spec.loaded ? k != NULL && status_news(k, &nj->st[i],
									  events_for(&nj->spec,
										     &nj->list[i]))
					     : nj->spec.initial_status))
				imap_status_write(s, nj->list[i].name, nj->status_items, &nj->st[i]);
		}
		/* what the session knows now */
		known = xcalloc(nj->n + 1, sizeof(*known));
		for (size_t i = 0; i < nj->n; i++) {
			const struct nf_mbox *k = known_find(&nj->spec, nj->list[i].id);

			known[i].id = nj->list[i].id;
			known[i].name = xstrdup(nj->list[i].name);
			known[i].subscribed = nj->list[i].subscribed;
			if (nj->st_ok[i]) {
				known[i].have_st = true;
				known[i].st = nj->st[i];
			} else if (k != NULL) {
				known[i].have_st = k->have_st;
				known[i].st = k->st;
			}
		}
		known_free(n->known, n->n_known);
		n->known = known;
		n->n_known = nj->n;
		for (size_t i = 0; i < nj->n; i++) {
			if (nj->list[i].id > n->max_id)
				n->max_id = nj->list[i].id;
		}
		qsort(n->known, n->n_known, sizeof(*n->known), cmp_id);
		n->loaded = true;
		n->initial_status = false;
	} else if (n != NULL) {
		n->pending_all = true;	/* try again at the next report */
	}
	imap_sync_finish(s, jj);
}

struct imap_job *imap_notify_job(struct imap_session *s)
{
	struct imap_notify *n = s->notify;
	struct notify_job *nj;

	if (!imap_notify_pending(s))
		return NULL;
	nj = xcalloc(1, sizeof(*nj));
	nj->j.work = notify_work;
	nj->j.finish = notify_finish;
	nj->j.cleanup = notify_cleanup;
	nj->selected = s->state == IMAP_STATE_SELECTED ? s->sel.mailbox_id : 0;
	nj->status_items = imap_status_bits_notify(s->condstore);
	/* the worker reads a copy: the session may change it meanwhile */
	nj->spec.loaded = n->loaded;
	nj->spec.initial_status = n->initial_status;
	nj->spec.pending_all = n->pending_all;
	nj->spec.n_pending = n->n_pending;
	memcpy(nj->spec.pending, n->pending, n->n_pending * sizeof(n->pending[0]));
	/* changes that arrive while the job runs stay pending for the next */
	n->n_pending = 0;
	n->pending_all = false;
	nj->spec.filters = xcalloc(n->n_filters + 1, sizeof(*n->filters));
	nj->spec.n_filters = n->n_filters;
	for (size_t i = 0; i < n->n_filters; i++) {
		struct nf_filter *f = &nj->spec.filters[i];

		*f = n->filters[i];
		f->fetch = NULL;	/* the loop's own */
		f->names = xcalloc(f->n_names + 1, sizeof(char *));
		for (size_t k = 0; k < f->n_names; k++)
			f->names[k] = xstrdup(n->filters[i].names[k]);
	}
	nj->spec.known = xcalloc(n->n_known + 1, sizeof(*n->known));
	nj->spec.n_known = n->n_known;
	for (size_t i = 0; i < n->n_known; i++) {
		nj->spec.known[i] = n->known[i];
		nj->spec.known[i].name = xstrdup(n->known[i].name);
	}
	return &nj->j;
}

const struct fetch_req *imap_notify_fetch_template(const struct imap_session *s)
{
	if (s->notify == NULL)
		return NULL;
	for (size_t i = 0; i < s->notify->n_filters; i++)
		if (s->notify->filters[i].kind == NF_SELECTED)
			return s->notify->filters[i].fetch;
	return NULL;
}

/* ---------- NOTIFY SET / NONE ---------- */

static int parse_events(struct imap_session *s, const struct imap_arg *a, unsigned *ev_r,
			struct fetch_req **fetch_r)
{
	unsigned ev = 0;

	*ev_r = 0;
	if (imap_arg_atom_is(a, "NONE"))
		return 0;
	if (a->type != IMAP_ARG_LIST || a->list_count == 0) {
		imap_error(s, "BAD", "NOTIFY filter (events) or NONE");
		return -1;
	}
	for (unsigned i = 0; i < a->list_count; i++) {
		const struct imap_arg *e = &a->list[i];

		if (imap_arg_atom_is(e, "MessageNew")) {
			ev |= EV_NEW;
			if (i + 1 < a->list_count && a->list[i + 1].type == IMAP_ARG_LIST) {
				/* fetch-att: only for the selected mailbox */
				if (fetch_r == NULL || *fetch_r != NULL ||
				    (*fetch_r = imap_fetch_template(&a->list[i + 1])) == NULL) {
					imap_error(s, "BAD", "Invalid MessageNew fetch-att");
					return -1;
				}
				i++;
			}
		} else if (imap_arg_atom_is(e, "MessageExpunge")) {
			ev |= EV_EXPUNGE;
		} else if (imap_arg_atom_is(e, "FlagChange")) {
			ev |= EV_FLAGS;
		} else if (imap_arg_atom_is(e, "MailboxName")) {
			ev |= EV_NAME;
		} else if (imap_arg_atom_is(e, "SubscriptionChange")) {
			ev |= EV_SUBSCRIPTION;
		} else {
			imap_error(s, "NO", "[BADEVENT (MessageNew MessageExpunge FlagChange "
					    "MailboxName SubscriptionChange)] Unsupported event");
			return -1;
		}
	}
	/* RFC 5465 5: MessageNew and MessageExpunge go together, FlagChange
	 * needs both */
	if (((ev & EV_NEW) != 0) != ((ev & EV_EXPUNGE) != 0) ||
	    ((ev & EV_FLAGS) && (ev & EV_NEW) == 0)) {
		imap_error(s, "BAD", "MessageNew, MessageExpunge (and FlagChange) go together");
		return -1;
	}
	*ev_r = ev;
	return 0;
}

static int parse_names(struct imap_session *s, const struct imap_arg *a, struct nf_filter *f)
{
	const struct imap_arg *one = a;
	unsigned n = 1;

	if (a->type == IMAP_ARG_LIST) {
		one = a->list;
		n = a->list_count;
	}
	if (n == 0) {
		imap_error(s, "BAD", "Mailbox list expected");
		return -1;
	}
	f->names = xcalloc(n, sizeof(char *));
	for (unsigned i = 0; i < n; i++) {
		if ((f->names[i] = imap_mailbox_arg(s, &one[i])) == NULL)
			return -1;
		f->n_names++;
	}
	return 0;
}

static int parse_filter(struct imap_session *s, const struct imap_arg *g, struct nf_filter *f)
{
	const struct imap_arg *l = g->list;
	unsigned i = 1;

	memset(f, 0, sizeof(*f));
	if (g->type != IMAP_ARG_LIST || g->list_count < 2) {
		imap_error(s, "BAD", "NOTIFY SET (filter events)");
		return -1;
	}
	if (imap_arg_atom_is(&l[0], "SELECTED") || imap_arg_atom_is(&l[0], "SELECTED-DELAYED")) {
		f->kind = NF_SELECTED;
	} else if (imap_arg_atom_is(&l[0], "INBOXES")) {
		f->kind = NF_INBOXES;
	} else if (imap_arg_atom_is(&l[0], "PERSONAL")) {
		f->kind = NF_PERSONAL;
	} else if (imap_arg_atom_is(&l[0], "SUBSCRIBED")) {
		f->kind = NF_SUBSCRIBED;
	} else if ((imap_arg_atom_is(&l[0], "SUBTREE") || imap_arg_atom_is(&l[0], "MAILBOXES")) &&
		   g->list_count == 3) {
		f->kind = imap_arg_atom_is(&l[0], "SUBTREE") ? NF_SUBTREE : NF_MAILBOXES;
		if (parse_names(s, &l[1], f) < 0)
			return -1;
		i = 2;
	} else {
		imap_error(s, "BAD", "Unknown NOTIFY filter");
		return -1;
	}
	if (i + 1 != g->list_count) {
		imap_error(s, "BAD", "NOTIFY SET (filter events)");
		return -1;
	}
	return parse_events(s, &l[i], &f->events, f->kind == NF_SELECTED ? &f->fetch : NULL);
}

void imap_cmd_notify(struct imap_session *s, const struct imap_cmd *cmd)
{
	const struct imap_arg *a = cmd->args;
	struct nf_filter *filters = NULL;
	size_t n = 0;
	bool status = false;
	struct imap_notify *nt;

	if (imap_arg_atom_is(&a[0], "NONE") && a[1].type == IMAP_ARG_EOL) {
		imap_notify_free(s);
		imap_tagged(s, "OK", "NOTIFY completed");
		return;
	}
	if (!imap_arg_atom_is(&a[0], "SET")) {
		imap_error(s, "BAD", "NOTIFY SET ... or NOTIFY NONE");
		return;
	}
	a++;
	if (imap_arg_atom_is(a, "STATUS")) {
		status = true;
		a++;
	}
	for (; a->type != IMAP_ARG_EOL; a++) {
		if (n >= LIMIT_IMAP_NOTIFY_FILTERS) {
			filters_free(filters, n);
			imap_error(s, "BAD", "[LIMIT] Too many NOTIFY filters");
			return;
		}
		filters = xrealloc(filters, (n + 1) * sizeof(*filters));
		if (parse_filter(s, a, &filters[n]) < 0) {
			filters_free(filters, n + 1);
			return;
		}
		n++;
	}
	if (n == 0) {
		imap_error(s, "BAD", "NOTIFY SET needs a filter");
		return;
	}
	imap_notify_free(s);
	nt = xcalloc(1, sizeof(*nt));
	nt->filters = filters;
	nt->n_filters = n;
	nt->initial_status = status;
	nt->s = s;
	nt->next = notify_list;
	if (notify_list != NULL)
		notify_list->prev = nt;
	notify_list = nt;
	s->notify = nt;
	/* the first job reads the mailbox list (and, with STATUS, a second
	 * reports every watched mailbox); run it now like a NOOP */
	imap_sync_start(s, false);
}

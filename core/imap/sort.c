/* sort.c - SORT and THREAD logic (RFC 5256 sections 2-4, RFC 5957): base
 * subject extraction (2.1), address keys, ORDEREDSUBJECT and the
 * REFERENCES algorithm (message-id containers, prune, sort, group by base
 * subject). Pure; memory O(messages + references). References per message
 * are capped by the caller (LIMIT_IMAP_THREAD_REFS); ids are compared as
 * written (RFC 5256 says case-sensitive). */
#include "imap/sort.h"

#include <stdlib.h>
#include <string.h>

#include "config/limits.h"
#include "lib/mem.h"

static bool wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

/* "[...]" at s[i]: the index after ']' or 0. */
static size_t blob_end(const char *s, size_t i, size_t e)
{
	if (i >= e || s[i] != '[')
		return 0;
	for (size_t j = i + 1; j < e; j++) {
		if (s[j] == '[')
			return 0;
		if (s[j] == ']')
			return j + 1;
	}
	return 0;
}

static size_t skip_wsp(const char *s, size_t i, size_t e)
{
	while (i < e && s[i] == ' ')
		i++;
	return i;
}

/* subj-refwd at s[i]: ("re" / "fw" / "fwd") *WSP [blob] ":" -> index after
 * it, or 0. */
static size_t refwd_end(const char *s, size_t i, size_t e)
{
	size_t j;

	if (e - i >= 3 && strncmp(s + i, "fwd", 3) == 0)
		j = i + 3;
	else if (e - i >= 2 && (strncmp(s + i, "re", 2) == 0 || strncmp(s + i, "fw", 2) == 0))
		j = i + 2;
	else
		return 0;
	j = skip_wsp(s, j, e);
	if (blob_end(s, j, e) > 0)
		j = skip_wsp(s, blob_end(s, j, e), e);
	return j < e && s[j] == ':' ? j + 1 : 0;
}

void imap_sort_base_subject(const char *subject, struct buf *out, bool *reply_r)
{
	size_t n = strlen(subject), len = 0, b = 0, e;
	char *s = xmalloc(n + 1);
	bool again = true;

	*reply_r = false;
	/* (1) blanks collapse to one space; ASCII letters fold */
	for (size_t i = 0; i < n; i++) {
		if (wsp(subject[i])) {
			if (len > 0 && s[len - 1] == ' ')
				continue;
			s[len++] = ' ';
		} else
			s[len++] = lower(subject[i]);
	}
	e = len;
	while (again) {
		bool changed = true;

		again = false;
		/* (2) trailers: blanks and "(fwd)" */
		while (changed) {
			changed = false;
			while (e > b && s[e - 1] == ' ')
				e--;
			if (e - b >= 5 && strncmp(s + e - 5, "(fwd)", 5) == 0) {
				e -= 5;
				*reply_r = changed = true;
			}
		}
		/* (3)(4) leaders: blanks, blobs before "re:", then one blob if
		 * something is left after it */
		changed = true;
		while (changed) {
			size_t j = skip_wsp(s, b, e), k;

			changed = j != b;
			b = j;
			for (k = j; blob_end(s, k, e) > 0;)
				k = skip_wsp(s, blob_end(s, k, e), e);
			if (refwd_end(s, k, e) > 0) {
				b = refwd_end(s, k, e);
				*reply_r = changed = true;
				continue;
			}
			if (blob_end(s, b, e) > 0 && skip_wsp(s, blob_end(s, b, e), e) < e) {
				b = skip_wsp(s, blob_end(s, b, e), e);
				changed = true;
			}
			if (changed)
				again = true;
		}
		/* (6) "[fwd: ... ]" */
		if (e - b >= 6 && strncmp(s + b, "[fwd:", 5) == 0 && s[e - 1] == ']') {
			b += 5;
			e--;
			*reply_r = again = true;
		}
	}
	buf_append(out, s + b, e - b);
	free(s);
}

void imap_sort_addr_keys(const char *value, struct buf *mailbox, struct buf *display)
{
	const char *p = value, *lt = NULL, *gt = NULL, *end = value + strlen(value);
	const char *at, *a, *ae, *d = NULL, *de = NULL;
	bool quoted = false;
	int depth = 0;

	/* the first address: up to a ',' or ';' outside quotes, comments and
	 * angle brackets; a group's "name:" is skipped */
	for (const char *q = p; *q != '\0'; q++) {
		if (*q == '\\' && q[1] != '\0') {
			q++;
			continue;
		}
		if (*q == '"' && depth == 0) {
			quoted = !quoted;
			continue;
		}
		if (quoted)
			continue;
		if (*q == '(')
			depth++;
		else if (*q == ')' && depth > 0)
			depth--;
		else if (depth > 0)
			continue;
		else if (*q == ':' && lt == NULL)
			p = q + 1;
		else if (*q == '<' && lt == NULL)
			lt = q;
		else if (*q == '>' && lt != NULL && gt == NULL)
			gt = q;
		else if ((*q == ',' || *q == ';') && (lt == NULL || gt != NULL)) {
			if (lt == NULL && p == q) {
				p = q + 1;	/* an empty list element */
				continue;
			}
			end = q;
			break;
		}
	}
	if (lt != NULL) {
		a = lt + 1;
		ae = gt != NULL ? gt : end;
		d = p;
		de = lt;
	} else {
		/* an addr-spec: its comments are not part of it */
		a = p;
		for (ae = a; ae < end && *ae != '('; ae++)
			;
	}
	while (a < ae && wsp(*a))
		a++;
	while (ae > a && wsp(ae[-1]))
		ae--;
	at = memchr(a, '@', (size_t)(ae - a));
	for (const char *q = a; q < (at != NULL ? at : ae); q++)
		if (*q != '"' && buf_append(mailbox, &(char){ lower(*q) }, 1) < 0)
			break;
	if (d != NULL) {
		while (d < de && (wsp(*d) || *d == '"'))
			d++;
		while (de > d && (wsp(de[-1]) || de[-1] == '"'))
			de--;
	}
	if (d == NULL || d == de) {
		d = a;
		de = ae;
	}
	for (const char *q = d; q < de; q++)
		if (buf_append(display, &(char){ lower(*q) }, 1) < 0)
			break;
}

void imap_sort_msgids(const char *value, size_t max, struct buf *out)
{
	const char *ids[64];
	size_t lens[64], n = 0, first = 0;

	if (max > 64)
		max = 64;
	for (const char *p = value; (p = strchr(p, '<')) != NULL;) {
		const char *e = strchr(p, '>');

		if (e == NULL)
			break;
		if (memchr(p + 1, '<', (size_t)(e - p - 1)) != NULL) {
			p = (const char *)memchr(p + 1, '<', (size_t)(e - p - 1));
			continue;
		}
		if (max == 0)
			break;
		if (n == max) {
			memmove(ids, ids + 1, (max - 1) * sizeof(ids[0]));
			memmove(lens, lens + 1, (max - 1) * sizeof(lens[0]));
			n--;
		}
		ids[n] = p;
		lens[n++] = (size_t)(e - p + 1);
		p = e + 1;
	}
	for (size_t i = first; i < n; i++) {
		if (buf_len(out) > 0 && buf_append(out, " ", 1) < 0)
			return;
		/* ids with blanks inside (folded) are kept without them */
		for (size_t k = 0; k < lens[i]; k++)
			if (!wsp(ids[i][k]) && buf_append(out, &ids[i][k], 1) < 0)
				return;
	}
}

/* ---------- threading ---------- */

struct tnode {
	int msg;		/* index into msgs, or -1 (a dummy) */
	int parent, child, next;	/* -1: none */
	const char *id;
	size_t id_len;
};

struct thr {
	const struct imap_thread_msg *msgs;
	struct tnode *nodes;
	size_t n_nodes, cap;
	int *hash;		/* node index or -1 */
	size_t hmask;
	size_t hused;
};

static uint64_t id_hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

static int node_new(struct thr *t, int msg, const char *id, size_t len)
{
	struct tnode *x;

	if (t->n_nodes == t->cap) {
		t->cap = t->cap * 2 + 16;
		t->nodes = xrealloc(t->nodes, t->cap * sizeof(*t->nodes));
	}
	x = &t->nodes[t->n_nodes];
	x->msg = msg;
	x->parent = x->child = x->next = -1;
	x->id = id;
	x->id_len = len;
	return (int)t->n_nodes++;
}

/* The container of an id, created when missing (RFC 5256 3, step 1). */
static int node_of(struct thr *t, const char *id, size_t len, bool *created_r)
{
	size_t h = (size_t)id_hash(id, len) & t->hmask;

	*created_r = false;
	if (t->hused * 2 > t->hmask) {
		/* never full (sized from the input), but a full table must not
		 * loop: the id gets a container of its own */
		*created_r = true;
		return node_new(t, -1, id, len);
	}
	while (t->hash[h] >= 0) {
		const struct tnode *x = &t->nodes[t->hash[h]];

		if (x->id_len == len && memcmp(x->id, id, len) == 0)
			return t->hash[h];
		h = (h + 1) & t->hmask;
	}
	*created_r = true;
	t->hused++;
	return t->hash[h] = node_new(t, -1, id, len);
}

static bool is_ancestor(const struct thr *t, int anc, int x)
{
	for (int p = x; p >= 0; p = t->nodes[p].parent)
		if (p == anc)
			return true;
	return false;
}

static void unlink_node(struct thr *t, int x)
{
	int p = t->nodes[x].parent;
	int *pp;

	if (p < 0)
		return;
	for (pp = &t->nodes[p].child; *pp >= 0; pp = &t->nodes[*pp].next)
		if (*pp == x) {
			*pp = t->nodes[x].next;
			break;
		}
	t->nodes[x].parent = -1;
	t->nodes[x].next = -1;
}

static void link_node(struct thr *t, int parent, int x)
{
	unlink_node(t, x);
	t->nodes[x].parent = parent;
	t->nodes[x].next = t->nodes[parent].child;
	t->nodes[parent].child = x;
}

/* Date and number of a node: its message's, or for a dummy its earliest
 * child's (what its first child is once sorted, RFC 5256 3 step 4). */
static void node_key(const struct thr *t, int x, int64_t *date_r, uint32_t *id_r)
{
	*date_r = INT64_MAX;
	*id_r = UINT32_MAX;
	if (t->nodes[x].msg >= 0) {
		*date_r = t->msgs[t->nodes[x].msg].date;
		*id_r = t->msgs[t->nodes[x].msg].id;
		return;
	}
	for (int c = t->nodes[x].child; c >= 0; c = t->nodes[c].next) {
		const struct imap_thread_msg *m;

		if (t->nodes[c].msg < 0)
			continue;
		m = &t->msgs[t->nodes[c].msg];
		if (m->date < *date_r || (m->date == *date_r && m->id < *id_r)) {
			*date_r = m->date;
			*id_r = m->id;
		}
	}
}

static _Thread_local const struct thr *sort_ctx;	/* qsort has no context argument */

static int cmp_nodes(const void *a, const void *b)
{
	int64_t dx, dy;
	uint32_t sx, sy;

	node_key(sort_ctx, *(const int *)a, &dx, &sx);
	node_key(sort_ctx, *(const int *)b, &dy, &sy);
	if (dx != dy)
		return dx < dy ? -1 : 1;
	return sx < sy ? -1 : sx > sy;
}

/* Sorts the children of every node by date (no recursion: chains of
 * replies can be as long as the mailbox). */
static void sort_all(struct thr *t)
{
	int *scratch = xcalloc(t->n_nodes + 1, sizeof(int));

	sort_ctx = t;
	for (size_t x = 0; x < t->n_nodes; x++) {
		size_t k = 0;

		for (int c = t->nodes[x].child; c >= 0; c = t->nodes[c].next)
			scratch[k++] = c;
		if (k < 2)
			continue;
		qsort(scratch, k, sizeof(int), cmp_nodes);
		t->nodes[x].child = scratch[0];
		for (size_t i = 0; i + 1 < k; i++)
			t->nodes[scratch[i]].next = scratch[i + 1];
		t->nodes[scratch[k - 1]].next = -1;
	}
	free(scratch);
}

/* Writes x and its descendants: a single child continues the line, several
 * are each parenthesised. Recursion only at branches, at most
 * LIMIT_IMAP_THREAD_DEPTH deep; deeper branches are written flat.
 * XXX: that flattening loses structure (only hostile mail gets there). */
static int render(const struct thr *t, int x, unsigned depth, struct buf *out)
{
	for (;;) {
		const struct tnode *nd = &t->nodes[x];
		int c = nd->child;

		if (nd->msg >= 0 && buf_printf(out, "%u", t->msgs[nd->msg].id) < 0)
			return -1;
		if (c < 0)
			return 0;
		if (nd->msg >= 0 && buf_append(out, " ", 1) < 0)
			return -1;
		if (t->nodes[c].next < 0 || depth >= LIMIT_IMAP_THREAD_DEPTH) {
			for (; t->nodes[c].next >= 0; c = t->nodes[c].next)
				if (t->nodes[c].msg >= 0 &&
				    buf_printf(out, "%u ", t->msgs[t->nodes[c].msg].id) < 0)
					return -1;
			x = c;
			continue;
		}
		for (; c >= 0; c = t->nodes[c].next)
			if (buf_append(out, "(", 1) < 0 || render(t, c, depth + 1, out) < 0 ||
			    buf_append(out, ")", 1) < 0)
				return -1;
		return 0;
	}
}

/* Sorts every level and writes the roots (children of vr). */
static int finish(struct thr *t, int vr, struct buf *out)
{
	sort_all(t);
	for (int c = t->nodes[vr].child; c >= 0; c = t->nodes[c].next)
		if (buf_append(out, "(", 1) < 0 || render(t, c, 0, out) < 0 ||
		    buf_append(out, ")", 1) < 0)
			return -1;
	return 0;
}

static void thr_init(struct thr *t, const struct imap_thread_msg *msgs, size_t ids)
{
	size_t hs = 16;

	memset(t, 0, sizeof(*t));
	t->msgs = msgs;
	while (hs < ids * 2 + 2)
		hs *= 2;
	t->hash = xmalloc(hs * sizeof(int));
	memset(t->hash, 0xff, hs * sizeof(int));
	t->hmask = hs - 1;
}

static void thr_free(struct thr *t)
{
	free(t->nodes);
	free(t->hash);
}

int imap_thread_orderedsubject(const struct imap_thread_msg *msgs, size_t n, struct buf *out)
{
	struct thr t;
	int vr, rc;

	thr_init(&t, msgs, n);
	vr = node_new(&t, -1, "", 0);
	/* the first message of each base subject (by date) is the parent of
	 * the others. The index maps a subject to a node whose child field
	 * (unlinked, never rendered) names that first message. */
	{
		int *order = xmalloc((n + 1) * sizeof(int));

		for (size_t i = 0; i < n; i++)
			order[i] = node_new(&t, (int)i, msgs[i].subject, strlen(msgs[i].subject));
		sort_ctx = &t;
		qsort(order, n, sizeof(int), cmp_nodes);
		for (size_t i = 0; i < n; i++) {
			int x = order[i];
			bool created;
			int s = node_of(&t, t.nodes[x].id, t.nodes[x].id_len, &created);

			if (created) {
				link_node(&t, vr, x);
				t.nodes[s].child = x;
			} else {
				link_node(&t, t.nodes[s].child, x);
			}
		}
		free(order);
		for (size_t i = (size_t)vr + 1; i < t.n_nodes; i++)
			if (t.nodes[i].msg < 0)
				t.nodes[i].child = -1;	/* the subject index entries */
	}
	rc = finish(&t, vr, out);
	thr_free(&t);
	return rc;
}

int imap_thread_references(const struct imap_thread_msg *msgs, size_t n, struct buf *out)
{
	struct thr t;
	size_t ids = n;
	int vr, rc;

	for (size_t i = 0; i < n; i++)
		for (const char *p = msgs[i].refs; (p = strchr(p, ' ')) != NULL; p++)
			ids++;	/* words = blanks + 1 at most */
	ids += n;
	thr_init(&t, msgs, ids);
	vr = node_new(&t, -1, "", 0);
	/* (1) containers by message-id and reference chains */
	for (size_t i = 0; i < n; i++) {
		const char *mid = msgs[i].message_id, *p;
		size_t ml = strlen(mid);
		bool created;
		int x, prev = -1;

		if (ml > 0) {
			x = node_of(&t, mid, ml, &created);
			if (t.nodes[x].msg >= 0)
				x = node_new(&t, (int)i, "", 0);	/* a duplicate id */
			else
				t.nodes[x].msg = (int)i;
		} else
			x = node_new(&t, (int)i, "", 0);
		for (p = msgs[i].refs; *p != '\0';) {
			const char *e;
			int r;

			while (*p == ' ')
				p++;
			e = p;
			while (*e != '\0' && *e != ' ')
				e++;
			if (e == p)
				break;
			r = node_of(&t, p, (size_t)(e - p), &created);
			if (prev >= 0 && r != prev && t.nodes[r].parent < 0 &&
			    !is_ancestor(&t, r, prev))
				link_node(&t, prev, r);
			prev = r;
			p = e;
		}
		/* (1C) the last reference is the parent */
		if (prev >= 0 && prev != x && !is_ancestor(&t, x, prev))
			link_node(&t, prev, x);
		else if (prev < 0)
			unlink_node(&t, x);
	}
	/* (2) the root set */
	for (size_t i = 1; i < t.n_nodes; i++)
		if (t.nodes[i].parent < 0 && (t.nodes[i].msg >= 0 || t.nodes[i].child >= 0))
			link_node(&t, vr, (int)i);
	/* (3) prune dummies: without children they go; with children they
	 * give them to their parent (at the root only when there is one) */
	for (bool changed = true; changed;) {
		changed = false;
		for (size_t i = 1; i < t.n_nodes; i++) {
			struct tnode *d = &t.nodes[i];
			int par = d->parent;

			if (d->msg >= 0 || par < 0)
				continue;
			if (d->child < 0) {
				unlink_node(&t, (int)i);
				changed = true;
			} else if (par != vr || t.nodes[d->child].next < 0) {
				while (d->child >= 0)
					link_node(&t, par, d->child);
				unlink_node(&t, (int)i);
				changed = true;
			}
		}
	}
	/* (4)(5) sort the roots by date, then group them by base subject */
	{
		int *roots;
		size_t nr = 0;

		sort_all(&t);
		for (int c = t.nodes[vr].child; c >= 0; c = t.nodes[c].next)
			nr++;
		roots = xmalloc((nr + 1) * sizeof(int));
		nr = 0;
		for (int c = t.nodes[vr].child; c >= 0; c = t.nodes[c].next)
			roots[nr++] = c;
		/* a second table, keyed by subject */
		free(t.hash);
		{
			size_t hs = 16;

			while (hs < nr * 2 + 2)
				hs *= 2;
			t.hash = xmalloc(hs * sizeof(int));
			memset(t.hash, 0xff, hs * sizeof(int));
			t.hmask = hs - 1;
		}
		for (size_t i = 0; i < nr; i++) {
			int r = roots[i], m = r;
			const char *subj;
			size_t h;

			while (t.nodes[m].msg < 0)
				m = t.nodes[m].child;
			subj = msgs[t.nodes[m].msg].subject;
			if (subj[0] == '\0')
				continue;
			h = (size_t)id_hash(subj, strlen(subj)) & t.hmask;
			for (;; h = (h + 1) & t.hmask) {
				int o = t.hash[h], om;
				bool od, rd, orep, rrep;

				if (o < 0) {
					t.hash[h] = r;
					break;
				}
				om = o;
				while (t.nodes[om].msg < 0)
					om = t.nodes[om].child;
				if (strcmp(msgs[t.nodes[om].msg].subject, subj) != 0)
					continue;
				od = t.nodes[o].msg < 0;
				rd = t.nodes[r].msg < 0;
				orep = !od && msgs[t.nodes[o].msg].reply;
				rrep = !rd && msgs[t.nodes[r].msg].reply;
				if (od && rd) {
					while (t.nodes[r].child >= 0)
						link_node(&t, o, t.nodes[r].child);
					unlink_node(&t, r);
				} else if (od) {
					link_node(&t, o, r);
				} else if (rd) {
					link_node(&t, r, o);
					t.hash[h] = r;
				} else if (!orep && rrep) {
					link_node(&t, o, r);
				} else {
					int dm = node_new(&t, -1, "", 0);

					link_node(&t, vr, dm);
					link_node(&t, dm, o);
					link_node(&t, dm, r);
					t.hash[h] = dm;
				}
				break;
			}
		}
		free(roots);
	}
	/* (6) sort every level by date, and write */
	rc = finish(&t, vr, out);
	thr_free(&t);
	return rc;
}

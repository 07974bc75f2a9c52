/* mime.c - the MIME part tree of a whole message: one pass over the lines
 * (RFC 5322 header/body, RFC 2046 5.1 boundaries matched as prefixes,
 * innermost first, so an unterminated inner multipart ends at an outer
 * boundary; preamble and epilogue belong to no part; multipart/digest
 * children default to message/rfc822), the serialisation stored beside a
 * message, and RFC 9051 6.4.5 section lookup. Limits: LIMIT_MIME_DEPTH
 * (deeper containers become text/plain leaves), LIMIT_MIME_PARTS (then no
 * more boundaries are seen), LIMIT_MIME_HEADER_SIZE and _LINES (the rest of
 * an oversized header is body), LIMIT_MIME_BOUNDARY. */
#include "mail/mime.h"

#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"
#include "lib/str.h"
#include "lib/strnum.h"
#include "mail/mime_private.h"

struct mime_level {
	uint32_t part;
	size_t blen;
	char b[LIMIT_MIME_BOUNDARY];
};

struct mime_parser {
	const unsigned char *msg;
	size_t len;
	struct mime_tree *t;
	struct mime_level mp[LIMIT_MIME_DEPTH + 1];
	unsigned nmp;
	uint32_t cur;		/* innermost open part */
	bool in_header;
	bool no_more_parts;	/* LIMIT_MIME_PARTS reached: boundaries no longer seen */
	size_t hdr_lines;
	size_t lf;		/* LFs before the current line */
};

int mime_header_next(const unsigned char *msg, size_t *pos, size_t end, size_t *name_off,
		     size_t *name_len, size_t *val_off, size_t *val_len)
{
	for (;;) {
		size_t p = *pos;
		if (p >= end)
			return 0;
		const unsigned char *lf = memchr(msg + p, '\n', end - p);
		size_t e = lf != NULL ? (size_t)(lf - msg) + 1 : end;
		size_t le = e;
		if (le > p && msg[le - 1] == '\n')
			le--;
		if (le > p && msg[le - 1] == '\r')
			le--;
		if (le == p)
			return 0;	/* the blank line */
		*pos = e;
		if (msg[p] == ' ' || msg[p] == '\t')
			continue;	/* a continuation of nothing */
		const unsigned char *colon = memchr(msg + p, ':', le - p);
		if (colon == NULL)
			continue;
		size_t c = (size_t)(colon - msg), ne = c;
		while (ne > p && (msg[ne - 1] == ' ' || msg[ne - 1] == '\t'))
			ne--;
		if (ne == p)
			continue;
		size_t v = c + 1;
		while (v < le && (msg[v] == ' ' || msg[v] == '\t'))
			v++;
		size_t fe = e;
		while (fe < end && (msg[fe] == ' ' || msg[fe] == '\t')) {
			lf = memchr(msg + fe, '\n', end - fe);
			fe = lf != NULL ? (size_t)(lf - msg) + 1 : end;
		}
		size_t ve = fe;
		if (ve > v && msg[ve - 1] == '\n')
			ve--;
		if (ve > v && msg[ve - 1] == '\r')
			ve--;
		*pos = fe;
		*name_off = p;
		*name_len = ne - p;
		*val_off = v;
		*val_len = ve > v ? ve - v : 0;
		return 1;
	}
}

/* --- tree --- */

static uint32_t tree_add(struct mime_tree *t, uint32_t parent, size_t off, uint8_t flags)
{
	if (t->count >= LIMIT_MIME_PARTS)
		return MIME_NONE;
	if (t->count == t->alloc) {
		uint32_t n = t->alloc ? t->alloc * 2 : 8;
		if (n > LIMIT_MIME_PARTS)
			n = LIMIT_MIME_PARTS;
		t->parts = xrealloc(t->parts, n * sizeof(*t->parts));
		t->alloc = n;
	}
	uint32_t id = t->count++;
	struct mime_part *p = &t->parts[id];
	memset(p, 0, sizeof(*p));
	p->parent = parent;
	p->first_child = MIME_NONE;
	p->next = MIME_NONE;
	p->flags = flags;
	p->hdr_off = off;
	p->body_off = off;
	if (parent != MIME_NONE) {
		struct mime_part *q = &t->parts[parent];
		p->depth = (uint16_t)(q->depth + 1);
		if (q->first_child == MIME_NONE) {
			q->first_child = id;
		} else {
			uint32_t s = q->first_child;
			while (t->parts[s].next != MIME_NONE)
				s = t->parts[s].next;
			t->parts[s].next = id;
		}
		q->nchildren++;
	}
	return id;
}

void mime_tree_free(struct mime_tree **tree)
{
	if (*tree == NULL)
		return;
	free((*tree)->parts);
	xfree(*tree);
}

/* --- parser --- */

static uint8_t enc_of(const unsigned char *msg, const struct mime_part *p)
{
	size_t voff, vlen;
	struct mime_lex lx;
	struct buf tok;
	uint8_t enc = MIME_ENC_7BIT;

	if (!mime_header_find(msg, p->hdr_off, p->hdr_len, "Content-Transfer-Encoding", &voff,
			      &vlen))
		return enc;
	buf_init(&tok, 32);
	mime_lex_init(&lx, msg + voff, vlen, NULL);
	if (mime_lex_skip(&lx) > 0 && mime_lex_token(&lx, &tok) == 0) {
		static const struct {
			const char *name;
			uint8_t enc;
		} encs[] = {
			{ "7bit", MIME_ENC_7BIT },     { "8bit", MIME_ENC_8BIT },
			{ "binary", MIME_ENC_BINARY }, { "base64", MIME_ENC_BASE64 },
			{ "quoted-printable", MIME_ENC_QP },
		};
		for (size_t i = 0; i < sizeof(encs) / sizeof(encs[0]); i++) {
			if (buf_len(&tok) == strlen(encs[i].name) &&
			    str_casestarts((const char *)buf_data(&tok), buf_len(&tok), encs[i].name))
				enc = encs[i].enc;
		}
	}
	buf_free(&tok);
	return enc;
}

/* The header of cur ends at body_off (lf = LFs before it): decide what the
 * part is, open its boundary or its encapsulated message. */
static void finish_header(struct mime_parser *ps, size_t body_off, size_t lf)
{
	struct mime_tree *t = ps->t;
	uint32_t id = ps->cur;
	struct mime_part *p = &t->parts[id];
	size_t voff, vlen;
	bool digest_child = p->parent != MIME_NONE && (t->parts[p->parent].flags & MIME_PART_DIGEST);

	p->hdr_len = body_off - p->hdr_off;
	p->body_off = body_off;
	p->lines = lf;		/* scratch until the part is closed */
	ps->in_header = false;
	p->enc = enc_of(ps->msg, p);
	p->kind = digest_child ? MIME_KIND_RFC822 : MIME_KIND_TEXT;

	struct mime_ctype ct;
	mime_ctype_init(&ct);
	if (mime_header_find(ps->msg, p->hdr_off, p->hdr_len, "Content-Type", &voff, &vlen)) {
		mime_ctype_parse(&ct, ps->msg + voff, vlen, false);
		const char *type = (const char *)buf_data(&ct.type);
		const char *sub = (const char *)buf_data(&ct.subtype);
		if (str_caseeq(type, "multipart"))
			p->kind = MIME_KIND_MULTIPART;
		/* XXX: message/global (RFC 6532) is a leaf here, as in Dovecot 2.3 */
		else if (str_caseeq(type, "message") && str_caseeq(sub, "rfc822"))
			p->kind = MIME_KIND_RFC822;
		else if (str_caseeq(type, "text"))
			p->kind = MIME_KIND_TEXT;
		else
			p->kind = MIME_KIND_LEAF;
		if (p->kind == MIME_KIND_MULTIPART && str_caseeq(sub, "digest"))
			p->flags |= MIME_PART_DIGEST;
	}
	if ((p->kind == MIME_KIND_MULTIPART || p->kind == MIME_KIND_RFC822) &&
	    p->depth >= LIMIT_MIME_DEPTH) {
		p->kind = MIME_KIND_TEXT;
		p->flags |= MIME_PART_FLATTENED;
	}
	if (p->kind == MIME_KIND_MULTIPART) {
		const char *b = mime_params_get(&ct.params, "boundary");
		size_t blen = b != NULL ? strlen(b) : 0;
		/* No usable boundary: a multipart without parts. */
		if (blen > 0 && blen <= LIMIT_MIME_BOUNDARY && !ps->no_more_parts) {
			struct mime_level *lv = &ps->mp[ps->nmp++];
			lv->part = id;
			lv->blen = blen;
			memcpy(lv->b, b, blen);
		}
	} else if (p->kind == MIME_KIND_RFC822) {
		uint32_t child = tree_add(t, id, body_off, MIME_PART_MESSAGE);
		p = &t->parts[id];	/* tree_add may move the array */
		if (child == MIME_NONE) {
			p->kind = MIME_KIND_TEXT;
			p->flags |= MIME_PART_FLATTENED;
		} else {
			ps->cur = child;
			ps->in_header = true;
			ps->hdr_lines = 0;
		}
	}
	mime_ctype_free(&ct);
}

/* Part id ends at line start L (or at the end of input): inside a
 * multipart the line end before a boundary belongs to the boundary. */
static void close_part(struct mime_parser *ps, uint32_t id, size_t L, bool eof)
{
	struct mime_part *p = &ps->t->parts[id];
	size_t end = L, lf_end = ps->lf;

	if (!eof && end > 0 && ps->msg[end - 1] == '\n') {
		end--;
		lf_end--;
		if (end > 0 && ps->msg[end - 1] == '\r')
			end--;
	}
	if (end < p->body_off) {
		/* The line end before the boundary was the end of this
		 * header: it belongs to the boundary, the header stops short. */
		if (end < p->hdr_off)
			p->hdr_off = end;	/* an empty part at the boundary */
		p->hdr_len = end - p->hdr_off;
		p->body_off = end;
		p->body_len = 0;
		p->lines = 0;
		return;
	}
	p->body_len = end - p->body_off;
	p->lines = lf_end - p->lines;
}

static void boundary_line(struct mime_parser *ps, unsigned k, size_t L, size_t e)
{
	struct mime_level *lv = &ps->mp[k];
	uint32_t m = lv->part;
	size_t after = L + 2 + lv->blen;
	bool closing = e - after >= 2 && ps->msg[after] == '-' && ps->msg[after + 1] == '-';

	while (ps->in_header)
		finish_header(ps, L, ps->lf);
	for (uint32_t id = ps->cur; id != m; id = ps->t->parts[id].parent)
		close_part(ps, id, L, false);
	ps->cur = m;
	ps->in_header = false;
	if (closing) {
		ps->nmp = k;
		return;
	}
	ps->nmp = k + 1;
	uint32_t child = tree_add(ps->t, m, e, 0);
	if (child == MIME_NONE) {
		ps->no_more_parts = true;
		return;
	}
	ps->cur = child;
	ps->in_header = true;
	ps->hdr_lines = 0;
}

static bool try_boundary(struct mime_parser *ps, size_t pos, size_t e)
{
	if (ps->no_more_parts || ps->nmp == 0 || e - pos < 2 || ps->msg[pos] != '-' ||
	    ps->msg[pos + 1] != '-')
		return false;
	for (unsigned k = ps->nmp; k-- > 0;) {
		const struct mime_level *lv = &ps->mp[k];
		if (e - pos - 2 >= lv->blen && memcmp(ps->msg + pos + 2, lv->b, lv->blen) == 0) {
			boundary_line(ps, k, pos, e);
			return true;
		}
	}
	return false;
}

struct mime_tree *mime_parse(const unsigned char *msg, size_t len)
{
	struct mime_parser *ps = xcalloc(1, sizeof(*ps));
	struct mime_tree *t = xcalloc(1, sizeof(*t));
	size_t pos = 0;

	t->msg_len = len;
	ps->msg = msg;
	ps->len = len;
	ps->t = t;
	ps->cur = tree_add(t, MIME_NONE, 0, MIME_PART_MESSAGE);
	ps->in_header = true;
	while (pos < len) {
		const unsigned char *nl = memchr(msg + pos, '\n', len - pos);
		size_t e = nl != NULL ? (size_t)(nl - msg) + 1 : len;
		bool has_lf = nl != NULL;

		if (!try_boundary(ps, pos, e) && ps->in_header) {
			size_t n = e - pos;
			bool blank = has_lf && (n == 1 || (n == 2 && msg[pos] == '\r'));
			struct mime_part *p = &t->parts[ps->cur];
			if (blank)
				finish_header(ps, e, ps->lf + 1);
			else if (e - p->hdr_off > LIMIT_MIME_HEADER_SIZE ||
				 ps->hdr_lines >= LIMIT_MIME_HEADER_LINES)
				finish_header(ps, pos, ps->lf);	/* this line is body */
			else
				ps->hdr_lines++;
		}
		if (has_lf)
			ps->lf++;
		pos = e;
	}
	while (ps->in_header)
		finish_header(ps, len, ps->lf);
	for (uint32_t id = ps->cur; id != MIME_NONE; id = t->parts[id].parent)
		close_part(ps, id, len, true);
	free(ps);
	return t;
}

/* --- section labels --- */

static uint32_t child_index(const struct mime_tree *t, uint32_t id)
{
	uint32_t n = 1;
	for (uint32_t s = t->parts[t->parts[id].parent].first_child; s != id; s = t->parts[s].next)
		n++;
	return n;
}

int mime_section_label(const struct mime_tree *tree, uint32_t part, char *dst, size_t dstsize)
{
	uint32_t nums[2 * LIMIT_MIME_DEPTH + 2];
	unsigned n = 0;
	size_t len = 0;

	if (dstsize == 0)
		return -1;
	dst[0] = '\0';
	for (uint32_t id = part; tree->parts[id].parent != MIME_NONE; id = tree->parts[id].parent) {
		const struct mime_part *q = &tree->parts[tree->parts[id].parent];
		/* The message encapsulated in part N is N too, but a message
		 * that is itself message/rfc822 has it as its body part 1. */
		if (q->kind == MIME_KIND_RFC822 && !(q->flags & MIME_PART_MESSAGE))
			continue;
		if (n == sizeof(nums) / sizeof(nums[0]))
			return -1;
		nums[n++] = q->kind == MIME_KIND_RFC822 ? 1 : child_index(tree, id);
	}
	while (n-- > 0) {
		int w = str_fmt(dst + len, dstsize - len, len ? ".%u" : "%u", nums[n]);
		if (w < 0) {
			dst[0] = '\0';
			return -1;
		}
		len += (size_t)w;
	}
	return (int)len;
}

/* --- serialisation --- */

static const char kind_chars[] = "ltmr";
static const char enc_chars[] = "78bBQ";

int mime_serialize(const struct mime_tree *tree, struct buf *out)
{
	char label[LIMIT_MIME_DEPTH * 24 + 16];

	if (buf_append_str(out, "M1") < 0)
		return -1;
	for (uint32_t i = 0; i < tree->count; i++) {
		const struct mime_part *p = &tree->parts[i];
		if (mime_section_label(tree, i, label, sizeof(label)) < 0)
			return -1;
		if (buf_printf(out, ";%s,%c%c%x,%zu,%zu,%zu,%zu,%u", label, kind_chars[p->kind],
			       enc_chars[p->enc], p->flags, p->hdr_off, p->hdr_len, p->body_len,
			       p->lines, p->nchildren) < 0)
			return -1;
	}
	return 0;
}

/* Next ','-terminated (or ';'/end-terminated for the last) field. */
static int next_field(const char *s, size_t len, size_t *pos, char sep, const char **f,
		      size_t *flen)
{
	size_t p = *pos, e = p;
	while (e < len && s[e] != sep && s[e] != ';')
		e++;
	if (sep == ',' && (e >= len || s[e] != ','))
		return -1;
	*f = s + p;
	*flen = e - p;
	*pos = sep == ',' ? e + 1 : e;
	return 0;
}

static int field_num(const char *s, size_t len, size_t *pos, char sep, uint64_t max,
		     uint64_t *v)
{
	const char *f;
	size_t flen;
	if (next_field(s, len, pos, sep, &f, &flen) < 0)
		return -1;
	return strnum_u64(f, flen, max, v);
}

struct mime_tree *mime_deserialize(const char *s, size_t len, size_t msg_len,
				   const char **error_r)
{
	struct mime_tree *t = xcalloc(1, sizeof(*t));
	uint32_t stack[LIMIT_MIME_DEPTH + 2];
	uint64_t left[LIMIT_MIME_DEPTH + 2];
	unsigned depth = 0;
	size_t pos = 2;
	char label[LIMIT_MIME_DEPTH * 24 + 16];

	t->msg_len = msg_len;
	*error_r = "bad header";
	if (len < 2 || memcmp(s, "M1", 2) != 0)
		goto fail;
	while (pos < len) {
		const char *f, *kf;
		size_t flen, kflen;
		uint64_t hoff, hlen, blen, lines, nkids;
		*error_r = "bad record";
		if (s[pos++] != ';' || next_field(s, len, &pos, ',', &f, &flen) < 0 ||
		    next_field(s, len, &pos, ',', &kf, &kflen) < 0 || kflen != 3 ||
		    field_num(s, len, &pos, ',', msg_len, &hoff) < 0 ||
		    field_num(s, len, &pos, ',', msg_len, &hlen) < 0 ||
		    field_num(s, len, &pos, ',', msg_len, &blen) < 0 ||
		    field_num(s, len, &pos, ',', msg_len, &lines) < 0 ||
		    field_num(s, len, &pos, ';', LIMIT_MIME_PARTS, &nkids) < 0)
			goto fail;
		const char *k = memchr(kind_chars, kf[0], 4), *e = memchr(enc_chars, kf[1], 5);
		uint64_t flags;
		if (k == NULL || e == NULL || strnum_u64(kf + 2, 1, 7, &flags) < 0)
			goto fail;
		*error_r = "bad range";
		if (hlen > msg_len - hoff || blen > msg_len - hoff - hlen || lines > blen)
			goto fail;
		*error_r = "bad shape";
		while (depth > 0 && left[depth - 1] == 0)
			depth--;
		uint32_t parent = depth > 0 ? stack[depth - 1] : MIME_NONE;
		if ((t->count > 0 && parent == MIME_NONE) || depth > LIMIT_MIME_DEPTH + 1)
			goto fail;
		uint32_t id = tree_add(t, parent, (size_t)hoff, (uint8_t)flags);
		if (id == MIME_NONE)
			goto fail;
		struct mime_part *p = &t->parts[id];
		p->kind = (uint8_t)(k - kind_chars);
		p->enc = (uint8_t)(e - enc_chars);
		p->hdr_len = (size_t)hlen;
		p->body_off = (size_t)(hoff + hlen);
		p->body_len = (size_t)blen;
		p->lines = (size_t)lines;
		if ((p->kind == MIME_KIND_RFC822 && nkids != 1) ||
		    (p->kind != MIME_KIND_RFC822 && p->kind != MIME_KIND_MULTIPART && nkids != 0) ||
		    (id == 0) != ((p->flags & MIME_PART_MESSAGE) != 0 && parent == MIME_NONE) ||
		    p->depth > LIMIT_MIME_DEPTH ||
		    (id == 0 && (hoff != 0 || p->body_off + p->body_len != msg_len)))
			goto fail;
		if (parent != MIME_NONE) {
			const struct mime_part *q = &t->parts[parent];
			if (p->hdr_off < q->body_off || p->body_off + p->body_len > q->body_off + q->body_len)
				goto fail;
			left[depth - 1]--;
		}
		if (mime_section_label(t, id, label, sizeof(label)) < 0 || strlen(label) != flen ||
		    memcmp(label, f, flen) != 0)
			goto fail;
		if (nkids > 0) {
			stack[depth] = id;
			left[depth] = nkids;
			depth++;
		}
	}
	*error_r = "bad shape";
	while (depth > 0 && left[depth - 1] == 0)
		depth--;
	if (t->count == 0 || depth != 0)
		goto fail;
	return t;
fail:
	mime_tree_free(&t);
	return NULL;
}

/* --- section lookup --- */

static bool word_at(const char *spec, size_t len, size_t pos, const char *w)
{
	size_t wl = strlen(w);
	return len - pos >= wl && str_casestarts(spec + pos, wl, w) &&
	       (len - pos == wl || spec[pos + wl] == '.' || spec[pos + wl] == ' ');
}

int mime_section_lookup(const struct mime_tree *tree, const char *spec, size_t len,
			struct mime_section *out, const char **error_r)
{
	const struct mime_part *P = tree->parts;
	uint32_t part = MIME_NONE;
	size_t pos = 0;

	memset(out, 0, sizeof(*out));
	while (pos < len && spec[pos] >= '0' && spec[pos] <= '9') {
		size_t s = pos;
		uint64_t n;
		while (pos < len && spec[pos] >= '0' && spec[pos] <= '9')
			pos++;
		*error_r = "bad part number";
		if (strnum_u64(spec + s, pos - s, LIMIT_MIME_PARTS, &n) < 0 || n == 0)
			return -1;
		uint32_t m = part == MIME_NONE ? 0 :
			     P[part].kind == MIME_KIND_RFC822 ? P[part].first_child : part;
		*error_r = "no such part";
		if (P[m].kind == MIME_KIND_MULTIPART) {
			uint32_t c = P[m].first_child;
			for (uint64_t i = 1; i < n && c != MIME_NONE; i++)
				c = P[c].next;
			if (c == MIME_NONE)
				return -1;
			part = c;
		} else if (n == 1 && (part == MIME_NONE || P[part].kind == MIME_KIND_RFC822)) {
			part = m;
		} else {
			return -1;
		}
		if (pos == len)
			break;
		*error_r = "bad section";
		if (spec[pos] != '.' || pos + 1 == len)
			return -1;
		pos++;
	}
	*error_r = "bad section";
	if (pos == len) {
		if (part == MIME_NONE) {
			out->kind = MIME_SECTION_ALL;
			out->part = 0;
			out->off = 0;
			out->len = tree->msg_len;
		} else {
			out->kind = MIME_SECTION_BODY;
			out->part = part;
			out->off = P[part].body_off;
			out->len = P[part].body_len;
		}
		out->spec_used = pos;
		return 0;
	}
	if (word_at(spec, len, pos, "MIME")) {
		if (part == MIME_NONE)
			return -1;
		out->kind = MIME_SECTION_MIME;
		out->part = part;
		out->off = P[part].hdr_off;
		out->len = P[part].hdr_len;
		pos += 4;
	} else {
		uint32_t m = 0;
		if (part != MIME_NONE) {
			*error_r = "not a message/rfc822 part";
			if (P[part].kind != MIME_KIND_RFC822)
				return -1;
			m = P[part].first_child;
		}
		*error_r = "bad section";
		out->part = m;
		if (word_at(spec, len, pos, "TEXT")) {
			out->kind = MIME_SECTION_TEXT;
			out->off = P[m].body_off;
			out->len = P[m].body_len;
			pos += 4;
		} else if (word_at(spec, len, pos, "HEADER")) {
			out->kind = MIME_SECTION_HEADER;
			pos += 6;
			if (pos < len && word_at(spec, len, pos + 1, "FIELDS")) {
				out->kind = MIME_SECTION_HEADER_FIELDS;
				pos += 7;
				if (pos < len && word_at(spec, len, pos + 1, "NOT")) {
					out->kind = MIME_SECTION_HEADER_FIELDS_NOT;
					pos += 4;
				}
			}
			out->off = P[m].hdr_off;
			out->len = P[m].hdr_len;
		} else {
			return -1;
		}
	}
	bool fields = out->kind == MIME_SECTION_HEADER_FIELDS ||
		      out->kind == MIME_SECTION_HEADER_FIELDS_NOT;
	if (pos != len && !(fields && spec[pos] == ' '))
		return -1;
	out->spec_used = pos;
	return 0;
}

/* dkim_canon.c - the parts of DKIM (RFC 6376) shared by signer and verifier:
 * header field splitting, canonicalization (3.4: simple and relaxed, header
 * and body, with the l= body length limit), tag=value lists (3.2) and the
 * From: domain. Pure functions on bytes; bare LF line ends are accepted as
 * CRLF. Field counts are bounded by the caller's array. */
#include <string.h>

#include "lib/mem.h"
#include "lib/str.h"
#include "mail/dkim_private.h"

static bool is_wsp(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* End of the line starting at p: index just after its LF (or len). */
static size_t line_end(const unsigned char *p, size_t i, size_t len)
{
	const unsigned char *lf = memchr(p + i, '\n', len - i);

	return lf != NULL ? (size_t)(lf - p) + 1 : len;
}

size_t dkim_fields(const unsigned char *msg, size_t len, struct dkim_field *out, size_t max,
		   size_t *body_off_r)
{
	size_t i = 0, n = 0;

	while (i < len) {
		size_t start = i, e, name;

		if (msg[i] == '\n' || (msg[i] == '\r' && i + 1 < len && msg[i + 1] == '\n')) {
			i += msg[i] == '\r' ? 2 : 1;
			break;	/* the empty line: body follows */
		}
		e = line_end(msg, i, len);
		while (e < len && is_wsp(msg[e]))
			e = line_end(msg, e, len);
		for (name = start; name < e && msg[name] != ':'; name++)
			;
		if (name < e) {
			while (name > start && is_wsp(msg[name - 1]))
				name--;
		} else {
			name = start;	/* no colon: a field without a name */
		}
		if (n < max) {
			out[n].start = msg + start;
			out[n].len = e - start;
			out[n].name_len = name - start;
		}
		n++;
		i = e;
	}
	*body_off_r = i;
	return n < max ? n : max;
}

bool dkim_field_is(const struct dkim_field *f, const char *name)
{
	size_t n = strlen(name);

	return f->name_len == n && str_casestarts((const char *)f->start, f->len, name);
}

char *dkim_field_value(const struct dkim_field *f)
{
	const unsigned char *p = memchr(f->start, ':', f->len);
	size_t i, o = 0, len;
	char *v;
	bool sp = false;

	if (p == NULL)
		return xstrdup("");
	i = (size_t)(p - f->start) + 1;
	len = f->len;
	v = xmalloc(len - i + 1);
	for (; i < len; i++) {
		unsigned char c = f->start[i];
		if (c == '\r' || c == '\n')
			continue;
		if (is_wsp(c)) {
			sp = o > 0;
			continue;
		}
		if (sp)
			v[o++] = ' ';
		sp = false;
		v[o++] = (char)c;
	}
	v[o] = '\0';
	return v;
}

int dkim_from_domain(const char *v, char *out, size_t outsize)
{
	const char *lt = NULL, *at = NULL, *end;
	int depth = 0;
	bool quoted = false;

	/* The first angle-addr, or the first bare addr-spec, outside quoted
	 * strings and comments. XXX: group syntax and several From: mailboxes
	 * take the first address only. */
	for (const char *p = v; *p != '\0'; p++) {
		if (*p == '\\' && p[1] != '\0') {
			p++;
			continue;
		}
		if (quoted) {
			quoted = *p != '"';
			continue;
		}
		if (*p == '"') {
			quoted = true;
		} else if (*p == '(') {
			depth++;
		} else if (*p == ')' && depth > 0) {
			depth--;
		} else if (depth > 0) {
			continue;
		} else if (*p == '<') {
			lt = p;
			at = NULL;	/* the address is inside the brackets */
		} else if (*p == '>' && lt != NULL) {
			break;
		} else if (*p == '@') {
			at = p;
		} else if (*p == ',' && at != NULL) {
			break;
		}
	}
	if (at == NULL)
		return -1;
	at++;
	for (end = at; *end != '\0' && *end != '>' && *end != ' ' && *end != '(' && *end != ',' &&
	     *end != ';'; end++)
		;
	if (end == at || (size_t)(end - at) >= outsize)
		return -1;
	memcpy(out, at, (size_t)(end - at));
	out[end - at] = '\0';
	str_lower(out);
	if (out[end - at - 1] == '.')
		out[end - at - 1] = '\0';
	return out[0] != '\0' ? 0 : -1;
}

int dkim_canon_header(struct buf *b, const unsigned char *f, size_t len, bool relaxed)
{
	const unsigned char *colon;
	size_t name, i;
	bool sp = false, any = false;

	if (!relaxed) {
		if (len >= 2 && f[len - 2] == '\r')
			return buf_append(b, f, len);
		if (len >= 1 && f[len - 1] == '\n')
			return buf_append(b, f, len - 1) < 0 ? -1 : buf_append(b, "\r\n", 2);
		return buf_append(b, f, len) < 0 ? -1 : buf_append(b, "\r\n", 2);
	}
	colon = memchr(f, ':', len);
	if (colon == NULL)
		return 0;
	name = (size_t)(colon - f);
	while (name > 0 && is_wsp(f[name - 1]))
		name--;
	for (i = 0; i < name; i++) {
		unsigned char c = f[i];
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c + 32);
		if (buf_append(b, &c, 1) < 0)
			return -1;
	}
	if (buf_append(b, ":", 1) < 0)
		return -1;
	for (i = (size_t)(colon - f) + 1; i < len; i++) {
		unsigned char c = f[i];
		if (c == '\r' || c == '\n')
			continue;
		if (is_wsp(c)) {
			sp = any;
			continue;
		}
		if (sp && buf_append(b, " ", 1) < 0)
			return -1;
		sp = false;
		any = true;
		if (buf_append(b, &c, 1) < 0)
			return -1;
	}
	return buf_append(b, "\r\n", 2);
}

struct body_out {
	EVP_MD_CTX *md;
	uint64_t left;
};

static int body_emit(struct body_out *o, const void *p, size_t n)
{
	if ((uint64_t)n > o->left)
		n = (size_t)o->left;
	o->left -= n;
	return n == 0 || EVP_DigestUpdate(o->md, p, n) == 1 ? 0 : -1;
}

int dkim_canon_body(EVP_MD_CTX *md, const unsigned char *body, size_t len, bool relaxed,
		    uint64_t limit)
{
	struct body_out o = { md, limit };
	size_t i = 0, empties = 0;
	bool any = false;

	while (i < len) {
		size_t e = line_end(body, i, len), stop = e;
		bool empty;

		if (stop > i && body[stop - 1] == '\n')
			stop--;
		if (stop > i && body[stop - 1] == '\r')
			stop--;
		if (relaxed)
			while (stop > i && is_wsp(body[stop - 1]))
				stop--;
		empty = stop == i;
		if (empty) {
			empties++;
			i = e;
			continue;
		}
		for (; empties > 0; empties--)
			if (body_emit(&o, "\r\n", 2) < 0)
				return -1;
		if (relaxed) {
			size_t j = i;
			while (j < stop) {
				size_t k = j;
				if (is_wsp(body[j])) {
					while (j < stop && is_wsp(body[j]))
						j++;
					if (body_emit(&o, " ", 1) < 0)
						return -1;
					continue;
				}
				while (k < stop && !is_wsp(body[k]))
					k++;
				if (body_emit(&o, body + j, k - j) < 0)
					return -1;
				j = k;
			}
		} else if (body_emit(&o, body + i, stop - i) < 0) {
			return -1;
		}
		if (body_emit(&o, "\r\n", 2) < 0)
			return -1;
		any = true;
		i = e;
	}
	if (!any && !relaxed)
		return body_emit(&o, "\r\n", 2);	/* 3.4.3: an empty body is one CRLF */
	return 0;
}

static char *trim(char *s, char **end_r)
{
	char *e;

	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		e--;
	*e = '\0';
	*end_r = e;
	return s;
}

int dkim_tags_parse(char *s, struct dkim_tags *out)
{
	out->n = 0;
	while (s != NULL && *s != '\0') {
		char *semi = strchr(s, ';'), *eq, *name, *val, *end;

		if (semi != NULL)
			*semi = '\0';
		eq = strchr(s, '=');
		if (eq == NULL) {
			name = trim(s, &end);
			if (*name != '\0')
				return -1;
			s = semi != NULL ? semi + 1 : NULL;
			continue;	/* an empty element (a final ';') */
		}
		*eq = '\0';
		name = trim(s, &end);
		val = trim(eq + 1, &end);
		if (*name == '\0' || strlen(name) >= sizeof(out->t[0].name) || out->n == DKIM_TAGS_MAX)
			return -1;
		if (dkim_tag(out, name) != NULL)
			return -1;	/* 3.2: a duplicate tag is an error */
		str_lcpy(out->t[out->n].name, name, sizeof(out->t[0].name));
		out->t[out->n].val = val;
		out->t[out->n].len = (size_t)(end - val);
		out->n++;
		s = semi != NULL ? semi + 1 : NULL;
	}
	return 0;
}

const char *dkim_tag(const struct dkim_tags *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->t[i].name, name) == 0)
			return t->t[i].val;
	return NULL;
}

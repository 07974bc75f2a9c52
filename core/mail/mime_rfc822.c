/* mime_rfc822.c - the lexer under the MIME parser and the IMAP renderer:
 * RFC 5322 3.2 CFWS, atoms (8-bit bytes count as atext, as real mail has
 * them), dot-atoms (obsolete spaces around dots accepted), quoted strings
 * (quoted-pairs resolved, folding removed), phrases, domains; RFC 2045 5.1
 * tokens and parameters; RFC 2231 continuations (name*0, name*1...) joined
 * in index order, extended values kept raw under "name*". At most
 * LIMIT_MIME_PARAMS parameters per header; the rest are dropped. */
#include "mail/mime_private.h"

#include <string.h>

#include "lib/str.h"
#include "mail/mime.h"

void mime_lex_init(struct mime_lex *lx, const unsigned char *p, size_t len, struct buf *comment)
{
	lx->p = p;
	lx->end = p + len;
	lx->comment = comment;
}

static bool is_wsp(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool mime_lex_is_atext(unsigned char c)
{
	if (c >= 0x80)
		return true;
	if (c <= 0x20 || c == 0x7f)
		return false;
	return strchr("()<>[]:;@\\,.\"", c) == NULL;
}

static bool is_token(unsigned char c)
{
	if (c >= 0x80)
		return true;
	if (c <= 0x20 || c == 0x7f)
		return false;
	return strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

static int skip_comment(struct mime_lex *lx)
{
	unsigned level = 1;

	if (lx->comment != NULL)
		buf_reset(lx->comment);
	for (lx->p++; lx->p < lx->end; lx->p++) {
		unsigned char c = *lx->p;
		if (c == '\\') {
			if (lx->p + 1 >= lx->end)
				break;
			lx->p++;
			c = *lx->p;
		} else if (c == '(') {
			level++;
		} else if (c == ')') {
			if (--level == 0) {
				lx->p++;
				return 0;
			}
		} else if (c == '\r' || c == '\n') {
			continue;
		}
		if (lx->comment != NULL)
			(void)buf_append(lx->comment, &c, 1);
	}
	return -1;
}

int mime_lex_skip(struct mime_lex *lx)
{
	for (;;) {
		while (lx->p < lx->end && is_wsp(*lx->p))
			lx->p++;
		if (lx->p >= lx->end)
			return 0;
		if (*lx->p != '(')
			return 1;
		if (skip_comment(lx) < 0)
			return -1;
	}
}

int mime_lex_atom(struct mime_lex *lx, struct buf *out)
{
	const unsigned char *s = lx->p;

	while (lx->p < lx->end && mime_lex_is_atext(*lx->p))
		lx->p++;
	if (lx->p == s)
		return -1;
	(void)buf_append(out, s, (size_t)(lx->p - s));
	return mime_lex_skip(lx);
}

int mime_lex_dot_atom(struct mime_lex *lx, struct buf *out)
{
	int ret = mime_lex_atom(lx, out);

	while (ret > 0 && *lx->p == '.') {
		(void)buf_append(out, ".", 1);
		lx->p++;
		if ((ret = mime_lex_skip(lx)) <= 0)
			return ret;
		if (!mime_lex_is_atext(*lx->p))
			return ret;
		ret = mime_lex_atom(lx, out);
	}
	return ret;
}

int mime_lex_quoted(struct mime_lex *lx, struct buf *out)
{
	if (lx->p >= lx->end || *lx->p != '"')
		return -1;
	for (lx->p++; lx->p < lx->end; lx->p++) {
		unsigned char c = *lx->p;
		if (c == '"') {
			lx->p++;
			return mime_lex_skip(lx);
		}
		if (c == '\r' || c == '\n')
			continue;
		if (c == '\\') {
			if (lx->p + 1 >= lx->end)
				break;
			c = *++lx->p;
		}
		(void)buf_append(out, &c, 1);
	}
	return -1;
}

int mime_lex_phrase(struct mime_lex *lx, struct buf *out)
{
	bool any = false;
	int ret;

	if (lx->p >= lx->end)
		return 0;
	if (*lx->p == '.')
		return -1;
	while (lx->p < lx->end) {
		unsigned char c = *lx->p;
		if (c == '"') {
			if (any)
				(void)buf_append(out, " ", 1);
			ret = mime_lex_quoted(lx, out);
		} else if (mime_lex_is_atext(c)) {
			if (any)
				(void)buf_append(out, " ", 1);
			ret = mime_lex_atom(lx, out);
		} else if (c == '.') {
			/* obs-phrase */
			(void)buf_append(out, ".", 1);
			lx->p++;
			ret = mime_lex_skip(lx);
		} else {
			break;
		}
		any = true;
		if (ret <= 0)
			return ret;
	}
	return lx->p < lx->end ? 1 : 0;
}

int mime_lex_domain(struct mime_lex *lx, struct buf *out)
{
	int ret;

	lx->p++;	/* '@' */
	if ((ret = mime_lex_skip(lx)) <= 0)
		return ret == 0 ? -1 : ret;
	if (*lx->p != '[')
		return mime_lex_dot_atom(lx, out);
	const unsigned char *s = lx->p;
	for (; lx->p < lx->end; lx->p++) {
		if (*lx->p == '\\' && lx->p + 1 < lx->end) {
			lx->p++;
		} else if (*lx->p == ']') {
			lx->p++;
			for (const unsigned char *q = s; q < lx->p; q++) {
				if (*q != '\r' && *q != '\n')
					(void)buf_append(out, q, 1);
			}
			return mime_lex_skip(lx);
		}
	}
	return -1;
}

int mime_lex_token(struct mime_lex *lx, struct buf *out)
{
	const unsigned char *s = lx->p;

	while (lx->p < lx->end && is_token(*lx->p))
		lx->p++;
	(void)buf_append(out, s, (size_t)(lx->p - s));
	return mime_lex_skip(lx);
}

/* --- parameters --- */

void mime_params_init(struct mime_params *pr)
{
	buf_init(&pr->data, LIMIT_MIME_HEADER_SIZE * 2);
	pr->count = 0;
}

void mime_params_free(struct mime_params *pr)
{
	buf_free(&pr->data);
	pr->count = 0;
}

const char *mime_params_get(const struct mime_params *pr, const char *name)
{
	for (unsigned i = 0; i < pr->count; i++) {
		if (str_caseeq(mime_param_name(pr, i), name))
			return mime_param_value(pr, i);
	}
	return NULL;
}

static void params_add(struct mime_params *pr, const void *n, size_t nlen, const void *v,
		       size_t vlen)
{
	if (pr->count >= LIMIT_MIME_PARAMS)
		return;
	size_t noff = buf_len(&pr->data);
	if (buf_append(&pr->data, n, nlen) < 0 || buf_append(&pr->data, "", 1) < 0)
		return;
	size_t voff = buf_len(&pr->data);
	if (buf_append(&pr->data, v, vlen) < 0 || buf_append(&pr->data, "", 1) < 0)
		return;
	pr->name[pr->count] = noff;
	pr->value[pr->count] = voff;
	pr->count++;
}

/* A raw "name*<digits>[*]" continuation: base length, index, extended. */
static bool continuation(const char *name, size_t *base_r, unsigned *idx_r, bool *ext_r)
{
	const char *star = strchr(name, '*');
	if (star == NULL || star == name || star[1] < '0' || star[1] > '9')
		return false;
	const char *d = star + 1;
	unsigned idx = 0;
	for (; *d >= '0' && *d <= '9'; d++) {
		if (idx > 100000)
			return false;
		idx = idx * 10 + (unsigned)(*d - '0');
	}
	if (*d == '*' && d[1] == '\0')
		*ext_r = true;
	else if (*d == '\0')
		*ext_r = false;
	else
		return false;
	*base_r = (size_t)(star - name);
	*idx_r = idx;
	return true;
}

/* Plain parameters first, in order, then each continued parameter once
 * (joined in index order up to the first missing index).
 * XXX: extended segments are joined raw (charset'lang' prefix and %XX kept),
 * and a mix of extended and plain segments is named by segment 0 only. */
static void params_join(struct mime_params *out, const struct mime_params *raw)
{
	bool done[LIMIT_MIME_PARAMS] = { false };
	size_t base;
	unsigned idx;
	bool ext;

	for (unsigned i = 0; i < raw->count; i++) {
		const char *n = mime_param_name(raw, i);
		if (!continuation(n, &base, &idx, &ext)) {
			const char *v = mime_param_value(raw, i);
			params_add(out, n, strlen(n), v, strlen(v));
			done[i] = true;
		}
	}
	for (unsigned i = 0; i < raw->count; i++) {
		if (done[i])
			continue;
		const char *n = mime_param_name(raw, i);
		size_t blen;
		bool first_ext = false;
		(void)continuation(n, &blen, &idx, &ext);
		struct buf val;
		buf_init(&val, LIMIT_MIME_HEADER_SIZE);
		for (unsigned want = 0;; want++) {
			bool found = false;
			for (unsigned j = i; j < raw->count; j++) {
				const char *m = mime_param_name(raw, j);
				if (done[j] || !continuation(m, &base, &idx, &ext) || base != blen ||
				    strncmp(m, n, blen) != 0 || idx != want)
					continue;
				if (want == 0)
					first_ext = ext;
				const char *v = mime_param_value(raw, j);
				(void)buf_append(&val, v, strlen(v));
				done[j] = true;
				found = true;
				break;
			}
			if (!found)
				break;
		}
		/* Segments left over (a gap in the indexes) are dropped. */
		for (unsigned j = i; j < raw->count; j++) {
			const char *m = mime_param_name(raw, j);
			if (!done[j] && continuation(m, &base, &idx, &ext) && base == blen &&
			    strncmp(m, n, blen) == 0)
				done[j] = true;
		}
		char key[256];
		size_t klen = blen < sizeof(key) - 2 ? blen : sizeof(key) - 2;
		memcpy(key, n, klen);
		if (first_ext)
			key[klen++] = '*';
		params_add(out, key, klen, buf_data(&val), buf_len(&val));
		buf_free(&val);
	}
}

/* ";" name "=" (token / quoted-string), repeated; stops at junk. */
static void params_parse(struct mime_lex *lx, struct mime_params *out)
{
	struct mime_params raw;
	struct buf name, value;

	mime_params_init(&raw);
	buf_init(&name, LIMIT_MIME_HEADER_SIZE);
	buf_init(&value, LIMIT_MIME_HEADER_SIZE);
	while (lx->p < lx->end && *lx->p == ';') {
		lx->p++;
		buf_reset(&name);
		buf_reset(&value);
		if (mime_lex_skip(lx) <= 0)
			break;
		int ret = mime_lex_token(lx, &name);
		if (ret <= 0 || buf_len(&name) == 0 || *lx->p != '=')
			break;
		lx->p++;
		if (mime_lex_skip(lx) < 0)
			break;
		if (lx->p < lx->end && *lx->p == '"')
			ret = mime_lex_quoted(lx, &value);
		else
			ret = mime_lex_token(lx, &value);
		if (ret < 0)
			break;
		params_add(&raw, buf_data(&name), buf_len(&name), buf_data(&value),
			   buf_len(&value));
	}
	params_join(out, &raw);
	buf_free(&name);
	buf_free(&value);
	mime_params_free(&raw);
}

void mime_ctype_init(struct mime_ctype *ct)
{
	buf_init(&ct->type, LIMIT_MIME_HEADER_SIZE + 1);
	buf_init(&ct->subtype, LIMIT_MIME_HEADER_SIZE + 1);
	ct->has_subtype = false;
	mime_params_init(&ct->params);
}

void mime_ctype_free(struct mime_ctype *ct)
{
	buf_free(&ct->type);
	buf_free(&ct->subtype);
	mime_params_free(&ct->params);
}

static void nul_terminate(struct buf *b)
{
	unsigned char *p = buf_reserve(b, 1);
	if (p != NULL)
		*p = '\0';
}

void mime_ctype_parse(struct mime_ctype *ct, const unsigned char *v, size_t len, bool disposition)
{
	struct mime_lex lx;
	int ret;

	buf_reset(&ct->type);
	buf_reset(&ct->subtype);
	ct->has_subtype = false;
	ct->params.count = 0;
	buf_reset(&ct->params.data);
	mime_lex_init(&lx, v, len, NULL);
	ret = mime_lex_skip(&lx);
	if (ret > 0)
		ret = mime_lex_token(&lx, &ct->type);
	if (!disposition && ret > 0 && *lx.p == '/') {
		lx.p++;
		ct->has_subtype = true;
		if (mime_lex_skip(&lx) > 0)
			ret = mime_lex_token(&lx, &ct->subtype);
		else
			ret = -1;
	} else if (!disposition) {
		ret = -1;	/* no subtype: the parameters are not read */
	}
	nul_terminate(&ct->type);
	nul_terminate(&ct->subtype);
	if (ret > 0)
		params_parse(&lx, &ct->params);
}

int mime_header_find(const unsigned char *msg, size_t off, size_t len, const char *name,
		     size_t *val_off, size_t *val_len)
{
	size_t pos = off, noff, nlen, voff, vlen, want = strlen(name);

	while (mime_header_next(msg, &pos, off + len, &noff, &nlen, &voff, &vlen) > 0) {
		if (nlen == want && str_casestarts((const char *)msg + noff, nlen, name)) {
			*val_off = voff;
			*val_len = vlen;
			return 1;
		}
	}
	return 0;
}

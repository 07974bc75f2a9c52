/* mime_decode.c - base64 and quoted-printable bodies (RFC 2045 6.7, 6.8),
 * RFC 2047 encoded words (B and Q, RFC 2231 language suffix ignored),
 * charset conversion to UTF-8 with iconv, and the decoded header and
 * text/ * body text the IMAP search index stores (mime_search_text). All
 * output is appended to capped bufs: at the cap the text is truncated
 * (LIMIT_SEARCH_HEADER_TEXT / LIMIT_SEARCH_BODY_TEXT for the index). */
#include "mail/mime_decode.h"

#include <errno.h>
#include <iconv.h>
#include <string.h>
#include <strings.h>

#include "lib/base64.h"
#include "mail/mime_private.h"

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int mime_decode_qp(const unsigned char *in, size_t len, bool header, struct buf *out)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = in[i];

		if (c == '=' && i + 2 < len + 0 && hexval(in[i + 1]) >= 0 && hexval(in[i + 2]) >= 0) {
			unsigned char v = (unsigned char)(hexval(in[i + 1]) * 16 + hexval(in[i + 2]));

			if (buf_append(out, &v, 1) < 0)
				return -1;
			i += 3;
			continue;
		}
		if (c == '=' && !header) {
			/* soft line break: "=" blanks CRLF (or LF) */
			size_t j = i + 1;

			while (j < len && (in[j] == ' ' || in[j] == '\t'))
				j++;
			if (j < len && in[j] == '\r')
				j++;
			if (j < len && in[j] == '\n') {
				i = j + 1;
				continue;
			}
			if (j >= len) {
				i = len;
				continue;
			}
		}
		if (c == '_' && header)
			c = ' ';
		if (buf_append(out, &c, 1) < 0)
			return -1;
		i++;
	}
	return 0;
}

int mime_decode_base64(const unsigned char *in, size_t len, struct buf *out)
{
	uint32_t acc = 0;
	int bits = 0;

	for (size_t i = 0; i < len && in[i] != '='; i++) {
		int d = base64_digit(in[i], '+', '/');

		if (d < 0)
			continue;
		acc = (acc << 6) | (uint32_t)d;
		bits += 6;
		if (bits >= 8) {
			unsigned char b;

			bits -= 8;
			b = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
			if (buf_append(out, &b, 1) < 0)
				return -1;
		}
	}
	return 0;
}

int mime_decode_body(const unsigned char *in, size_t len, enum mime_enc enc, struct buf *out)
{
	if (enc == MIME_ENC_BASE64)
		return mime_decode_base64(in, len, out);
	if (enc == MIME_ENC_QP)
		return mime_decode_qp(in, len, false, out);
	return buf_append(out, in, len);
}

/* Length of the valid UTF-8 sequence at p (1-4), or 0. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	size_t need;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		need = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		need = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		need = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (n < need)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((need == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (need == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return need;
}

static bool utf8_valid(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t k = utf8_seq(p + i, n - i);

		if (k == 0)
			return false;
		i += k;
	}
	return true;
}

/* Appends valid UTF-8 input, NUL as space; invalid bytes as U+FFFD. */
static int put_utf8(const unsigned char *p, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n;) {
		size_t k = utf8_seq(p + i, n - i);

		if (k == 0) {
			if (buf_append(out, "\xef\xbf\xbd", 3) < 0)
				return -1;
			i++;
			continue;
		}
		if (buf_append(out, p[i] == 0 ? (const unsigned char *)" " : p + i, k) < 0)
			return -1;
		i += k;
	}
	return 0;
}

static int put_latin1(const unsigned char *p, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char u[2];

		if (p[i] < 0x80) {
			if (buf_append(out, p[i] == 0 ? (const unsigned char *)" " : p + i, 1) < 0)
				return -1;
			continue;
		}
		u[0] = (unsigned char)(0xc0 | (p[i] >> 6));
		u[1] = (unsigned char)(0x80 | (p[i] & 0x3f));
		if (buf_append(out, u, 2) < 0)
			return -1;
	}
	return 0;
}

int mime_charset_to_utf8(const char *charset, const unsigned char *in, size_t len,
			 struct buf *out)
{
	iconv_t cd;
	char *ip = (char *)(uintptr_t)in;
	size_t il = len;
	int rc = 0;

	if (charset != NULL && (strcasecmp(charset, "utf-8") == 0 || strcasecmp(charset, "utf8") == 0))
		return put_utf8(in, len, out);
	if (charset == NULL || charset[0] == '\0' || strcasecmp(charset, "us-ascii") == 0 ||
	    strcasecmp(charset, "ascii") == 0)
		return utf8_valid(in, len) ? put_utf8(in, len, out) : put_latin1(in, len, out);
	cd = iconv_open("UTF-8", charset);
	if (cd == (iconv_t)-1)
		return utf8_valid(in, len) ? put_utf8(in, len, out) : put_latin1(in, len, out);
	while (il > 0 && rc == 0) {
		char tmp[1024], *op = tmp;
		size_t ol = sizeof(tmp);
		size_t r = iconv(cd, &ip, &il, &op, &ol);
		int e = errno;

		/* iconv's output is UTF-8 already; put_utf8 maps NUL to space */
		if (put_utf8((const unsigned char *)tmp, (size_t)(op - tmp), out) < 0)
			rc = -1;
		else if (r == (size_t)-1 && e != E2BIG) {
			/* EILSEQ / EINVAL: skip one byte */
			if (buf_append(out, "\xef\xbf\xbd", 3) < 0)
				rc = -1;
			ip++;
			il--;
		}
	}
	iconv_close(cd);
	return rc;
}

/* "=?charset?X?text?=" at v[i..n): sets the parts and returns its length,
 * or 0 when it is not an encoded word. */
static size_t encoded_word(const unsigned char *v, size_t i, size_t n, size_t *cs, size_t *csl,
			   char *enc, size_t *tx, size_t *txl)
{
	size_t j, q1, q2;

	if (i + 8 > n || v[i] != '=' || v[i + 1] != '?')
		return 0;
	for (j = i + 2; j < n && v[j] != '?' && v[j] > ' ' && j - i < 80; j++)
		;
	if (j >= n || v[j] != '?' || j == i + 2)
		return 0;
	q1 = j;
	if (q1 + 3 >= n || v[q1 + 2] != '?')
		return 0;
	*enc = (char)(v[q1 + 1] | 0x20);
	if (*enc != 'b' && *enc != 'q')
		return 0;
	for (q2 = q1 + 3; q2 + 1 < n && !(v[q2] == '?' && v[q2 + 1] == '='); q2++)
		if (v[q2] == ' ' || v[q2] == '\t' || v[q2] == '\r' || v[q2] == '\n')
			return 0;
	if (q2 + 1 >= n)
		return 0;
	*cs = i + 2;
	*csl = q1 - (i + 2);
	*tx = q1 + 3;
	*txl = q2 - (q1 + 3);
	return q2 + 2 - i;
}

static bool is_blank(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Flushes raw header bytes (no declared charset) as UTF-8. */
static int flush_raw(struct buf *raw, struct buf *out)
{
	int rc = mime_charset_to_utf8(NULL, buf_data(raw), buf_len(raw), out);

	buf_reset(raw);
	return rc;
}

/* Decodes the encoded words that make up v[i..e) exactly; -1 when the word
 * is not only encoded words (nothing appended then), -2 when out is full. */
static int encoded_run(const unsigned char *v, size_t i, size_t e, struct buf *out)
{
	size_t p = i;

	while (p < e) {
		size_t cs = 0, csl = 0, tx = 0, txl = 0;
		size_t w = encoded_word(v, p, e, &cs, &csl, &(char){ 0 }, &tx, &txl);

		if (w == 0)
			return -1;
		p += w;
	}
	for (p = i; p < e;) {
		size_t cs, csl, tx, txl, k;
		char enc = 0, charset[64], *star;
		size_t w = encoded_word(v, p, e, &cs, &csl, &enc, &tx, &txl);
		struct buf tmp;
		int rc;

		k = csl < sizeof(charset) - 1 ? csl : sizeof(charset) - 1;
		memcpy(charset, v + cs, k);
		charset[k] = '\0';
		if ((star = strchr(charset, '*')) != NULL)
			*star = '\0';	/* RFC 2231 language */
		buf_init(&tmp, txl + 4);
		if (enc == 'b')
			mime_decode_base64(v + tx, txl, &tmp);
		else
			mime_decode_qp(v + tx, txl, true, &tmp);
		rc = mime_charset_to_utf8(charset, buf_data(&tmp), buf_len(&tmp), out);
		buf_free(&tmp);
		if (rc < 0)
			return -2;
		p += w;
	}
	return 0;
}

int mime_decode_header(const unsigned char *v, size_t len, struct buf *out)
{
	struct buf raw;
	size_t i = 0, ws = 0, ws_len = 0;
	bool prev_encoded = false, any = false;
	int rc = 0;

	buf_init(&raw, len + 1);
	while (i < len && rc == 0) {
		size_t e = i;

		if (is_blank(v[i])) {
			ws = i;
			while (i < len && is_blank(v[i]))
				i++;
			ws_len = i - ws;
			continue;
		}
		while (e < len && !is_blank(v[e]))
			e++;
		if (v[i] == '=' && e - i >= 8 && v[e - 1] == '=' && v[e - 2] == '?') {
			if (any && ws_len > 0 && !prev_encoded)
				buf_append(&raw, " ", 1);
			if (flush_raw(&raw, out) < 0)
				rc = -1;
			else {
				int r = encoded_run(v, i, e, out);

				if (r == -2)
					rc = -1;
				if (r == 0) {
					prev_encoded = true;
					any = true;
					ws_len = 0;
					i = e;
					continue;
				}
				if (any && ws_len > 0 && prev_encoded)
					buf_append(&raw, " ", 1);
			}
		} else if (any && ws_len > 0) {
			buf_append(&raw, " ", 1);
		}
		buf_append(&raw, v + i, e - i);
		prev_encoded = false;
		any = true;
		ws_len = 0;
		i = e;
	}
	if (rc == 0 && flush_raw(&raw, out) < 0)
		rc = -1;
	buf_free(&raw);
	return rc;
}

/* The charset parameter of a part's Content-Type into cs ("" if none);
 * whether its subtype is html. */
static bool part_charset(const unsigned char *msg, const struct mime_part *p, char *cs, size_t n)
{
	struct mime_ctype ct;
	size_t vo, vl;
	const char *v;
	bool html;

	cs[0] = '\0';
	if (mime_header_find(msg, p->hdr_off, p->hdr_len, "Content-Type", &vo, &vl) != 1)
		return false;
	mime_ctype_init(&ct);
	mime_ctype_parse(&ct, msg + vo, vl, false);
	html = ct.has_subtype && strcasecmp((const char *)buf_data(&ct.subtype), "html") == 0;
	v = mime_params_get(&ct.params, "charset");
	if (v != NULL && strlen(v) < n)
		memcpy(cs, v, strlen(v) + 1);
	mime_ctype_free(&ct);
	return html;
}

/* Appends code point cp as UTF-8 (a bad one as U+FFFD). */
static int put_cp(uint32_t cp, struct buf *out)
{
	unsigned char u[4];
	size_t n;

	if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		cp = 0xfffd;
	if (cp < 0x80) {
		u[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (unsigned char)(0xc0 | (cp >> 6));
		u[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (unsigned char)(0xe0 | (cp >> 12));
		u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (unsigned char)(0xf0 | (cp >> 18));
		u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return buf_append(out, u, n);
}

/* The text of UTF-8 HTML: tags become a blank, the content of <style>
 * and <script> goes, character references are resolved (numeric ones and
 * the five common names). Returns 0 or -1 (out full).
 * XXX: comments and CDATA are treated as tags; other named references are
 * kept as written. */
int mime_html_text(const unsigned char *in, size_t len, struct buf *out)
{
	static const struct {
		const char *name;
		uint32_t cp;
	} names[] = { { "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' },
		      { "nbsp", 0xa0 }, { "apos", '\'' } };
	const char *skip_to = NULL;

	for (size_t i = 0; i < len;) {
		if (in[i] == '<') {
			size_t e = i + 1;

			while (e < len && in[e] != '>')
				e++;
			if (skip_to != NULL) {
				if (e - i - 1 >= strlen(skip_to) &&
				    strncasecmp((const char *)in + i + 1, skip_to, strlen(skip_to)) == 0)
					skip_to = NULL;
			} else if (e - i >= 6 && strncasecmp((const char *)in + i + 1, "style", 5) == 0) {
				skip_to = "/style";
			} else if (e - i >= 7 && strncasecmp((const char *)in + i + 1, "script", 6) == 0) {
				skip_to = "/script";
			}
			if (skip_to == NULL && buf_len(out) > 0 && buf_append(out, " ", 1) < 0)
				return -1;
			i = e < len ? e + 1 : len;
			continue;
		}
		if (skip_to != NULL) {
			i++;
			continue;
		}
		if (in[i] == '&') {
			size_t e = i + 1;
			uint32_t cp = 0;
			bool ok = false;

			while (e < len && e - i < 12 && in[e] != ';' && in[e] != '&' && in[e] != '<')
				e++;
			if (e < len && in[e] == ';' && e > i + 2 && in[i + 1] == '#') {
				bool hex = (in[i + 2] | 0x20) == 'x';

				ok = e > i + 2 + hex;
				for (size_t k = i + 2 + hex; k < e && ok; k++) {
					int d = hexval(in[k]);

					if (d < 0 || (!hex && d > 9) || cp > 0x10ffff)
						ok = false;
					else
						cp = cp * (hex ? 16 : 10) + (uint32_t)d;
				}
			} else if (e < len && in[e] == ';') {
				for (size_t k = 0; k < sizeof(names) / sizeof(names[0]) && !ok; k++)
					if (e - i - 1 == strlen(names[k].name) &&
					    strncmp((const char *)in + i + 1, names[k].name, e - i - 1) == 0) {
						cp = names[k].cp;
						ok = true;
					}
			}
			if (ok) {
				if (put_cp(cp, out) < 0)
					return -1;
				i = e + 1;
				continue;
			}
		}
		{
			/* a whole UTF-8 sequence at a time: a cap never cuts one */
			size_t k = in[i] < 0xc0 ? 1 : in[i] >= 0xf0 ? 4 : in[i] >= 0xe0 ? 3 : 2;

			if (k > len - i)
				k = len - i;
			if (buf_append(out, &in[i], k) < 0)
				return -1;
			i += k;
		}
	}
	return 0;
}

void mime_search_text(const struct mime_tree *tree, const unsigned char *msg, size_t len,
		      struct buf *hdr, struct buf *body)
{
	const struct mime_part *root = &tree->parts[0];
	size_t pos = root->hdr_off, end = root->hdr_off + root->hdr_len;
	size_t no, nl, vo, vl;

	if (tree->msg_len != len)
		return;
	while (mime_header_next(msg, &pos, end, &no, &nl, &vo, &vl) == 1) {
		if (mime_charset_to_utf8(NULL, msg + no, nl, hdr) < 0 || buf_append_str(hdr, ": ") < 0 ||
		    mime_decode_header(msg + vo, vl, hdr) < 0 || buf_append_str(hdr, "\n") < 0)
			break;
	}
	for (uint32_t i = 0; i < tree->count; i++) {
		const struct mime_part *p = &tree->parts[i];
		struct buf raw;
		char cs[64];
		bool html;
		int rc;

		if (p->kind != MIME_KIND_TEXT || buf_room(body) == 0)
			continue;
		html = part_charset(msg, p, cs, sizeof(cs));
		/* decoded text is never longer than its encoding */
		buf_init(&raw, p->body_len + 1);
		mime_decode_body(msg + p->body_off, p->body_len, (enum mime_enc)p->enc, &raw);
		if (buf_len(body) > 0)
			buf_append_str(body, "\n");
		if (html) {
			/* UTF-8 first (iconv may grow it), then the text */
			struct buf u;

			buf_init(&u, buf_len(&raw) * 4 + 16);
			mime_charset_to_utf8(cs, buf_data(&raw), buf_len(&raw), &u);
			rc = mime_html_text(buf_data(&u), buf_len(&u), body);
			buf_free(&u);
		} else
			rc = mime_charset_to_utf8(cs, buf_data(&raw), buf_len(&raw), body);
		buf_free(&raw);
		if (rc < 0)
			break;
	}
}

static const char *const month_names[12] = { "jan", "feb", "mar", "apr", "may", "jun",
					     "jul", "aug", "sep", "oct", "nov", "dec" };

/* Next token of a date: a run of digits, a run of letters, or one sign. */
static size_t date_token(const unsigned char *v, size_t len, size_t *pos, size_t *start)
{
	size_t p = *pos;
	int depth = 0;

	while (p < len) {
		if (v[p] == '(')
			depth++;
		else if (v[p] == ')' && depth > 0)
			depth--;
		else if (depth == 0 && !(is_blank(v[p]) || v[p] == ',' || v[p] == ':'))
			break;
		p++;
	}
	*start = p;
	if (p < len && (v[p] == '+' || v[p] == '-'))
		p++;
	else if (p < len && v[p] >= '0' && v[p] <= '9')
		while (p < len && v[p] >= '0' && v[p] <= '9')
			p++;
	else
		while (p < len && ((v[p] | 0x20) >= 'a' && (v[p] | 0x20) <= 'z'))
			p++;
	if (p == *start && p < len)
		p++;	/* an odd byte: a token of its own */
	*pos = p;
	return p - *start;
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int64_t num_of(const unsigned char *v, size_t n)
{
	int64_t x = 0;

	for (size_t i = 0; i < n && i < 9; i++)
		x = x * 10 + (v[i] - '0');
	return x;
}

int mime_date_parse(const unsigned char *v, size_t len, int64_t *unix_r, int64_t *day_r)
{
	size_t pos = 0, st, n;
	int64_t nums[3], tm[3] = { 0, 0, 0 }, zone = 0;
	int nn = 0, nt = 0, mon = -1, sign = 0;

	while ((n = date_token(v, len, &pos, &st)) > 0) {
		unsigned char c = v[st];

		if (c >= '0' && c <= '9') {
			if (sign != 0) {
				int64_t z = num_of(v + st, n);

				zone = sign * ((z / 100) * 3600 + (z % 100) * 60);
				sign = 0;
			} else if (mon >= 0 && nn >= 2 && nt < 3)
				tm[nt++] = num_of(v + st, n);
			else if (nn < 3)
				nums[nn++] = num_of(v + st, n);
		} else if (c == '+' || c == '-') {
			sign = mon >= 0 && nn >= 2 ? (c == '+' ? 1 : -1) : 0;
		} else if (n == 3 && mon < 0) {
			for (int i = 0; i < 12; i++)
				if (strncasecmp((const char *)v + st, month_names[i], 3) == 0)
					mon = i + 1;
		}
	}
	if (mon < 0 || nn < 2 || nums[0] < 1 || nums[0] > 31)
		return -1;
	if (nums[1] < 50)
		nums[1] += 2000;	/* RFC 5322 4.3 two-digit years */
	else if (nums[1] < 1000)
		nums[1] += 1900;
	if (nums[1] > 9999 || tm[0] > 23 || tm[1] > 59 || tm[2] > 60)
		return -1;
	*day_r = days_from_civil(nums[1], mon, (int)nums[0]);
	*unix_r = *day_r * 86400 + tm[0] * 3600 + tm[1] * 60 + tm[2] - zone;
	return 0;
}

/* The lower case of a capital among the scripts mime_utf8_fold knows, or
 * cp itself. */
static uint32_t fold_cp(uint32_t cp)
{
	if ((cp >= 0xc0 && cp <= 0xde && cp != 0xd7) || (cp >= 0x391 && cp <= 0x3a9 && cp != 0x3a2) ||
	    (cp >= 0x410 && cp <= 0x42f))
		return cp + 0x20;
	if (cp >= 0x400 && cp <= 0x40f)
		return cp + 0x50;
	if (((cp >= 0x100 && cp <= 0x137) || (cp >= 0x14a && cp <= 0x177)) && cp % 2 == 0 &&
	    cp != 0x130)
		return cp + 1;
	if (((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17e)) && cp % 2 == 1)
		return cp + 1;
	if (cp == 0x178)
		return 0xff;
	return cp;
}

void mime_utf8_fold(char *s, size_t len)
{
	unsigned char *p = (unsigned char *)s;

	for (size_t i = 0; i < len; i++) {
		uint32_t cp, lc;

		if (p[i] >= 'A' && p[i] <= 'Z') {
			p[i] = (unsigned char)(p[i] + 32);
			continue;
		}
		if (p[i] < 0xc2 || p[i] > 0xdf || i + 1 >= len || (p[i + 1] & 0xc0) != 0x80)
			continue;	/* only 2-byte sequences change */
		cp = ((uint32_t)(p[i] & 0x1f) << 6) | (p[i + 1] & 0x3f);
		lc = fold_cp(cp);
		/* every mapping above stays within 2-byte sequences */
		p[i] = (unsigned char)(0xc0 | (lc >> 6));
		p[i + 1] = (unsigned char)(0x80 | (lc & 0x3f));
		i++;
	}
}

/* authres.c - one Authentication-Results field (RFC 8601 2.2) from SPF
 * (RFC 7208, smtp.mailfrom or smtp.helo), DKIM (RFC 6376, one dkim= per
 * signature, header.d/header.s/header.a) and DMARC (RFC 7489, header.from,
 * with the policy and disposition as a comment); and the removal of
 * Authentication-Results fields carrying our own authserv-id (8601 5).
 * Values are printed as tokens or quoted strings, never raw client text. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/limits.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "mail/authres.h"
#include "mail/dkim_private.h"

/* A domain fit for a header: letters, digits, '-', '.', '_' only. */
static const char *safe_domain(const char *d, char *out, size_t outsize)
{
	size_t o = 0;

	for (size_t i = 0; d[i] != '\0' && o + 1 < outsize; i++) {
		unsigned char c = (unsigned char)d[i];
		if (isalnum(c) || c == '-' || c == '.' || c == '_')
			out[o++] = (char)tolower(c);
	}
	out[o] = '\0';
	return o > 0 ? out : "unknown";
}

char *authres_check(const struct authres_input *in, const unsigned char *msg, size_t len,
		    struct authres_outcome *out)
{
	struct dkim_field *f = xcalloc(LIMIT_DKIM_HEADER_FIELDS, sizeof(*f));
	size_t nf, body_off;
	char from_domain[254] = "", *from = NULL, d1[254], d2[254];
	int nfrom = 0;
	struct buf b;
	char *res;

	memset(out, 0, sizeof(*out));
	nf = dkim_fields(msg, len, f, LIMIT_DKIM_HEADER_FIELDS, &body_off);
	for (size_t i = 0; i < nf; i++)
		if (dkim_field_is(&f[i], "from") && nfrom++ == 0)
			from = dkim_field_value(&f[i]);
	free(f);
	/* RFC 7489 6.6.1: exactly one From: with one domain */
	out->have_from = nfrom == 1 && from != NULL &&
			 dkim_from_domain(from, from_domain, sizeof(from_domain)) == 0;
	free(from);

	spf_check(in->ip, in->helo, in->sender, &out->spf);
	out->n_dkim = dkim_verify(msg, len, out->dkim, LIMIT_DKIM_VERIFY_SIGS, NULL);
	if (out->have_from)
		dmarc_check(from_domain, &out->spf, out->dkim, out->n_dkim, &out->dmarc);

	buf_init(&b, 8192);
	(void)buf_printf(&b, "Authentication-Results: %s;\r\n\tspf=%s",
			 safe_domain(in->hostname, d1, sizeof(d1)),
			 spf_result_name(out->spf.result));
	if (strcmp(out->spf.identity, "helo") == 0)
		(void)buf_printf(&b, " smtp.helo=%s", safe_domain(in->helo, d2, sizeof(d2)));
	else
		(void)buf_printf(&b, " smtp.mailfrom=%s",
				 safe_domain(out->spf.domain, d2, sizeof(d2)));
	if (out->n_dkim == 0)
		(void)buf_append_str(&b, ";\r\n\tdkim=none");
	for (size_t i = 0; i < out->n_dkim; i++) {
		const struct dkim_sig_result *r = &out->dkim[i];
		char sel[64];
		(void)buf_printf(&b, ";\r\n\tdkim=%s", dkim_verdict_name(r->verdict));
		if (r->why[0] != '\0')
			(void)buf_printf(&b, " (%s)", r->why);	/* our own fixed texts */
		if (r->domain[0] != '\0')
			(void)buf_printf(&b, " header.d=%s", safe_domain(r->domain, d2, sizeof(d2)));
		if (r->selector[0] != '\0')
			(void)buf_printf(&b, " header.s=%s", safe_domain(r->selector, sel, sizeof(sel)));
		if (r->alg[0] != '\0' && (strcmp(r->alg, "rsa-sha256") == 0 ||
					  strcmp(r->alg, "ed25519-sha256") == 0))
			(void)buf_printf(&b, " header.a=%s", r->alg);
	}
	if (!out->have_from)
		(void)buf_append_str(&b, ";\r\n\tdmarc=permerror (no single From: domain)");
	else if (out->dmarc.result == DMARC_NONE || out->dmarc.result == DMARC_TEMPERROR ||
		 out->dmarc.result == DMARC_PERMERROR)
		(void)buf_printf(&b, ";\r\n\tdmarc=%s header.from=%s",
				 dmarc_result_name(out->dmarc.result),
				 safe_domain(from_domain, d2, sizeof(d2)));
	else
		(void)buf_printf(&b, ";\r\n\tdmarc=%s (p=%s dis=%s) header.from=%s",
				 dmarc_result_name(out->dmarc.result),
				 dmarc_policy_name(out->dmarc.policy),
				 dmarc_policy_name(out->dmarc.disposition),
				 safe_domain(from_domain, d2, sizeof(d2)));
	(void)buf_append_str(&b, "\r\n");
	res = xstrndup((const char *)buf_data(&b), buf_len(&b));
	buf_free(&b);
	return res;
}

/* The authserv-id of an Authentication-Results value: up to ';' or
 * whitespace, after leading whitespace and comments. */
static bool ours(const struct dkim_field *f, const char *hostname)
{
	char *v = dkim_field_value(f), *p = v, *e;
	bool mine;

	while (*p == '(') {
		char *close = strchr(p, ')');
		if (close == NULL)
			break;
		p = close + 1;
		while (*p == ' ')
			p++;
	}
	for (e = p; *e != '\0' && *e != ';' && *e != ' ' && *e != '('; e++)
		;
	*e = '\0';
	mine = strcasecmp(p, hostname) == 0;
	free(v);
	return mine;
}

int authres_strip(const unsigned char *msg, size_t len, const char *hostname, struct buf *out)
{
	struct dkim_field *f = xcalloc(LIMIT_DKIM_HEADER_FIELDS, sizeof(*f));
	size_t body_off, nf = dkim_fields(msg, len, f, LIMIT_DKIM_HEADER_FIELDS, &body_off);
	size_t at = 0;
	int removed = 0;

	for (size_t i = 0; i < nf; i++)
		if (dkim_field_is(&f[i], "authentication-results") && ours(&f[i], hostname))
			removed++;
	if (removed == 0) {
		free(f);
		return 0;
	}
	for (size_t i = 0; i < nf; i++) {
		if (!dkim_field_is(&f[i], "authentication-results") || !ours(&f[i], hostname))
			continue;
		size_t off = (size_t)(f[i].start - msg);
		if (buf_append(out, msg + at, off - at) < 0) {
			free(f);
			return -1;
		}
		at = off + f[i].len;
	}
	free(f);
	return buf_append(out, msg + at, len - at) < 0 ? -1 : removed;
}

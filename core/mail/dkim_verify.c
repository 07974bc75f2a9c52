/* dkim_verify.c - DKIM verification (RFC 6376 6.1): each DKIM-Signature
 * field (at most LIMIT_DKIM_VERIFY_SIGS, at most LIMIT_DKIM_HEADER_FIELDS
 * fields looked at) is checked on its own: tag syntax (3.5), the key record
 * (3.6.1) fetched with core/dns, the body hash with l= and the signature
 * over the selected fields (5.4.2: bottom-up) and the signature field with
 * its b= value removed. rsa-sha256 (keys of at least 1024 bits, RFC 8301)
 * and ed25519-sha256 (RFC 8463); rsa-sha1 is neutral (RFC 8301). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "config/limits.h"
#include "dns/dns.h"
#include "lib/base64.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/strnum.h"
#include "mail/dkim_private.h"

const char *dkim_verdict_name(enum dkim_verdict v)
{
	static const char *const names[] = { "none", "pass", "fail", "neutral", "temperror",
					     "permerror" };
	return (size_t)v < sizeof(names) / sizeof(names[0]) ? names[v] : "permerror";
}

static int dns_txt(const char *name, char **txt_r)
{
	struct dns_answer *a = NULL;
	enum dns_result r = dns_lookup(name, DNS_T_TXT, &a);
	int rc = 1;

	*txt_r = NULL;
	if (r == DNS_OK && a->n > 0) {
		*txt_r = xstrndup(a->rr[0].u.txt.text, a->rr[0].u.txt.len);
		rc = 0;
	} else if (r == DNS_TEMPFAIL) {
		rc = -1;
	}
	dns_answer_free(&a);
	return rc;
}

/* Base64 with folding whitespace removed, decoded into a malloc'd buffer. */
static unsigned char *b64_loose(const char *s, size_t *len_r)
{
	size_t n = strlen(s), o = 0;
	char *clean = xmalloc(n + 1);
	unsigned char *out;

	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			clean[o++] = s[i];
	clean[o] = '\0';
	out = xmalloc(o / 4 * 3 + 3);
	if (base64_decode(clean, o, out, o / 4 * 3 + 3, len_r) < 0) {
		free(clean);
		free(out);
		return NULL;
	}
	free(clean);
	return out;
}

static void set(struct dkim_sig_result *r, enum dkim_verdict v, const char *why)
{
	r->verdict = v;
	str_lcpy(r->why, why, sizeof(r->why));
}

/* The key of the record txt for algorithm ed (else rsa), or NULL with r set. */
static EVP_PKEY *key_from_record(char *txt, bool ed, struct dkim_sig_result *r)
{
	struct dkim_tags kt;
	const char *v, *k, *p;
	unsigned char *der;
	const unsigned char *dp;
	size_t len;
	EVP_PKEY *pk = NULL;

	if (dkim_tags_parse(txt, &kt) < 0) {
		set(r, DKIM_PERMERROR, "key record syntax");
		return NULL;
	}
	v = dkim_tag(&kt, "v");
	k = dkim_tag(&kt, "k");
	p = dkim_tag(&kt, "p");
	if ((v != NULL && (strcmp(v, "DKIM1") != 0 || strcmp(kt.t[0].name, "v") != 0)) ||
	    p == NULL) {
		set(r, DKIM_PERMERROR, "key record syntax");
		return NULL;
	}
	if (k == NULL)
		k = "rsa";
	if (strcmp(k, ed ? "ed25519" : "rsa") != 0) {
		set(r, DKIM_PERMERROR, "key type does not match a=");
		return NULL;
	}
	if (*p == '\0') {
		set(r, DKIM_PERMERROR, "key revoked");
		return NULL;
	}
	der = b64_loose(p, &len);
	if (der == NULL) {
		set(r, DKIM_PERMERROR, "key not base64");
		return NULL;
	}
	if (ed) {
		if (len == 32)
			pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, der, len);
	} else {
		dp = der;
		pk = d2i_PUBKEY(NULL, &dp, (long)len);
		if (pk == NULL) {
			dp = der;
			pk = d2i_PublicKey(EVP_PKEY_RSA, NULL, &dp, (long)len);
		}
		if (pk != NULL && (!EVP_PKEY_is_a(pk, "RSA") || EVP_PKEY_get_bits(pk) < 1024)) {
			EVP_PKEY_free(pk);
			free(der);
			set(r, DKIM_PERMERROR, "key too short or not RSA");
			return NULL;
		}
	}
	free(der);
	if (pk == NULL)
		set(r, DKIM_PERMERROR, "key unusable");
	return pk;
}

/* The raw signature field with the b= value deleted (6376 3.7). */
static int strip_b(const unsigned char *f, size_t len, struct buf *out)
{
	const unsigned char *colon = memchr(f, ':', len);
	size_t i;

	if (colon == NULL)
		return -1;
	i = (size_t)(colon - f) + 1;
	if (buf_append(out, f, i) < 0)
		return -1;
	while (i < len) {
		size_t t = i, e;
		/* one tag-spec: up to ';' or the end */
		for (e = i; e < len && f[e] != ';'; e++)
			;
		while (t < e && (f[t] == ' ' || f[t] == '\t' || f[t] == '\r' || f[t] == '\n'))
			t++;
		if (t < e && f[t] == 'b') {
			size_t q = t + 1;
			while (q < e && (f[q] == ' ' || f[q] == '\t' || f[q] == '\r' || f[q] == '\n'))
				q++;
			if (q < e && f[q] == '=') {
				if (buf_append(out, f + i, q + 1 - i) < 0)
					return -1;
				/* keep the field's final line break */
				size_t tail = e;
				if (e == len)
					while (tail > q + 1 && (f[tail - 1] == '\r' || f[tail - 1] == '\n'))
						tail--;
				if (buf_append(out, f + tail, e - tail) < 0)
					return -1;
				i = e;
				continue;
			}
		}
		if (buf_append(out, f + i, e - i) < 0)
			return -1;
		i = e;
		if (i < len) {
			if (buf_append(out, ";", 1) < 0)
				return -1;
			i++;
		}
	}
	return 0;
}

static void verify_one(const unsigned char *msg, size_t len, const struct dkim_field *fields,
		       size_t nf, size_t body_off, const struct dkim_field *sigf,
		       struct dkim_sig_result *r, dkim_txt_lookup_fn lookup)
{
	char *val = dkim_field_value(sigf), *hcopy = NULL, *txt = NULL, name[400];
	struct dkim_tags t;
	const char *v, *a, *b, *bh, *d, *h, *s, *c, *l, *x;
	bool ed, hrel = false, brel = false;
	uint64_t limit = UINT64_MAX, xt;
	unsigned char *sig = NULL, *bhv = NULL, calc[32], hash[32];
	size_t siglen, bhlen;
	bool used[LIMIT_DKIM_HEADER_FIELDS] = { false };
	struct buf data, stripped;
	EVP_PKEY *pk = NULL;
	EVP_MD_CTX *ctx = NULL;
	int lr;

	buf_init(&data, LIMIT_MIME_HEADER_SIZE + 64 * 1024);
	buf_init(&stripped, 64 * 1024);
	set(r, DKIM_PERMERROR, "signature syntax");
	if (dkim_tags_parse(val, &t) < 0)
		goto out;
	v = dkim_tag(&t, "v");
	a = dkim_tag(&t, "a");
	b = dkim_tag(&t, "b");
	bh = dkim_tag(&t, "bh");
	d = dkim_tag(&t, "d");
	h = dkim_tag(&t, "h");
	s = dkim_tag(&t, "s");
	c = dkim_tag(&t, "c");
	l = dkim_tag(&t, "l");
	x = dkim_tag(&t, "x");
	if (d != NULL) {
		str_lcpy(r->domain, d, sizeof(r->domain));
		str_lower(r->domain);
	}
	if (s != NULL)
		str_lcpy(r->selector, s, sizeof(r->selector));
	if (a != NULL)
		str_lcpy(r->alg, a, sizeof(r->alg));
	if (v == NULL || strcmp(v, "1") != 0 || a == NULL || b == NULL || bh == NULL || d == NULL ||
	    h == NULL || s == NULL || *d == '\0' || *s == '\0')
		goto out;
	if (strcmp(a, "rsa-sha256") == 0) {
		ed = false;
	} else if (strcmp(a, "ed25519-sha256") == 0) {
		ed = true;
	} else {
		set(r, DKIM_NEUTRAL, "unsupported algorithm");
		goto out;
	}
	if (c != NULL) {
		char hc[16] = "", bc[16] = "simple";
		const char *slash = strchr(c, '/');
		size_t hl = slash != NULL ? (size_t)(slash - c) : strlen(c);
		if (hl >= sizeof(hc) || (slash != NULL && strlen(slash + 1) >= sizeof(bc)))
			goto out;
		memcpy(hc, c, hl);
		hc[hl] = '\0';
		if (slash != NULL)
			str_lcpy(bc, slash + 1, sizeof(bc));
		if ((strcmp(hc, "relaxed") != 0 && strcmp(hc, "simple") != 0) ||
		    (strcmp(bc, "relaxed") != 0 && strcmp(bc, "simple") != 0))
			goto out;
		hrel = strcmp(hc, "relaxed") == 0;
		brel = strcmp(bc, "relaxed") == 0;
	}
	if (l != NULL && strnum_parse(l, UINT64_MAX, &limit) < 0)
		goto out;
	if (x != NULL) {
		if (strnum_parse(x, UINT64_MAX, &xt) < 0)
			goto out;
		if (xt < (uint64_t)time(NULL)) {
			set(r, DKIM_FAIL, "signature expired");
			goto out;
		}
	}
	/* h= must name From: (5.4) */
	hcopy = xstrdup(h);
	{
		bool from = false;
		for (char *save = NULL, *n = strtok_r(hcopy, ":", &save); n != NULL;
		     n = strtok_r(NULL, ":", &save)) {
			char *e;
			while (*n == ' ')
				n++;
			e = n + strlen(n);
			while (e > n && e[-1] == ' ')
				*--e = '\0';
			from = from || str_caseeq(n, "from");
		}
		if (!from)
			goto out;
	}
	/* the key */
	if (str_fmt(name, sizeof(name), "%s._domainkey.%s", s, d) < 0)
		goto out;
	lr = (lookup != NULL ? lookup : dns_txt)(name, &txt);
	if (lr < 0) {
		set(r, DKIM_TEMPERROR, "key lookup failed");
		goto out;
	}
	if (lr > 0) {
		set(r, DKIM_PERMERROR, "no key");
		goto out;
	}
	if (strlen(txt) > LIMIT_DNS_TXT)
		goto out;
	pk = key_from_record(txt, ed, r);
	if (pk == NULL)
		goto out;
	/* body hash */
	bhv = b64_loose(bh, &bhlen);
	ctx = EVP_MD_CTX_new();
	if (bhv == NULL || bhlen != 32 || ctx == NULL)
		goto out;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    dkim_canon_body(ctx, msg + body_off, len - body_off, brel, limit) < 0 ||
	    EVP_DigestFinal_ex(ctx, calc, NULL) != 1) {
		set(r, DKIM_TEMPERROR, "hashing failed");
		goto out;
	}
	if (memcmp(calc, bhv, 32) != 0) {
		set(r, DKIM_FAIL, "body hash mismatch");
		goto out;
	}
	/* header hash input */
	free(hcopy);
	hcopy = xstrdup(h);
	for (char *save = NULL, *n = strtok_r(hcopy, ":", &save); n != NULL;
	     n = strtok_r(NULL, ":", &save)) {
		char *e;
		while (*n == ' ')
			n++;
		e = n + strlen(n);
		while (e > n && e[-1] == ' ')
			*--e = '\0';
		for (size_t i = nf; i-- > 0;) {
			if (used[i] || !dkim_field_is(&fields[i], n))
				continue;
			used[i] = true;
			if (dkim_canon_header(&data, fields[i].start, fields[i].len, hrel) < 0)
				goto out;
			break;
		}	/* a name without an unused field contributes nothing */
	}
	if (strip_b(sigf->start, sigf->len, &stripped) < 0 ||
	    dkim_canon_header(&data, buf_data(&stripped), buf_len(&stripped), hrel) < 0)
		goto out;
	/* without the final CRLF of the signature field */
	size_t dlen = buf_len(&data);
	if (dlen >= 2 && buf_data(&data)[dlen - 2] == '\r')
		dlen -= 2;
	sig = b64_loose(b, &siglen);
	if (sig == NULL)
		goto out;
	EVP_MD_CTX_reset(ctx);
	bool ok;
	if (ed) {
		ok = EVP_Digest(buf_data(&data), dlen, hash, NULL, EVP_sha256(), NULL) == 1 &&
		     EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk) == 1 &&
		     EVP_DigestVerify(ctx, sig, siglen, hash, sizeof(hash)) == 1;
	} else {
		ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pk) == 1 &&
		     EVP_DigestVerify(ctx, sig, siglen, buf_data(&data), dlen) == 1;
	}
	if (ok)
		set(r, DKIM_PASS, "");
	else
		set(r, DKIM_FAIL, "signature did not verify");
out:
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pk);
	free(sig);
	free(bhv);
	free(txt);
	free(hcopy);
	free(val);
	buf_free(&data);
	buf_free(&stripped);
}

size_t dkim_verify(const unsigned char *msg, size_t len, struct dkim_sig_result *results,
		   size_t max, dkim_txt_lookup_fn lookup)
{
	struct dkim_field *f = xcalloc(LIMIT_DKIM_HEADER_FIELDS, sizeof(*f));
	size_t body_off, nf = dkim_fields(msg, len, f, LIMIT_DKIM_HEADER_FIELDS, &body_off), n = 0;

	if (max > LIMIT_DKIM_VERIFY_SIGS)
		max = LIMIT_DKIM_VERIFY_SIGS;
	for (size_t i = 0; i < nf && n < max; i++) {
		if (!dkim_field_is(&f[i], "dkim-signature"))
			continue;
		memset(&results[n], 0, sizeof(results[n]));
		verify_one(msg, len, f, nf, body_off, &f[i], &results[n], lookup);
		n++;
	}
	free(f);
	return n;
}

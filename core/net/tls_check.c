/* tls_check.c - validation of an uploaded certificate chain + private key
 * with OpenSSL 3 before anything is stored: sizes (LIMIT_CERT_PEM,
 * LIMIT_CERT_KEY_PEM, LIMIT_CERT_CHAIN), PEM syntax, chain order (RFC 8446
 * 4.4.2 / RFC 5246 7.4.2: the sender's certificate first, each following
 * one certifying the one before), validity dates, key match, and the DNS
 * names (subjectAltName only: RFC 6125 6.4.4 lets clients ignore the CN,
 * and browsers do).
 * Encrypted keys are refused without prompting. Every refusal is one
 * sentence for a person, naming what to fix. */
#include "net/tls_check.h"

#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "config/limits.h"
#include "lib/str.h"

/* Never prompts for a passphrase: an encrypted key simply fails to load. */
static int tls_check_no_pass(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

static int tls_check_fail(char *msg, size_t msgsize, const char *text)
{
	str_lcpy(msg, text, msgsize);
	ERR_clear_error();
	return -1;
}

static long long tls_check_time(const ASN1_TIME *t)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (long long)timegm(&tm);
}

static void tls_check_date(char *out, size_t size, long long t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(out, size, "%Y-%m-%d %H:%M UTC", &tm) == 0)
		str_lcpy(out, "?", size);
}

static void tls_check_name_text(X509_NAME *n, char *out, size_t size)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long len;

	out[0] = '\0';
	if (b == NULL)
		return;
	if (X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
		len = BIO_get_mem_data(b, &data);
		if (len > 0)
			(void)str_printable(out, size, data, (size_t)len);
	}
	BIO_free(b);
}

/* Adds one DNS name when it is printable and fits. */
static void tls_check_add_name(struct tls_check_info *info, const unsigned char *s, int len)
{
	char *dst;

	if (len <= 0 || len >= TLS_CHECK_NAME || info->n_names >= TLS_CHECK_NAMES)
		return;
	for (int i = 0; i < len; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return;
	dst = info->names[info->n_names++];
	memcpy(dst, s, (size_t)len);
	dst[len] = '\0';
	str_lower(dst);
}

static void tls_check_fill(X509 *x, struct tls_check_info *info)
{
	GENERAL_NAMES *san = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);

	info->n_names = 0;
	for (int i = 0; san != NULL && i < sk_GENERAL_NAME_num(san); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(san, i);
		if (g->type == GEN_DNS)
			tls_check_add_name(info, ASN1_STRING_get0_data(g->d.dNSName),
					   ASN1_STRING_length(g->d.dNSName));
	}
	GENERAL_NAMES_free(san);
	tls_check_name_text(X509_get_subject_name(x), info->subject, sizeof(info->subject));
	tls_check_name_text(X509_get_issuer_name(x), info->issuer, sizeof(info->issuer));
	info->not_before = tls_check_time(X509_get0_notBefore(x));
	info->not_after = tls_check_time(X509_get0_notAfter(x));
	/* not X509_check_issued(): it also wants keyCertSign, which a
	 * self-signed server certificate rightly lacks */
	info->self_signed = X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0 &&
			    X509_verify(x, X509_get0_pubkey(x)) == 1;
}

/* Parses every certificate of pem (at most LIMIT_CERT_CHAIN + 1 kept to
 * detect too many). Returns the count, -1 on a broken PEM block. */
static int tls_check_read_chain(const char *pem, X509 **chain, int max)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	int n = 0;

	if (b == NULL)
		return -1;
	while (n < max) {
		X509 *x = PEM_read_bio_X509(b, NULL, tls_check_no_pass, NULL);
		if (x == NULL) {
			unsigned long e = ERR_peek_last_error();
			/* the normal end: no further BEGIN line */
			if (ERR_GET_REASON(e) != PEM_R_NO_START_LINE && e != 0)
				n = n > 0 ? -1 - n : -1;
			break;
		}
		chain[n++] = x;
	}
	ERR_clear_error();
	BIO_free(b);
	return n;
}

int tls_check_info(const char *cert_pem, struct tls_check_info *info, char *msg, size_t msgsize)
{
	BIO *b = BIO_new_mem_buf(cert_pem, -1);
	X509 *x = b != NULL ? PEM_read_bio_X509(b, NULL, tls_check_no_pass, NULL) : NULL;

	memset(info, 0, sizeof(*info));
	BIO_free(b);
	if (x == NULL)
		return tls_check_fail(msg, msgsize, "the stored certificate cannot be read");
	tls_check_fill(x, info);
	info->chain_len = 1;
	X509_free(x);
	ERR_clear_error();
	return 0;
}

/* Checks the chain's order and dates. 0 or -1 with msg. */
static int tls_check_chain(X509 **chain, int n, time_t now, char *msg, size_t msgsize)
{
	char date[40];

	for (int i = 0; i < n; i++) {
		long long nb = tls_check_time(X509_get0_notBefore(chain[i]));
		long long na = tls_check_time(X509_get0_notAfter(chain[i]));
		const char *which = i == 0 ? "the certificate" : "a chain certificate";
		if (na <= (long long)now) {
			tls_check_date(date, sizeof(date), na);
			(void)str_fmt(msg, msgsize, "%s expired on %s (certificate %d of %d)", which,
				      date, i + 1, n);
			return -1;
		}
		if (nb > (long long)now) {
			tls_check_date(date, sizeof(date), nb);
			(void)str_fmt(msg, msgsize, "%s is not valid before %s (certificate %d of %d)",
				      which, date, i + 1, n);
			return -1;
		}
		if (i + 1 < n && X509_check_issued(chain[i + 1], chain[i]) != X509_V_OK) {
			(void)str_fmt(msg, msgsize, "certificate %d did not issue certificate %d: "
				      "put the server certificate first, then each issuer in order",
				      i + 2, i + 1);
			return -1;
		}
	}
	return 0;
}

int tls_check_pair(const char *cert_pem, const char *key_pem, time_t now,
		   struct tls_check_info *info, const char **field_r, char *msg, size_t msgsize)
{
	X509 *chain[LIMIT_CERT_CHAIN + 1];
	EVP_PKEY *key = NULL;
	BIO *kb = NULL;
	int n, rc = -1;

	memset(info, 0, sizeof(*info));
	*field_r = "cert_pem";
	if (strlen(cert_pem) > LIMIT_CERT_PEM) {
		(void)str_fmt(msg, msgsize, "the certificate chain is larger than %d bytes",
			      LIMIT_CERT_PEM);
		return -1;
	}
	if (strstr(cert_pem, "PRIVATE KEY-----") != NULL)
		return tls_check_fail(msg, msgsize, "the certificate field holds a private key; "
				      "paste the key into the key field");
	n = tls_check_read_chain(cert_pem, chain, LIMIT_CERT_CHAIN + 1);
	if (n < -1) {
		for (int i = 0; i < -1 - n; i++)
			X509_free(chain[i]);
		n = -1;
	}
	if (n < 0)
		return tls_check_fail(msg, msgsize, "a certificate in the PEM text is damaged "
				      "(check that each BEGIN/END block was copied whole)");
	if (n == 0)
		return tls_check_fail(msg, msgsize, "no certificate found: paste PEM text starting "
				      "with -----BEGIN CERTIFICATE-----");
	if (n > LIMIT_CERT_CHAIN) {
		(void)str_fmt(msg, msgsize, "the chain has more than %d certificates",
			      LIMIT_CERT_CHAIN);
		goto out;
	}
	if (tls_check_chain(chain, n, now, msg, msgsize) < 0)
		goto out;
	tls_check_fill(chain[0], info);
	info->chain_len = (size_t)n;
	if (info->n_names == 0) {
		str_lcpy(msg, "the certificate names no host (no DNS subjectAltName; clients "
			 "ignore the common name)", msgsize);
		goto out;
	}
	*field_r = "key_pem";
	if (strlen(key_pem) > LIMIT_CERT_KEY_PEM) {
		(void)str_fmt(msg, msgsize, "the private key is larger than %d bytes",
			      LIMIT_CERT_KEY_PEM);
		goto out;
	}
	if (strstr(key_pem, "ENCRYPTED") != NULL) {
		str_lcpy(msg, "the private key is encrypted; remove the passphrase first "
			 "(openssl pkey -in key.pem -out plain.pem)", msgsize);
		goto out;
	}
	kb = BIO_new_mem_buf(key_pem, -1);
	key = kb != NULL ? PEM_read_bio_PrivateKey(kb, NULL, tls_check_no_pass, NULL) : NULL;
	if (key == NULL) {
		str_lcpy(msg, "no private key found: paste PEM text starting with "
			 "-----BEGIN PRIVATE KEY-----", msgsize);
		goto out;
	}
	if (X509_check_private_key(chain[0], key) != 1) {
		str_lcpy(msg, "the private key does not match the certificate", msgsize);
		goto out;
	}
	rc = 0;
out:
	ERR_clear_error();
	EVP_PKEY_free(key);
	BIO_free(kb);
	for (int i = 0; i < n; i++)
		X509_free(chain[i]);
	return rc;
}

bool tls_check_covers(const struct tls_check_info *info, const char *host)
{
	const char *dot = strchr(host, '.');

	for (size_t i = 0; i < info->n_names; i++) {
		const char *p = info->names[i];
		if (str_caseeq(p, host))
			return true;
		/* "*.example.com" covers "a.example.com" only; a wildcard
		 * hostname is covered by the same wildcard (above) */
		if (p[0] == '*' && p[1] == '.' && host[0] != '*' && dot != NULL && dot != host &&
		    str_caseeq(p + 1, dot))
			return true;
	}
	return false;
}

bool tls_check_hostname(const char *host, char *out)
{
	size_t len = strlen(host), label = 0;
	const char *s = host;

	if (len == 0 || len >= TLS_CHECK_NAME || len > 253)
		return false;
	if (s[0] == '*') {
		if (s[1] != '.')
			return false;
		s += 2;
	}
	if (*s == '\0')
		return false;
	for (const char *p = s;; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || p[-1] == '-')
				return false;
			if (c == '\0')
				break;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      (c == '-' && label > 0)))
			return false;
		label++;
	}
	str_lcpy(out, host, TLS_CHECK_NAME);
	str_lower(out);
	return true;
}

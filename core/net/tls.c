/* tls.c - OpenSSL 3 server contexts. TLS 1.2 minimum with Mozilla's
 * "intermediate" cipher list (TLS 1.3 suites stay OpenSSL's defaults), no
 * renegotiation (RFC 5746 issues), no compression (CRIME), session tickets
 * on. One SSL_CTX per certificate; the SNI callback (RFC 6066 section 3)
 * switches a handshake to the context whose hostnames match exactly or by a
 * one-label wildcard. tls_load() builds a whole new set and swaps it in:
 * live connections hold a reference to their SSL_CTX, so the old contexts
 * live as long as they do. Loop thread only. */
#include "net/tls.h"

#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"

#define TLS_CIPHERS_12                                                                      \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                         \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                         \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"                         \
	"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384"

struct tls_entry {
	SSL_CTX *ctx;
	char **hostnames;	/* lower-case */
	size_t n_hostnames;
};

struct tls_set {
	struct tls_entry *entries;	/* [0] is the default */
	size_t n;
};

static struct tls_set *tls_current;
static char tls_errbuf[256];

/* The last OpenSSL error as text (and the queue cleared). */
static const char *tls_ssl_error(void)
{
	unsigned long e = ERR_peek_last_error();
	if (e == 0)
		str_lcpy(tls_errbuf, "unknown error", sizeof(tls_errbuf));
	else
		ERR_error_string_n(e, tls_errbuf, sizeof(tls_errbuf));
	ERR_clear_error();
	return tls_errbuf;
}

int tls_init(void)
{
	if (OPENSSL_init_ssl(0, NULL) != 1) {
		log_error("tls", "OpenSSL init failed: %s", tls_ssl_error());
		return -1;
	}
	return 0;
}

static void tls_set_free(struct tls_set *set)
{
	if (set == NULL)
		return;
	for (size_t i = 0; i < set->n; i++) {
		SSL_CTX_free(set->entries[i].ctx);
		for (size_t k = 0; k < set->entries[i].n_hostnames; k++)
			free(set->entries[i].hostnames[k]);
		free(set->entries[i].hostnames);
	}
	free(set->entries);
	free(set);
}

/* "*.example.com" matches "a.example.com", not "example.com" nor "a.b.example.com". */
static bool tls_name_matches(const char *pattern, const char *name)
{
	if (str_caseeq(pattern, name))
		return true;
	if (pattern[0] != '*' || pattern[1] != '.')
		return false;
	const char *dot = strchr(name, '.');
	if (dot == NULL || dot == name)
		return false;
	return str_caseeq(pattern + 1, dot);
}

static SSL_CTX *tls_find(const struct tls_set *set, const char *name)
{
	/* Exact names win over wildcards, whatever the order. */
	for (int wild = 0; wild < 2; wild++) {
		for (size_t i = 0; i < set->n; i++) {
			const struct tls_entry *e = &set->entries[i];
			for (size_t k = 0; k < e->n_hostnames; k++) {
				bool is_wild = e->hostnames[k][0] == '*';
				if (is_wild != (wild == 1))
					continue;
				if (is_wild ? tls_name_matches(e->hostnames[k], name)
					    : str_caseeq(e->hostnames[k], name))
					return e->ctx;
			}
		}
	}
	return NULL;
}

static int tls_servername_cb(SSL *ssl, int *alert, void *arg)
{
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	if (name == NULL || tls_current == NULL)
		return SSL_TLSEXT_ERR_OK;
	SSL_CTX *ctx = tls_find(tls_current, name);
	if (ctx != NULL && ctx != SSL_get_SSL_CTX(ssl))
		SSL_set_SSL_CTX(ssl, ctx);
	return SSL_TLSEXT_ERR_OK; /* no match: the default certificate */
}

static SSL_CTX *tls_ctx_new(void)
{
	static const unsigned char sid_ctx[] = "postern";
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* IGNORE_UNEXPECTED_EOF: mail clients often close without close_notify;
	 * every protocol here frames its own data, so truncation is harmless. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
					 SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				      SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS_12) != 1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_dh_auto(ctx, 1);
	SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
	SSL_CTX_sess_set_cache_size(ctx, 4096);
	SSL_CTX_set_tlsext_servername_callback(ctx, tls_servername_cb);
	return ctx;
}

/* Loads leaf + chain + key from PEM into ctx. 0 or -1 with *error_r. */
static int tls_ctx_load_pem(SSL_CTX *ctx, const struct tls_cert_pem *pem, const char **error_r)
{
	int rc = -1;
	X509 *leaf = NULL;
	EVP_PKEY *key = NULL;
	BIO *b = BIO_new_mem_buf(pem->cert_pem, -1);
	BIO *kb = BIO_new_mem_buf(pem->key_pem, -1);

	if (b == NULL || kb == NULL) {
		*error_r = "out of memory";
		goto out;
	}
	leaf = PEM_read_bio_X509_AUX(b, NULL, NULL, NULL);
	if (leaf == NULL || SSL_CTX_use_certificate(ctx, leaf) != 1) {
		*error_r = "certificate: bad PEM";
		goto out;
	}
	for (;;) {
		X509 *ca = PEM_read_bio_X509(b, NULL, NULL, NULL);
		if (ca == NULL)
			break;
		if (SSL_CTX_add0_chain_cert(ctx, ca) != 1) {
			X509_free(ca);
			*error_r = "chain certificate refused";
			goto out;
		}
	}
	ERR_clear_error(); /* the loop ends on "no start line" */
	key = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL);
	if (key == NULL) {
		*error_r = "private key: bad PEM";
		goto out;
	}
	if (SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		*error_r = "private key does not match the certificate";
		goto out;
	}
	rc = 0;
out:
	if (rc < 0)
		ERR_clear_error();
	X509_free(leaf);
	EVP_PKEY_free(key);
	BIO_free(b);
	BIO_free(kb);
	return rc;
}

/* DNS names of the certificate's subjectAltName, when no hostnames were given. */
static void tls_names_from_cert(SSL_CTX *ctx, struct tls_entry *e)
{
	X509 *x = SSL_CTX_get0_certificate(ctx);
	GENERAL_NAMES *names = x ? X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL) : NULL;
	if (names == NULL)
		return;
	int n = sk_GENERAL_NAME_num(names);
	e->hostnames = xcalloc((size_t)n + 1, sizeof(char *));
	for (int i = 0; i < n; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		if (g->type != GEN_DNS)
			continue;
		const unsigned char *s = ASN1_STRING_get0_data(g->d.dNSName);
		int len = ASN1_STRING_length(g->d.dNSName);
		if (len <= 0 || len > 255 || memchr(s, '\0', (size_t)len) != NULL)
			continue;
		char *h = xstrndup((const char *)s, (size_t)len);
		str_lower(h);
		e->hostnames[e->n_hostnames++] = h;
	}
	GENERAL_NAMES_free(names);
}

/* XXX: every reload rebuilds every context, even when the PEMs did not
 * change, which resets the server-side session cache. */
int tls_load(const struct tls_cert_pem *certs, size_t n, const char **error_r)
{
	struct tls_set *set = xcalloc(1, sizeof(*set));
	const char *last_err = "no certificate";

	set->entries = xcalloc(n ? n : 1, sizeof(*set->entries));
	for (size_t i = 0; i < n; i++) {
		const char *err = NULL;
		const char *first = certs[i].n_hostnames ? certs[i].hostnames[0] : "(no name)";
		SSL_CTX *ctx = tls_ctx_new();
		if (ctx == NULL) {
			last_err = tls_ssl_error();
			continue;
		}
		if (certs[i].cert_pem == NULL || certs[i].key_pem == NULL ||
		    tls_ctx_load_pem(ctx, &certs[i], &err) < 0) {
			char p[128];
			str_printable(p, sizeof(p), first, strlen(first));
			log_warn("tls", "certificate for %s not loaded: %s", p,
				 err ? err : "missing PEM");
			last_err = err ? err : "missing PEM";
			SSL_CTX_free(ctx);
			continue;
		}
		struct tls_entry *e = &set->entries[set->n++];
		e->ctx = ctx;
		if (certs[i].n_hostnames > 0) {
			e->hostnames = xcalloc(certs[i].n_hostnames, sizeof(char *));
			for (size_t k = 0; k < certs[i].n_hostnames; k++) {
				e->hostnames[k] = xstrdup(certs[i].hostnames[k]);
				str_lower(e->hostnames[k]);
			}
			e->n_hostnames = certs[i].n_hostnames;
		} else {
			tls_names_from_cert(ctx, e);
		}
	}
	if (set->n == 0) {
		tls_set_free(set);
		str_fmt(tls_errbuf, sizeof(tls_errbuf), "no usable certificate (%s)", last_err);
		*error_r = tls_errbuf;
		return -1;
	}
	tls_set_free(tls_current);
	tls_current = set;
	log_info("tls", "%zu certificate(s) loaded, default %s", set->n,
		 set->entries[0].n_hostnames ? set->entries[0].hostnames[0] : "(no name)");
	return 0;
}

SSL_CTX *tls_server_ctx(void)
{
	return tls_current ? tls_current->entries[0].ctx : NULL;
}

/* --- self-signed certificates --- */

static int tls_add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX v3;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (ext == NULL)
		return -1;
	int r = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return r == 1 ? 0 : -1;
}

static char *tls_bio_string(BIO *b)
{
	char *data;
	long len = BIO_get_mem_data(b, &data);
	if (len <= 0)
		return NULL;
	return xstrndup(data, (size_t)len);
}

int tls_generate_selfsigned(const char *hostname, int days, char **cert_pem_r, char **key_pem_r)
{
	int rc = -1;
	X509 *x = NULL;
	BIGNUM *bn = NULL;
	BIO *cb = NULL, *kb = NULL;
	char san[300];
	unsigned char serial[16];
	EVP_PKEY *key = EVP_EC_gen("P-256");

	*cert_pem_r = *key_pem_r = NULL;
	if (key == NULL || days <= 0 || str_fmt(san, sizeof(san), "DNS:%s", hostname) < 0)
		goto out;
	x = X509_new();
	if (x == NULL || X509_set_version(x, 2) != 1)
		goto out;
	if (RAND_bytes(serial, sizeof(serial)) != 1)
		goto out;
	serial[0] &= 0x7f; /* positive */
	serial[0] |= 0x01; /* and not shorter than it looks */
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (bn == NULL || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		goto out;
	if (X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400L) == NULL)
		goto out;
	X509_NAME *name = X509_get_subject_name(x);
	if (strlen(hostname) <= 64 &&
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)hostname,
				       -1, -1, 0) != 1)
		goto out;
	if (X509_set_issuer_name(x, name) != 1 || X509_set_pubkey(x, key) != 1)
		goto out;
	if (tls_add_ext(x, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    tls_add_ext(x, NID_key_usage, "critical,digitalSignature") < 0 ||
	    tls_add_ext(x, NID_ext_key_usage, "serverAuth") < 0 ||
	    tls_add_ext(x, NID_subject_key_identifier, "hash") < 0 ||
	    tls_add_ext(x, NID_subject_alt_name, san) < 0)
		goto out;
	if (X509_sign(x, key, EVP_sha256()) <= 0)
		goto out;
	cb = BIO_new(BIO_s_mem());
	kb = BIO_new(BIO_s_mem());
	if (cb == NULL || kb == NULL || PEM_write_bio_X509(cb, x) != 1 ||
	    PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) != 1)
		goto out;
	*cert_pem_r = tls_bio_string(cb);
	*key_pem_r = tls_bio_string(kb);
	if (*cert_pem_r == NULL || *key_pem_r == NULL) {
		xfree(*cert_pem_r);
		xfree(*key_pem_r);
		goto out;
	}
	rc = 0;
out:
	if (rc < 0)
		log_error("tls", "cannot generate a self-signed certificate: %s", tls_ssl_error());
	BIO_free(cb);
	if (kb != NULL) {
		char *data;
		long len = BIO_get_mem_data(kb, &data);
		if (len > 0)
			OPENSSL_cleanse(data, (size_t)len);
		BIO_free(kb);
	}
	BN_free(bn);
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}

int tls_cert_not_after(const char *cert_pem, long long *not_after_r)
{
	BIO *b = BIO_new_mem_buf(cert_pem, -1);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	struct tm tm;
	int rc = -1;

	if (x != NULL && ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1) {
		*not_after_r = (long long)timegm(&tm);
		rc = 0;
	}
	ERR_clear_error();
	X509_free(x);
	BIO_free(b);
	return rc;
}

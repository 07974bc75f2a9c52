/* dkim.c - DKIM signing (RFC 6376 5, relaxed/relaxed; rsa-sha256 and
 * ed25519-sha256 per RFC 8463 3), key generation, and the per-domain cache
 * of unsealed signing keys used by the outbound queue runners
 * (LIMIT_DKIM_KEY_CACHE domains for LIMIT_DKIM_KEY_CACHE_S seconds, at most
 * LIMIT_DKIM_KEYS_PER_DOMAIN keys each). The From: field is signed once
 * more than it occurs (6376 8.15) so no From: can be added later. */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "auth/seal.h"
#include "config/limits.h"
#include "db/db.h"
#include "lib/base64.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "mail/dkim_private.h"

/* Fields signed when present (6376 5.4.1's list, plus MIME and list ones). */
static const char *const dkim_signed[] = {
	"from", "reply-to", "subject", "date", "to", "cc", "message-id", "in-reply-to",
	"references", "mime-version", "content-type", "content-transfer-encoding",
	"content-disposition", "list-id", "list-unsubscribe", "list-unsubscribe-post",
	"sender", "resent-from", "resent-date", "resent-to", "resent-cc", "resent-message-id",
};

#define DKIM_NSIGNED (sizeof(dkim_signed) / sizeof(dkim_signed[0]))
#define DKIM_FOLD 72

const char *dkim_alg_keytype(enum dkim_alg alg)
{
	return alg == DKIM_ALG_ED25519 ? "ed25519" : "rsa";
}

static int b64_of(const unsigned char *p, size_t n, char **out_r)
{
	*out_r = xmalloc(BASE64_ENCODED_SIZE(n));
	base64_encode(p, n, *out_r);
	return 0;
}

int dkim_keygen(enum dkim_alg alg, char **private_pem_r, char **public_b64_r)
{
	EVP_PKEY *pk = alg == DKIM_ALG_ED25519 ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")
					       : EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	BIO *bio = NULL;
	unsigned char *der = NULL, raw[32];
	size_t rawlen = sizeof(raw);
	char *mem;
	long n;
	int derlen, rc = -1;

	*private_pem_r = *public_b64_r = NULL;
	if (pk == NULL)
		return -1;
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL || PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL) != 1)
		goto out;
	n = BIO_get_mem_data(bio, &mem);
	if (n <= 0)
		goto out;
	*private_pem_r = xstrndup(mem, (size_t)n);
	if (alg == DKIM_ALG_ED25519) {
		if (EVP_PKEY_get_raw_public_key(pk, raw, &rawlen) != 1)
			goto out;
		b64_of(raw, rawlen, public_b64_r);
	} else {
		derlen = i2d_PUBKEY(pk, &der);
		if (derlen <= 0)
			goto out;
		b64_of(der, (size_t)derlen, public_b64_r);
	}
	rc = 0;
out:
	if (rc < 0)
		xfree(*private_pem_r);
	OPENSSL_free(der);
	BIO_free(bio);
	EVP_PKEY_free(pk);
	return rc;
}

static EVP_PKEY *pkey_from_pem(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *pk;

	if (bio == NULL)
		return NULL;
	pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	return pk;
}

/* Appends s to b, breaking the line before s when the current line would
 * pass DKIM_FOLD (*col tracks the column). */
static int fold_append(struct buf *b, size_t *col, const char *s, size_t n)
{
	if (*col + n > DKIM_FOLD && *col > 1) {
		if (buf_append(b, "\r\n\t", 3) < 0)
			return -1;
		*col = 1;
	}
	*col += n;
	return buf_append(b, s, n);
}

static int sign_raw(EVP_PKEY *pk, const unsigned char *data, size_t len, unsigned char *sig,
		    size_t *siglen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char hash[32];
	int ok;

	if (ctx == NULL)
		return -1;
	if (EVP_PKEY_is_a(pk, "ED25519")) {
		/* RFC 8463 3: Ed25519 over the SHA-256 hash of the header data */
		ok = EVP_Digest(data, len, hash, NULL, EVP_sha256(), NULL) == 1 &&
		     EVP_DigestSignInit(ctx, NULL, NULL, NULL, pk) == 1 &&
		     EVP_DigestSign(ctx, sig, siglen, hash, sizeof(hash)) == 1;
	} else {
		ok = EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pk) == 1 &&
		     EVP_DigestSign(ctx, sig, siglen, data, len) == 1;
	}
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

static int body_hash(const unsigned char *body, size_t len, bool relaxed, uint64_t limit,
		     unsigned char out[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok;

	if (md == NULL)
		return -1;
	ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	     dkim_canon_body(md, body, len, relaxed, limit) == 0 &&
	     EVP_DigestFinal_ex(md, out, NULL) == 1;
	EVP_MD_CTX_free(md);
	return ok ? 0 : -1;
}

/* Signs msg with pk; appends the complete header line (CRLF) to out. */
static int sign_with(EVP_PKEY *pk, const char *domain, const char *selector, int64_t t,
		     const unsigned char *msg, size_t len, struct buf *out)
{
	static const size_t maxf = LIMIT_DKIM_HEADER_FIELDS;
	struct dkim_field *f = xcalloc(maxf, sizeof(*f));
	struct buf hdr, data;
	size_t nf, body_off, col, siglen = 512;
	unsigned char bh[32], sig[512];
	char bh64[BASE64_ENCODED_SIZE(32)], sig64[BASE64_ENCODED_SIZE(512)], tag[300];
	bool ed = EVP_PKEY_is_a(pk, "ED25519");
	int rc = -1;

	buf_init(&hdr, 64 * 1024);
	buf_init(&data, LIMIT_MIME_HEADER_SIZE + 64 * 1024);
	nf = dkim_fields(msg, len, f, maxf, &body_off);
	if (body_hash(msg + body_off, len - body_off, true, UINT64_MAX, bh) < 0)
		goto out;
	base64_encode(bh, sizeof(bh), bh64);
	if (buf_printf(&hdr, "DKIM-Signature: v=1; a=%s; c=relaxed/relaxed; d=%s; s=%s;",
		       ed ? "ed25519-sha256" : "rsa-sha256", domain, selector) < 0)
		goto out;
	col = buf_len(&hdr);
	if (str_fmt(tag, sizeof(tag), " t=%lld;", (long long)t) < 0 ||
	    fold_append(&hdr, &col, tag, strlen(tag)) < 0 || fold_append(&hdr, &col, " h=", 3) < 0)
		goto out;
	/* Every occurrence of each field, bottom-up (6376 5.4.2), then one
	 * From: more than present. */
	{
		bool first = true;
		for (size_t k = 0; k < DKIM_NSIGNED; k++) {
			size_t extra = strcmp(dkim_signed[k], "from") == 0 ? 1 : 0;
			for (size_t i = nf; i-- > 0;) {
				if (!dkim_field_is(&f[i], dkim_signed[k]))
					continue;
				if (str_fmt(tag, sizeof(tag), "%s%s", first ? "" : ":",
					    dkim_signed[k]) < 0 ||
				    fold_append(&hdr, &col, tag, strlen(tag)) < 0 ||
				    dkim_canon_header(&data, f[i].start, f[i].len, true) < 0)
					goto out;
				first = false;
			}
			for (; extra > 0; extra--) {
				if (str_fmt(tag, sizeof(tag), "%s%s", first ? "" : ":",
					    dkim_signed[k]) < 0 ||
				    fold_append(&hdr, &col, tag, strlen(tag)) < 0)
					goto out;
				first = false;
			}
		}
	}
	if (buf_append_str(&hdr, ";") < 0 || str_fmt(tag, sizeof(tag), " bh=%s;", bh64) < 0)
		goto out;
	col++;
	if (fold_append(&hdr, &col, tag, strlen(tag)) < 0 || fold_append(&hdr, &col, " b=", 3) < 0)
		goto out;
	/* 3.7: the signature field itself, b= empty, without its final CRLF */
	if (dkim_canon_header(&data, buf_data(&hdr), buf_len(&hdr), true) < 0)
		goto out;
	if (sign_raw(pk, buf_data(&data), buf_len(&data) - 2, sig, &siglen) < 0)
		goto out;
	base64_encode(sig, siglen, sig64);
	for (size_t i = 0, n = strlen(sig64); i < n;) {
		size_t room = col < DKIM_FOLD ? DKIM_FOLD - col : 0, take;
		if (room == 0) {
			if (buf_append(&hdr, "\r\n\t", 3) < 0)
				goto out;
			col = 1;
			continue;
		}
		take = n - i < room ? n - i : room;
		if (buf_append(&hdr, sig64 + i, take) < 0)
			goto out;
		col += take;
		i += take;
	}
	if (buf_append(&hdr, "\r\n", 2) < 0 || buf_append(out, buf_data(&hdr), buf_len(&hdr)) < 0)
		goto out;
	rc = 0;
out:
	buf_free(&hdr);
	buf_free(&data);
	free(f);
	return rc;
}

static int out_to_string(struct buf *out, char **headers_r)
{
	char *s = xmalloc(buf_len(out) + 1);

	memcpy(s, buf_data(out), buf_len(out));
	s[buf_len(out)] = '\0';
	*headers_r = s;
	return 0;
}

int dkim_sign_pem(const char *key_pem, const char *domain, const char *selector, int64_t t,
		  const unsigned char *msg, size_t len, char **headers_r)
{
	EVP_PKEY *pk = pkey_from_pem(key_pem);
	struct buf out;
	int rc;

	if (pk == NULL)
		return -1;
	buf_init(&out, 64 * 1024);
	if (*headers_r != NULL)
		(void)buf_append_str(&out, *headers_r);
	rc = sign_with(pk, domain, selector, t, msg, len, &out);
	EVP_PKEY_free(pk);
	if (rc == 0) {
		free(*headers_r);
		out_to_string(&out, headers_r);
	}
	buf_free(&out);
	return rc;
}

/* ---------- the key cache ---------- */

struct dkim_cached_key {
	char selector[64];
	EVP_PKEY *pk;
};

struct dkim_cache_entry {
	char domain[254];
	time_t loaded;		/* 0 = free slot */
	size_t n;
	struct dkim_cached_key keys[LIMIT_DKIM_KEYS_PER_DOMAIN];
};

static pthread_mutex_t dkim_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dkim_cache_entry dkim_cache[LIMIT_DKIM_KEY_CACHE];

static void entry_clear(struct dkim_cache_entry *e)
{
	for (size_t i = 0; i < e->n; i++)
		EVP_PKEY_free(e->keys[i].pk);
	memset(e, 0, sizeof(*e));
}

void dkim_cache_flush(void)
{
	pthread_mutex_lock(&dkim_cache_lock);
	for (size_t i = 0; i < LIMIT_DKIM_KEY_CACHE; i++)
		entry_clear(&dkim_cache[i]);
	pthread_mutex_unlock(&dkim_cache_lock);
}

/* Copies a fresh cache entry for domain into *copy (keys up-ref'd). */
static bool cache_get(const char *domain, time_t now, struct dkim_cache_entry *copy)
{
	bool hit = false;

	pthread_mutex_lock(&dkim_cache_lock);
	for (size_t i = 0; i < LIMIT_DKIM_KEY_CACHE; i++) {
		struct dkim_cache_entry *e = &dkim_cache[i];
		if (e->loaded == 0 || strcmp(e->domain, domain) != 0)
			continue;
		if (now - e->loaded >= LIMIT_DKIM_KEY_CACHE_S || now < e->loaded)
			break;
		*copy = *e;
		for (size_t k = 0; k < e->n; k++)
			EVP_PKEY_up_ref(e->keys[k].pk);
		hit = true;
		break;
	}
	pthread_mutex_unlock(&dkim_cache_lock);
	return hit;
}

static void cache_put(const struct dkim_cache_entry *ne)
{
	struct dkim_cache_entry *slot = NULL;

	pthread_mutex_lock(&dkim_cache_lock);
	for (size_t i = 0; i < LIMIT_DKIM_KEY_CACHE; i++) {
		struct dkim_cache_entry *e = &dkim_cache[i];
		if (e->loaded != 0 && strcmp(e->domain, ne->domain) == 0) {
			slot = e;
			break;
		}
		if (slot == NULL || e->loaded < slot->loaded)
			slot = e;	/* a free slot, else the oldest */
	}
	entry_clear(slot);
	*slot = *ne;
	for (size_t k = 0; k < ne->n; k++)
		EVP_PKEY_up_ref(ne->keys[k].pk);
	pthread_mutex_unlock(&dkim_cache_lock);
}

static int keys_load(struct db *db, const char *domain, time_t now, struct dkim_cache_entry *e)
{
	const char *params[1] = { domain };
	enum db_status st;
	PGresult *res = db_exec(db, STMT_DKIM_KEYS_FOR_DOMAIN, 1, params, NULL, NULL, &st);
	int rows;

	memset(e, 0, sizeof(*e));
	str_lcpy(e->domain, domain, sizeof(e->domain));
	e->loaded = now;
	if (st != DB_OK) {
		PQclear(res);
		return -1;
	}
	rows = PQntuples(res);
	for (int i = 0; i < rows && e->n < LIMIT_DKIM_KEYS_PER_DOMAIN; i++) {
		char *pem = seal_open(PQgetvalue(res, i, 1));
		EVP_PKEY *pk = pem != NULL ? pkey_from_pem(pem) : NULL;
		if (pem != NULL) {
			OPENSSL_cleanse(pem, strlen(pem));
			free(pem);
		}
		if (pk == NULL) {
			log_warn("dkim", "domain %s selector %s: the private key cannot be unsealed; "
				 "not signing with it", domain, PQgetvalue(res, i, 0));
			continue;
		}
		str_lcpy(e->keys[e->n].selector, PQgetvalue(res, i, 0), sizeof(e->keys[0].selector));
		e->keys[e->n++].pk = pk;
	}
	PQclear(res);
	return 0;
}

int dkim_sign_message(struct db *db, const unsigned char *msg, size_t len, char **headers_r)
{
	struct dkim_field *f = xcalloc(LIMIT_DKIM_HEADER_FIELDS, sizeof(*f));
	struct dkim_cache_entry e;
	char domain[254], *from = NULL;
	size_t nf, body_off;
	time_t now = time(NULL);
	struct buf out;
	int rc = 0;

	*headers_r = NULL;
	nf = dkim_fields(msg, len, f, LIMIT_DKIM_HEADER_FIELDS, &body_off);
	for (size_t i = 0; i < nf && from == NULL; i++)
		if (dkim_field_is(&f[i], "from"))
			from = dkim_field_value(&f[i]);
	free(f);
	if (from == NULL || dkim_from_domain(from, domain, sizeof(domain)) < 0) {
		free(from);
		return 0;	/* nothing to sign for */
	}
	free(from);
	if (!cache_get(domain, now, &e)) {
		if (keys_load(db, domain, now, &e) < 0)
			return -1;
		cache_put(&e);
	}
	buf_init(&out, 64 * 1024);
	for (size_t k = 0; k < e.n && rc == 0; k++)
		rc = sign_with(e.keys[k].pk, domain, e.keys[k].selector, (int64_t)now, msg, len,
			       &out);
	for (size_t k = 0; k < e.n; k++)
		EVP_PKEY_free(e.keys[k].pk);
	if (rc == 0 && buf_len(&out) > 0)
		out_to_string(&out, headers_r);
	else if (rc < 0)
		log_error("dkim", "signing for %s failed", domain);
	buf_free(&out);
	return rc;
}

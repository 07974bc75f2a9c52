/* tls.c - the panel's HTTPS certificates. Debian's libmicrohttpd does TLS
 * with GnuTLS, so the appliance's certificates (the same rows the mail
 * core serves, PEM in memory, keys already unsealed) are imported into
 * GnuTLS objects and handed out by a certificate callback at each
 * handshake (gnutls_certificate_retrieve_function2): the SNI name picks the
 * certificate exactly as core/net/tls.c does (exact name, then a one-label
 * wildcard, else the first = default), and a reload swaps the whole set at
 * once, so a new certificate applies to the next handshake without a
 * restart. A replaced set is kept WEB_TLS_RETIRE_S so handshakes that
 * picked from it finish; then it is freed. */
#include "web/tls.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include "config/limits.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"

#define WEB_TLS_CHAIN 16	/* certificates kept from one chain */
#define WEB_TLS_RETIRE_S (4 * LIMIT_WEB_TIMEOUT_S)

struct web_tls_entry {
	gnutls_pcert_st pcerts[WEB_TLS_CHAIN];
	unsigned n_pcerts;
	gnutls_privkey_t key;
	char **names;		/* lower-case */
	size_t n_names;
};

struct web_tls_set {
	struct web_tls_entry *entries;	/* [0] is the default */
	size_t n;
	time_t retired;		/* 0 while current */
	struct web_tls_set *next;	/* retired sets, newest first */
};

static pthread_mutex_t web_tls_mu = PTHREAD_MUTEX_INITIALIZER;
static struct web_tls_set *web_tls_current;
static struct web_tls_set *web_tls_retired;

static void web_tls_entry_clear(struct web_tls_entry *e)
{
	for (unsigned k = 0; k < e->n_pcerts; k++)
		gnutls_pcert_deinit(&e->pcerts[k]);
	if (e->key != NULL)
		gnutls_privkey_deinit(e->key);
	for (size_t k = 0; k < e->n_names; k++)
		free(e->names[k]);
	free(e->names);
	memset(e, 0, sizeof(*e));
}

static void web_tls_set_free(struct web_tls_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		web_tls_entry_clear(&set->entries[i]);
	free(set->entries);
	free(set);
}

/* Imports one PEM chain + key. 0 or -1 (logged). */
static int web_tls_entry_load(struct web_tls_entry *e, const struct tls_cert_pem *pem)
{
	gnutls_datum_t cert = { (unsigned char *)pem->cert_pem, (unsigned)strlen(pem->cert_pem) };
	gnutls_datum_t key = { (unsigned char *)pem->key_pem, (unsigned)strlen(pem->key_pem) };
	int rc;

	e->n_pcerts = WEB_TLS_CHAIN;
	rc = gnutls_pcert_list_import_x509_raw(e->pcerts, &e->n_pcerts, &cert, GNUTLS_X509_FMT_PEM,
					       GNUTLS_X509_CRT_LIST_SORT);
	if (rc < 0) {
		e->n_pcerts = 0;
		log_warn("web", "HTTPS: certificate not loaded: %s", gnutls_strerror(rc));
		return -1;
	}
	rc = gnutls_privkey_init(&e->key);
	if (rc >= 0)
		rc = gnutls_privkey_import_x509_raw(e->key, &key, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (rc < 0) {
		log_warn("web", "HTTPS: private key not loaded: %s", gnutls_strerror(rc));
		return -1;
	}
	e->names = xcalloc(pem->n_hostnames ? pem->n_hostnames : 1, sizeof(char *));
	for (size_t k = 0; k < pem->n_hostnames; k++) {
		e->names[k] = xstrdup(pem->hostnames[k]);
		str_lower(e->names[k]);
	}
	e->n_names = pem->n_hostnames;
	return 0;
}

int web_tls_update(const struct tls_cert_pem *certs, size_t n)
{
	struct web_tls_set *set = xcalloc(1, sizeof(*set)), *old, **pp;
	time_t now = time(NULL);

	set->entries = xcalloc(n ? n : 1, sizeof(*set->entries));
	for (size_t i = 0; i < n; i++) {
		struct web_tls_entry *e = &set->entries[set->n];
		if (certs[i].cert_pem == NULL || certs[i].key_pem == NULL)
			continue;
		if (web_tls_entry_load(e, &certs[i]) < 0) {
			web_tls_entry_clear(e);
			continue;
		}
		set->n++;
	}
	if (set->n == 0) {
		web_tls_set_free(set);
		return -1;
	}
	pthread_mutex_lock(&web_tls_mu);
	old = web_tls_current;
	web_tls_current = set;
	if (old != NULL) {
		old->retired = now;
		old->next = web_tls_retired;
		web_tls_retired = old;
	}
	/* free the sets retired long enough ago that no handshake uses them */
	for (pp = &web_tls_retired; *pp != NULL;) {
		struct web_tls_set *s = *pp;
		if (now - s->retired > WEB_TLS_RETIRE_S) {
			*pp = s->next;
			web_tls_set_free(s);
		} else {
			pp = &s->next;
		}
	}
	pthread_mutex_unlock(&web_tls_mu);
	return 0;
}

bool web_tls_ready(void)
{
	bool ready;

	pthread_mutex_lock(&web_tls_mu);
	ready = web_tls_current != NULL;
	pthread_mutex_unlock(&web_tls_mu);
	return ready;
}

static bool web_tls_name_matches(const char *pattern, const char *name)
{
	const char *dot;

	if (str_caseeq(pattern, name))
		return true;
	if (pattern[0] != '*' || pattern[1] != '.')
		return false;
	dot = strchr(name, '.');
	return dot != NULL && dot != name && str_caseeq(pattern + 1, dot);
}

/* The entry for SNI name (NULL = none sent): exact names first. */
static struct web_tls_entry *web_tls_pick(struct web_tls_set *set, const char *name)
{
	for (int wild = 0; name != NULL && wild < 2; wild++) {
		for (size_t i = 0; i < set->n; i++) {
			struct web_tls_entry *e = &set->entries[i];
			for (size_t k = 0; k < e->n_names; k++) {
				bool is_wild = e->names[k][0] == '*';
				if (is_wild == (wild == 1) && web_tls_name_matches(e->names[k], name))
					return e;
			}
		}
	}
	return &set->entries[0];
}

int web_tls_cert_cb(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
		    const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
		    gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
	char name[256];
	size_t len = sizeof(name);
	unsigned type = 0;
	struct web_tls_entry *e = NULL;

	(void)req_ca_dn;
	(void)nreqs;
	(void)pk_algos;
	(void)pk_algos_length;
	if (gnutls_server_name_get(session, name, &len, &type, 0) != GNUTLS_E_SUCCESS ||
	    type != GNUTLS_NAME_DNS || len >= sizeof(name))
		len = 0;
	name[len] = '\0';
	pthread_mutex_lock(&web_tls_mu);
	if (web_tls_current != NULL)
		e = web_tls_pick(web_tls_current, len > 0 ? name : NULL);
	pthread_mutex_unlock(&web_tls_mu);
	if (e == NULL)
		return -1;	/* no certificate: the handshake fails */
	*pcert = e->pcerts;
	*pcert_length = e->n_pcerts;
	*pkey = e->key;
	return 0;
}

void web_tls_free(void)
{
	pthread_mutex_lock(&web_tls_mu);
	if (web_tls_current != NULL)
		web_tls_set_free(web_tls_current);
	web_tls_current = NULL;
	while (web_tls_retired != NULL) {
		struct web_tls_set *s = web_tls_retired;
		web_tls_retired = s->next;
		web_tls_set_free(s);
	}
	pthread_mutex_unlock(&web_tls_mu);
}

/* tls.h - private to web/: the panel's HTTPS certificates for GnuTLS
 * (libmicrohttpd's TLS in Debian), swapped live on reload; see tls.c. */
#ifndef POSTERN_WEB_TLS_H
#define POSTERN_WEB_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include "net/tls.h"

/* Replaces the set (certs[0] = default, the order db_certs_load gives).
 * Thread-safe. 0, or -1 when none could be loaded (the old set stays). */
int web_tls_update(const struct tls_cert_pem *certs, size_t n);
bool web_tls_ready(void);
/* MHD_OPTION_HTTPS_CERT_CALLBACK (gnutls_certificate_retrieve_function2). */
int web_tls_cert_cb(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
		    const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
		    gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *pkey);
/* Frees every set; only after the HTTPS daemon stopped. */
void web_tls_free(void);

#endif

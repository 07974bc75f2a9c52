/* responder.h - the two challenge responders an ACME order needs while the
 * CA validates (RFC 8555 8.3 HTTP-01 on the HTTP port, RFC 8737
 * TLS-ALPN-01 on the TLS port). Each runs on its own thread and is bound
 * only for the length of one authorization, so port 80 and 443 are not
 * held the rest of the time. Started and stopped by the ACME thread. */
#ifndef POSTERN_ACME_RESPONDER_H
#define POSTERN_ACME_RESPONDER_H

struct acme_responder;

/* Serves key_authorization as text/plain at
 * /.well-known/acme-challenge/<token> on address:port; 404 elsewhere.
 * NULL with *error_r (static text) when the port cannot be bound. */
struct acme_responder *acme_http01_start(const char *address, int port, const char *token,
					 const char *key_authorization, const char **error_r);
/* Completes TLS handshakes that offer only ALPN "acme-tls/1" with a
 * self-signed certificate for hostname carrying the critical
 * id-pe-acmeIdentifier extension (SHA-256 of key_authorization); refuses
 * every other handshake. NULL with *error_r on failure. */
struct acme_responder *acme_tlsalpn01_start(const char *address, int port, const char *hostname,
					    const char *key_authorization, const char **error_r);
void acme_responder_stop(struct acme_responder **r);

#endif

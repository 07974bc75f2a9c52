/* server.h - the admin panel's HTTP server (libmicrohttpd in its own
 * threads, one per connection, bounded by the LIMIT_WEB_* limits): the
 * JSON API under /api/v1 and the static UI from static/. It changes the
 * system only through PostgreSQL (its own small connection pool) and tells
 * the mail core with NOTIFY. Started once by posternd after the listeners. */
#ifndef POSTERN_WEB_SERVER_H
#define POSTERN_WEB_SERVER_H

#include <stddef.h>

struct tls_cert_pem;

/* Binds listen ("127.0.0.1:8080", "[::1]:8080"), loads static/ (the
 * sibling of the configured sql directory), creates the first admin when
 * there is none (POSTERN_ADMIN_PASSWORD, or a generated password printed
 * once to stderr) and starts serving. conninfo: libpq connection string
 * for the pool. 0, or -1 with *error_r (static text). */
int web_server_start(const char *listen, const char *conninfo, const char **error_r);
/* New certificates for HTTPS (the set posternd just loaded; certs[0] is
 * the default); used from the next handshake. No-op when HTTPS is off.
 * Thread-safe; CPU only (PEM parsing). */
void web_server_certs(const struct tls_cert_pem *certs, size_t n);
/* Stops accepting, waits for the connection threads, closes the pool.
 * Safe when never started. */
void web_server_stop(void);

#endif

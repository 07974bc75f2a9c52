/* conn.h - one client connection: socket, optional TLS, bounded input and
 * output buffers, an idle timer, and the protocol session that owns it.
 *
 * Flow: the listener accepts, creates the conn and calls proto->open().
 * Whenever bytes arrive the conn calls proto->input(); the session parses
 * what it can from conn_in() and consumes it with buf_consume(). Output goes
 * through conn_write()/conn_printf() and is flushed by the conn when the
 * socket is writable. A session waiting for a worker calls
 * conn_pause(c, true) so no more input is read (backpressure).
 *
 * Conns are found again from worker completions by conn_id(), a 64-bit value
 * never reused in the life of the process (id + generation in one). */
#ifndef POSTERN_NET_CONN_H
#define POSTERN_NET_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

struct conn;
struct listener;

enum tls_mode { TLS_MODE_NONE = 0, TLS_MODE_STARTTLS, TLS_MODE_IMPLICIT };

struct conn_proto {
	const char *name;	/* "smtp", "pop3", "imap" */
	/* Sent (then close) when a connection limit is hit before open():
	 * "421 4.7.0 ...\r\n", "* BYE ...\r\n", "-ERR [SYS/TEMP] ...\r\n". */
	const char *busy_reply;
	/* Called once the connection is ready (after the TLS handshake for
	 * implicit TLS). Returns the session or NULL to close at once. The
	 * session typically writes its greeting here. */
	void *(*open)(struct conn *c);
	/* New bytes are in conn_in(c). */
	void (*input)(void *session, struct conn *c);
	/* The idle timer set with conn_set_timeout() fired. */
	void (*timeout)(void *session, struct conn *c);
	/* STARTTLS handshake finished (ok) or failed (!ok; the conn closes
	 * after this returns). */
	void (*tls_done)(void *session, struct conn *c, bool ok);
	/* The output buffer became empty (for streaming large replies). May be NULL. */
	void (*drained)(void *session, struct conn *c);
	/* Process shutdown was requested: say goodbye (421/BYE/-ERR) unless
	 * in the middle of a transaction that will finish by itself; then
	 * conn_close(). May be NULL (conn is closed). */
	void (*shutdown)(void *session, struct conn *c);
	/* The conn is going away: free the session. No conn_* calls on c
	 * except conn_id(). */
	void (*close)(void *session, struct conn *c);
};

uint64_t conn_id(const struct conn *c);
/* Returns the live conn with that id, or NULL when it has gone. */
struct conn *conn_find(uint64_t id);

/* Input buffer: parse and buf_consume(). */
struct buf *conn_in(struct conn *c);
/* Queues bytes. Returns 0, or -1 when the output cap was hit (the conn is
 * then closed after what is queued is flushed). */
int conn_write(struct conn *c, const void *p, size_t n);
int conn_printf(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
size_t conn_out_pending(const struct conn *c);
/* Stops/starts reading the socket. While paused, input already buffered is
 * kept; on unpause proto->input() is called again if bytes are waiting. */
void conn_pause(struct conn *c, bool paused);
/* Starts a TLS handshake now (after the session queued its "ready" reply,
 * which is flushed in plaintext first). Buffered input is discarded
 * (CVE-2011-0411). proto->tls_done() reports the result. Returns -1 when no
 * certificate is loaded. */
int conn_starttls(struct conn *c);
bool conn_is_tls(const struct conn *c);
/* Negotiated protocol and cipher ("TLSv1.3", "TLS_AES_256_GCM_SHA384") or NULL. */
const char *conn_tls_version(const struct conn *c);
const char *conn_tls_cipher(const struct conn *c);
/* RFC 4978 COMPRESS=DEFLATE from now on: output queued so far (the tagged
 * OK) goes out as it is, everything after it raw-deflated; input still
 * buffered and all later input is inflated. Works over TLS and plain.
 * Returns 0, or -1 when already active or zlib fails. */
int conn_compress_start(struct conn *c);
bool conn_is_compressed(const struct conn *c);
/* (Re)arms the idle timer; 0 disables it. */
void conn_set_timeout(struct conn *c, uint64_t ms);
/* Closes after flushing queued output (bounded by a short timer). */
void conn_close(struct conn *c);
/* Peer address as text ("127.0.0.1") and port. */
const char *conn_peer_addr(const struct conn *c);
int conn_peer_port(const struct conn *c);
/* Local port and listener facts. */
int conn_local_port(const struct conn *c);
const char *conn_listener_name(const struct conn *c);	/* "smtp", "submission", ... */
enum tls_mode conn_listener_tls(const struct conn *c);
/* The session pointer given back by proto->open(). */
void *conn_session(const struct conn *c);

/* Count of open conns (for limits and metrics). */
size_t conn_count(void);
/* Calls proto->shutdown (or closes) on every conn. */
void conn_shutdown_all(void);

#endif

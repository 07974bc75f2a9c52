/* smtpc.h - the SMTP client side of one connection to a remote MX, for
 * queue runner threads only (blocking I/O bounded by poll() timeouts, never
 * on the loop): connect, read replies, send commands and message data
 * (dot-stuffed for DATA, raw for BDAT), STARTTLS. A stop fd aborts any
 * wait at once (shutdown). Every call returns 0, or -1 with c->error set
 * (the connection is then unusable). */
#ifndef POSTERN_QUEUE_SMTPC_H
#define POSTERN_QUEUE_SMTPC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "config/limits.h"

enum smtpc_ext {
	SMTPC_EXT_STARTTLS = 1 << 0,
	SMTPC_EXT_PIPELINING = 1 << 1,
	SMTPC_EXT_SIZE = 1 << 2,
	SMTPC_EXT_8BITMIME = 1 << 3,
	SMTPC_EXT_SMTPUTF8 = 1 << 4,
	SMTPC_EXT_CHUNKING = 1 << 5,
	SMTPC_EXT_AUTH_PLAIN = 1 << 6,
};

#define SMTPC_TEXT_MAX 512	/* reply text kept for logs and DSNs */

struct smtpc_reply {
	int code;			/* 200..599; 0 when unreadable */
	char text[SMTPC_TEXT_MAX];	/* the lines joined with " / ", printable */
};

struct smtpc {
	int fd;
	int stop_fd;		/* readable = abort (may be -1) */
	SSL *ssl;
	unsigned ext;		/* enum smtpc_ext of the last EHLO */
	unsigned long long size_max;	/* SIZE parameter, 0 = none announced */
	unsigned char rbuf[4096];	/* bytes read, not yet parsed */
	size_t roff, rlen;
	char error[256];
};

/* Connects to sa (timeout LIMIT_SMTPC_CONNECT_MS). */
int smtpc_connect(struct smtpc *c, const struct sockaddr *sa, socklen_t salen, int stop_fd);
void smtpc_close(struct smtpc *c);
/* Reads one reply (multi-line joined) within timeout_ms. */
int smtpc_reply(struct smtpc *c, int timeout_ms, struct smtpc_reply *r);
/* Writes n bytes within LIMIT_SMTPC_DATA_BLOCK_MS per write. */
int smtpc_write(struct smtpc *c, const void *p, size_t n);
/* Sends a command line (CRLF added) and reads its reply. */
int smtpc_cmd(struct smtpc *c, int timeout_ms, struct smtpc_reply *r, const char *line);
/* EHLO name (HELO when EHLO is refused with 5xx); fills c->ext. */
int smtpc_ehlo(struct smtpc *c, const char *name, struct smtpc_reply *r);
struct dns_answer;

/* TLS handshake on the connection (after the 220 to STARTTLS). ctx's
 * verification settings apply; sni may be NULL; verify_name non-NULL: the
 * certificate must name it (a failure fails the handshake when ctx
 * verifies the peer, else it is only recorded: SSL_get_verify_result).
 * tlsa non-NULL (RFC 7672, DANE-TA(2) and DANE-EE(3) records of a
 * DNSSEC-secure answer; ctx made with SSL_CTX_dane_enable): the peer must
 * match one of them, verify_name being the TLSA base domain. */
int smtpc_tls(struct smtpc *c, SSL_CTX *ctx, const char *sni, const char *verify_name,
	      const struct dns_answer *tlsa);
/* Message data for DATA: dot-stuffed, CRLF-terminated, then ".\r\n". */
int smtpc_data(struct smtpc *c, const unsigned char *p, size_t n);
/* The enhanced status code at the start of r->text ("5.1.1"), or one made
 * of the reply class ("4.0.0"); out at least 16 bytes. */
void smtpc_status(const struct smtpc_reply *r, char *out, size_t outsize);

#endif

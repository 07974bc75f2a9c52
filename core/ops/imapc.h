/* imapc.h - a small blocking IMAP4rev1 client for posternctl import imap:
 * TCP, implicit TLS or STARTTLS (OpenSSL, certificate and host name
 * verified), LOGIN, and whole responses with their literals read into one
 * bounded buffer, plus a tokenizer over them. Not for posternd: it blocks. */
#ifndef POSTERN_OPS_IMAPC_H
#define POSTERN_OPS_IMAPC_H

#include <stdbool.h>
#include <stddef.h>

enum imapc_tls { IMAPC_TLS_IMPLICIT, IMAPC_TLS_STARTTLS, IMAPC_TLS_NONE };

struct imapc;

/* Connects, reads the greeting, upgrades per tls. ca_file NULL = the
 * system's CAs. NULL with err (size errsize) filled on failure. */
struct imapc *imapc_connect(const char *host, const char *port, enum imapc_tls tls,
			    const char *ca_file, char *err, size_t errsize);
void imapc_free(struct imapc **c);

/* Called with each untagged response ("* ..." with its literals inline,
 * without the final CRLF). */
typedef void imapc_untagged_fn(void *arg, const char *resp, size_t len);

/* Sends "<tag> <command>\r\n" and reads until the tagged reply. 0 for OK,
 * -1 with err filled (the server's NO/BAD text, or the I/O error). */
int imapc_command(struct imapc *c, const char *command, imapc_untagged_fn *fn, void *arg,
		  char *err, size_t errsize);
/* LOGIN with both arguments sent as quoted strings. -1 when they hold CR,
 * LF or NUL, or the server refuses. */
int imapc_login(struct imapc *c, const char *user, const char *password, char *err,
		size_t errsize);

struct buf;
/* Appends s as an IMAP quoted string; -1 for CR, LF or NUL, or no room. */
int imapc_quote(struct buf *b, const char *s);

/* --- tokens of a response --- */
enum imapc_tok_type {
	IMAPC_END = 0,
	IMAPC_ATOM,	/* also NIL and numbers; text in [p, p+len) */
	IMAPC_STRING,	/* quoted: [p, p+len) still escaped, see imapc_tok_copy */
	IMAPC_LITERAL,	/* {n}: the n octets */
	IMAPC_LPAREN,
	IMAPC_RPAREN,
	IMAPC_BAD,
};
struct imapc_tok {
	enum imapc_tok_type type;
	const char *p;
	size_t len;
};
struct imapc_cursor {
	const char *p, *end;
};
/* The next token; IMAPC_BAD for malformed input. */
struct imapc_tok imapc_next(struct imapc_cursor *cur);
/* A token's value as a NUL-terminated string (quoted strings unescaped)
 * into out; -1 when it does not fit or is not a string-like token. */
int imapc_tok_copy(const struct imapc_tok *t, char *out, size_t outsize);
/* Skips one value: a token, or a whole parenthesized list. */
void imapc_skip(struct imapc_cursor *cur, struct imapc_tok first);

#endif

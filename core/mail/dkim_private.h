/* dkim_private.h - canonicalization and tag lists shared by the DKIM signer
 * (dkim.c) and verifier (dkim_verify.c); not for other modules. */
#ifndef POSTERN_MAIL_DKIM_PRIVATE_H
#define POSTERN_MAIL_DKIM_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "lib/buf.h"
#include "mail/dkim.h"

/* Appends the canonical form of one header field (with CRLF) to b:
 * relaxed (RFC 6376 3.4.2) or simple (3.4.1). -1 when b is full. */
int dkim_canon_header(struct buf *b, const unsigned char *field, size_t len, bool relaxed);
/* Feeds the canonical body (3.4.3 simple / 3.4.4 relaxed) into md, at most
 * limit octets of it (UINT64_MAX = all). 0 or -1. */
int dkim_canon_body(EVP_MD_CTX *md, const unsigned char *body, size_t len, bool relaxed,
		    uint64_t limit);

/* A tag=value list (3.2): tags with their values (whitespace trimmed). */
#define DKIM_TAGS_MAX 24
struct dkim_tags {
	size_t n;
	struct {
		char name[16];
		const char *val;	/* into the parsed copy */
		size_t len;
	} t[DKIM_TAGS_MAX];
};
/* Parses s in place (s is modified: values are NUL-terminated). -1 on a
 * syntax error, a duplicate tag or too many tags. */
int dkim_tags_parse(char *s, struct dkim_tags *out);
/* The value of a tag or NULL. */
const char *dkim_tag(const struct dkim_tags *t, const char *name);

#endif

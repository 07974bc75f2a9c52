/* mime_private.h - shared between mime.c, mime_rfc822.c and mime_render.c:
 * the RFC 5322 3.2 lexer (CFWS, atoms, quoted strings, phrases, domains),
 * RFC 2045 tokens and Content-Type/Disposition parameters (RFC 2231
 * continuations joined, encoded values left raw). Not a public API. */
#ifndef POSTERN_MAIL_MIME_PRIVATE_H
#define POSTERN_MAIL_MIME_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include "config/limits.h"
#include "lib/buf.h"

struct mime_lex {
	const unsigned char *p, *end;
	struct buf *comment;	/* text of the last comment seen, or NULL */
};

void mime_lex_init(struct mime_lex *lx, const unsigned char *p, size_t len, struct buf *comment);
/* Skips blanks, CR, LF and (nested) comments. 1: more input, 0: at end,
 * -1: unterminated comment. The other functions return the same after
 * skipping the CFWS that follows what they read, or -1 when nothing of
 * theirs is at the cursor (cursor unchanged then). */
int mime_lex_skip(struct mime_lex *lx);
bool mime_lex_is_atext(unsigned char c);
int mime_lex_atom(struct mime_lex *lx, struct buf *out);
int mime_lex_dot_atom(struct mime_lex *lx, struct buf *out);
int mime_lex_quoted(struct mime_lex *lx, struct buf *out);
/* Words joined by one space; may read nothing (returns 1 then). */
int mime_lex_phrase(struct mime_lex *lx, struct buf *out);
/* Cursor on '@': the domain after it (dot-atom or domain literal). */
int mime_lex_domain(struct mime_lex *lx, struct buf *out);
/* RFC 2045 token (may be empty: returns 1/0 then, never -1). */
int mime_lex_token(struct mime_lex *lx, struct buf *out);

/* Parameters: names and values NUL-separated in data. */
struct mime_params {
	struct buf data;
	size_t name[LIMIT_MIME_PARAMS];
	size_t value[LIMIT_MIME_PARAMS];
	unsigned count;
};

void mime_params_init(struct mime_params *pr);
void mime_params_free(struct mime_params *pr);
static inline const char *mime_param_name(const struct mime_params *pr, unsigned i)
{
	return (const char *)buf_data(&pr->data) + pr->name[i];
}
static inline const char *mime_param_value(const struct mime_params *pr, unsigned i)
{
	return (const char *)buf_data(&pr->data) + pr->value[i];
}
/* Value of the first parameter called name (ASCII case-insensitive). */
const char *mime_params_get(const struct mime_params *pr, const char *name);

/* A parsed Content-Type (type and subtype as written) or
 * Content-Disposition (type only). */
struct mime_ctype {
	struct buf type, subtype;	/* NUL-terminated */
	bool has_subtype;
	struct mime_params params;
};

void mime_ctype_init(struct mime_ctype *ct);
void mime_ctype_free(struct mime_ctype *ct);
/* Parses a header value. Broken input keeps what could be read. */
void mime_ctype_parse(struct mime_ctype *ct, const unsigned char *v, size_t len, bool disposition);

/* First header field called name in msg[off .. off+len); 1 found, 0 not. */
int mime_header_find(const unsigned char *msg, size_t off, size_t len, const char *name,
		     size_t *val_off, size_t *val_len);

#endif

/* parser.h - the pure SMTP command parser: line framing with a hard cap,
 * verb recognition, and the MAIL/RCPT/BDAT/AUTH argument grammars.
 * No sockets, no state beyond the current line. */
#ifndef POSTERN_SMTP_PARSER_H
#define POSTERN_SMTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/limits.h"
#include "lib/buf.h"

enum smtp_verb {
	SMTP_VERB_UNKNOWN = 0,
	SMTP_VERB_HELO,
	SMTP_VERB_EHLO,
	SMTP_VERB_MAIL,
	SMTP_VERB_RCPT,
	SMTP_VERB_DATA,
	SMTP_VERB_BDAT,
	SMTP_VERB_RSET,
	SMTP_VERB_NOOP,
	SMTP_VERB_QUIT,
	SMTP_VERB_VRFY,
	SMTP_VERB_EXPN,
	SMTP_VERB_HELP,
	SMTP_VERB_STARTTLS,
	SMTP_VERB_AUTH,
	SMTP_VERB_HTTP,		/* GET / POST / HEAD / PUT / CONNECT: not a mail client */
};

enum smtp_line_error {
	SMTP_LINE_OK = 0,
	SMTP_LINE_TOO_LONG,	/* 500 5.5.6; the rest of the line was skipped */
	SMTP_LINE_NUL,		/* NUL byte in the line: 500 5.5.2 */
};

/* One line, CR LF (or bare LF) removed, NUL-terminated. Points into the
 * parser: valid until the next smtp_parser_line() call. */
struct smtp_line {
	char *s;
	size_t len;
	enum smtp_line_error error;
};

struct smtp_parser {
	struct buf line;	/* the line being assembled (capped at max + 1) */
	size_t max;		/* octets per line including CRLF */
	size_t auth_max;	/* cap for a line starting "AUTH " (initial response) */
	bool skipping;		/* discarding the rest of an overlong line */
	bool complete;		/* line holds a returned line (dropped on next call) */
};

/* max: octets per line including CRLF (LIMIT_SMTP_LINE); auth_max: the cap
 * when the line starts with "AUTH " (LIMIT_SMTP_AUTH_LINE, >= max). */
void smtp_parser_init(struct smtp_parser *p, size_t max, size_t auth_max);
void smtp_parser_free(struct smtp_parser *p);
/* Changes the cap for the following lines (AUTH continuation lines). */
void smtp_parser_set_max(struct smtp_parser *p, size_t max);
/* Forgets any partial line (STARTTLS). */
void smtp_parser_reset(struct smtp_parser *p);
/* Releases the line buffer when no partial line is held (idle sessions
 * keep no memory); the line last returned becomes invalid. */
void smtp_parser_shrink(struct smtp_parser *p);
/* Consumes input up to and including the first LF. Returns 1 with *out
 * set when a line is complete (error set for an overlong line or a NUL),
 * 0 when all of in was consumed and more is needed. *used_r is always
 * the octets consumed. Never returns -1: every error is a line. */
int smtp_parser_line(struct smtp_parser *p, const unsigned char *in, size_t len, size_t *used_r,
		     struct smtp_line *out);

/* A command: verb and arguments (after the verb and its spaces). */
struct smtp_cmd {
	enum smtp_verb verb;
	const char *args;	/* points into the line, NUL-terminated, may be "" */
	size_t args_len;
};
/* Splits a line into verb and args; trailing spaces are cut (a NUL is
 * written over the first, so line[len] must be writable). Returns 0, or -1
 * when the verb is not recognised (out->verb = SMTP_VERB_UNKNOWN). */
int smtp_parse_command(char *line, size_t len, struct smtp_cmd *out);

/* esmtp-param = esmtp-keyword ["=" esmtp-value] (RFC 5321 4.1.2); at most
 * LIMIT_SMTP_PARAMS per command. */
struct smtp_param {
	const char *key;
	size_t key_len;
	const char *value;	/* NULL when there was no "=" */
	size_t value_len;
};

/* Parses "FROM:<path> params" / "TO:<path> params": prefix is "FROM:" or
 * "TO:" (case-insensitive; spaces after the colon tolerated). The path is
 * returned as [*path_r, *path_len_r) with its angle brackets; it must be
 * parsed with mail_address_parse(), which is given the whole rest so a '>'
 * inside a quoted local part is handled: *path_len_r is the rest's length.
 * Returns 0, or -1 when the prefix is missing. */
int smtp_parse_path_prefix(const char *args, size_t len, const char *prefix, const char **path_r,
			   size_t *path_len_r);
/* Parses the parameters after the path: s starts right after the '>'.
 * Returns 0 with *n_r params, or -1 (syntax: missing space, bad keyword or
 * value, more than max). */
int smtp_parse_params(const char *s, size_t len, struct smtp_param *params, size_t max,
		      size_t *n_r);
/* True when the param's key equals name (case-insensitive). */
bool smtp_param_is(const struct smtp_param *p, const char *name);

/* "BDAT" args: chunk-size [SP "LAST"]. Returns 0 or -1. */
int smtp_parse_bdat(const char *args, size_t len, uint64_t *size_r, bool *last_r);

/* "AUTH" args: mechanism [SP initial-response]. The mechanism is copied
 * upper-cased into mech (mechsize >= 2). Returns 0 or -1. */
int smtp_parse_auth(const char *args, size_t len, char *mech, size_t mechsize,
		    const char **ir_r, size_t *ir_len_r);

#endif

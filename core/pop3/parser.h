/* parser.h - the POP3 command line reader: pure and incremental (STYLE rule 4).
 *
 * The parser copies bytes into its own bounded line buffer until a line end
 * (CRLF, or a bare LF as some RFC 1939 clients send), then splits the line
 * into a verb and arguments. It never touches a socket; feed it one byte or
 * a megabyte at a time. */
#ifndef POSTERN_POP3_PARSER_H
#define POSTERN_POP3_PARSER_H

#include <stdbool.h>
#include <stddef.h>

#include "config/limits.h"

#define POP3_VERB_MAX 8		/* RFC 1939 keywords are 3-4 letters; room for extensions */
#define POP3_ARGS_MAX 2		/* TOP msg n, AUTH mech initial-response */
/* Largest line the parser can hold, terminator included. */
#define POP3_PARSER_LINE_MAX LIMIT_POP3_AUTH_LINE

struct pop3_parser {
	size_t max_line;	/* current limit, line terminator included */
	size_t len;		/* bytes of the line read so far (no LF) */
	bool skipping;		/* discarding the rest of a too-long line */
	bool nul;		/* the line being read holds a NUL byte */
	char line[POP3_PARSER_LINE_MAX + 1];
};

/* A byte range inside the parser's line. */
struct pop3_arg {
	const char *p;
	size_t len;
};

struct pop3_cmd {
	/* Upper-cased verb; "" for an empty line or a verb longer than
	 * POP3_VERB_MAX (both are unknown commands). */
	char verb[POP3_VERB_MAX + 1];
	/* The first POP3_ARGS_MAX space-separated arguments. */
	struct pop3_arg args[POP3_ARGS_MAX];
	/* How many arguments the line has (may be more than POP3_ARGS_MAX). */
	size_t n_args;
	/* Everything after the verb and one space, untouched (PASS takes a
	 * password that may contain spaces). Empty when there is none. */
	struct pop3_arg rest;
	/* The whole line without its terminator, NUL-terminated (SASL
	 * continuation lines are read raw). */
	struct pop3_arg line;
};

/* Starts a parser with max_line (1 < max_line <= POP3_PARSER_LINE_MAX)
 * bytes per line, CRLF included. */
void pop3_parser_init(struct pop3_parser *p, size_t max_line);
/* Changes the line limit for the lines that follow (AUTH continuation lines
 * may be longer); clamped to POP3_PARSER_LINE_MAX. */
void pop3_parser_set_max(struct pop3_parser *p, size_t max_line);
/* Forgets any partial line (STLS: plaintext read before TLS is dropped). */
void pop3_parser_reset(struct pop3_parser *p);

/* Reads from buf[0..len). *used_r is set to the bytes consumed; the caller
 * drops them and passes the rest (plus new bytes) next time. Returns:
 *   1  a line is complete: *out points into the parser, valid until the
 *      next call on it (or pop3_parser_wipe()); bytes after the line are
 *      not consumed, so pipelined commands are read one at a time;
 *   0  more bytes are needed (everything given was consumed);
 *  -1  the line is refused, *error_r says why ("line too long": the
 *      parser then skips to the end of that line by itself; "NUL in
 *      command": the whole line was consumed). */
int pop3_parser_read(struct pop3_parser *p, const unsigned char *buf, size_t len, size_t *used_r,
		     struct pop3_cmd *out, const char **error_r);
/* Zeroes the line buffer (it may hold a password). */
void pop3_parser_wipe(struct pop3_parser *p);

#endif

/* parser.h - the IMAP command reader: pure and incremental (STYLE rule 4).
 *
 * Reads "tag SP command [SP args] CRLF" with literals (RFC 9051 section 9,
 * RFC 3501, RFC 7888 LITERAL+/LITERAL-, RFC 3516 literal8) into an argument
 * tree that lives in a per-command arena, bounded by the limits in
 * struct imap_parser_params. No sockets: feed it one byte or a megabyte at a
 * time. The command name is returned as read (upper-cased); "UID" is just a
 * command name, its sub-command is the first argument. */
#ifndef POSTERN_IMAP_PARSER_H
#define POSTERN_IMAP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/limits.h"

/* Return values of imap_parser_read(). */
#define IMAP_PARSE_ERROR	(-1)	/* cmd->error says what to reply */
#define IMAP_PARSE_MORE		0	/* everything given was consumed */
#define IMAP_PARSE_DONE		1	/* a complete command */
#define IMAP_PARSE_LITERAL	2	/* a literal was announced: see cmd->literal */

#define IMAP_COMMAND_NAME_MAX	32	/* longer names are not commands (BAD) */
#define IMAP_SECTION_PARTS_MAX	32	/* "1.2.3..." part numbers in BODY[...] */

struct imap_parser_params {
	size_t max_line;		/* octets of one line, CRLF included, literals not */
	size_t max_command;		/* lines + buffered literals of one command */
	uint64_t max_literal;		/* largest literal a client may announce */
	unsigned int max_list_depth;	/* nested parentheses */
	unsigned int max_args;		/* arguments of one command, nested ones included */
	bool literal_minus;		/* LITERAL- advertised: {n+} at most LIMIT_IMAP_LITERAL_MINUS */
	bool utf8;			/* UTF8=ACCEPT / IMAP4rev2: 8-bit in quoted strings */
};

enum imap_arg_type {
	IMAP_ARG_EOL = 0,	/* terminates every argument array */
	IMAP_ARG_NIL,		/* str is "NIL" so astring readers may take it */
	IMAP_ARG_ATOM,		/* also sequence sets, flags (\Seen), LIST patterns */
	IMAP_ARG_STRING,	/* quoted, unescaped */
	IMAP_ARG_LITERAL,	/* {n} / {n+} / ~{n}: str holds n bytes (+ NUL) */
	IMAP_ARG_LITERAL_TAKEN,	/* the session took the bytes (imap_parser_literal_take) */
	IMAP_ARG_LIST,		/* list[0 .. list_count), list[list_count] is EOL */
	IMAP_ARG_SECTION,	/* BODY[...]<o.n>, BODY.PEEK[...], BINARY[.PEEK|.SIZE][...] */
};

enum imap_section_text {
	IMAP_SECTION_NONE = 0,		/* BODY[] or BODY[1.2] */
	IMAP_SECTION_HEADER,
	IMAP_SECTION_HEADER_FIELDS,
	IMAP_SECTION_HEADER_FIELDS_NOT,
	IMAP_SECTION_TEXT,
	IMAP_SECTION_MIME,		/* only after a part number */
};

enum imap_fetch_kind {
	IMAP_FETCH_BODY = 0,		/* BODY[...] */
	IMAP_FETCH_BODY_PEEK,		/* BODY.PEEK[...] */
	IMAP_FETCH_BINARY,		/* BINARY[...] (RFC 3516) */
	IMAP_FETCH_BINARY_PEEK,
	IMAP_FETCH_BINARY_SIZE,		/* no partial allowed */
};

struct imap_section {
	enum imap_fetch_kind kind;
	uint32_t parts[IMAP_SECTION_PARTS_MAX];	/* nz-numbers of section-part */
	unsigned int n_parts;
	enum imap_section_text text;
	const char *const *fields;	/* HEADER.FIELDS[.NOT] names, as sent */
	unsigned int n_fields;
	/* The bracket content as sent, e.g. "HEADER.FIELDS (From To)"; the
	 * FETCH reply echoes a section spec. */
	const char *spec;
	bool partial;			/* <offset.length> was given */
	uint64_t partial_offset;
	uint64_t partial_length;	/* > 0 */
};

struct imap_arg {
	enum imap_arg_type type;
	/* ATOM, NIL, STRING, LITERAL: the bytes, NUL-terminated (a literal8
	 * may hold NULs: use len). SECTION: the whole argument as sent
	 * ("BODY.PEEK[HEADER]<0.100>"). */
	const char *str;
	size_t len;			/* LITERAL_TAKEN: the literal's size */
	bool literal8;			/* ~{n} */
	bool nonsync;			/* {n+} */
	const struct imap_arg *list;	/* LIST */
	unsigned int list_count;
	const struct imap_section *section;	/* SECTION */
};

/* What the session answers to an error (IMAP_PARSE_ERROR). */
enum imap_parser_reply {
	IMAP_REPLY_BAD = 0,	/* "tag BAD [code] text", or "* BAD text" when tag is NULL */
	IMAP_REPLY_BYE,		/* "* BYE text", then close the connection */
};

struct imap_parser_error {
	enum imap_parser_reply reply;
	const char *code;	/* response code without brackets ("TOOBIG"), or NULL */
	const char *text;	/* human readable, static */
	bool close;		/* close the connection after the reply (BYE) */
};

/* A literal the client announced at the end of a line (IMAP_PARSE_LITERAL).
 * For a synchronising one nothing of it has been sent yet: the session
 * checks size against its own budget (APPENDLIMIT, quota) and then either
 * sends "+ Ready for literal" and calls _accept() or _take(), or refuses
 * (tagged NO [TOOBIG] or BAD) and calls _refuse(). A non-synchronising one
 * ({n+}) is already under way: the parser has checked it against
 * max_literal (and LITERAL-) and the session must not send "+". */
struct imap_literal {
	uint64_t size;
	bool sync;		/* {n}: the client waits for "+" */
	bool literal8;		/* ~{n} (binary: may contain NUL) */
	bool too_big;		/* size > max_literal: refuse with NO [TOOBIG] */
	bool fits;		/* _accept() would succeed (room left in max_command) */
	unsigned int depth;	/* open lists around it; 0 = top-level argument */
	unsigned int index;	/* its position among the top-level arguments */
};

struct imap_cmd {
	const char *tag;	/* NULL until a valid tag was read (then "* BAD") */
	const char *name;	/* upper-cased command name (DONE) */
	const struct imap_arg *args;	/* args[n_args].type == IMAP_ARG_EOL (DONE) */
	unsigned int n_args;
	struct imap_literal literal;	/* IMAP_PARSE_LITERAL */
	struct imap_parser_error error;	/* IMAP_PARSE_ERROR */
};

struct imap_parser;

/* Fills params with the defaults of limits.h (the _PREAUTH ones when
 * !authenticated). literal_minus and utf8 are false. */
void imap_parser_params_default(struct imap_parser_params *params, bool authenticated);
struct imap_parser *imap_parser_create(const struct imap_parser_params *params);
void imap_parser_free(struct imap_parser **p);
/* New limits for the commands that follow (after login; ENABLE UTF8=ACCEPT
 * sets utf8). A command in progress keeps the old line limit. */
void imap_parser_set_params(struct imap_parser *p, const struct imap_parser_params *params);
/* Forgets everything: a partial command, a skip in progress, the last
 * command's tree (STARTTLS drops buffered plaintext). */
void imap_parser_reset(struct imap_parser *p);
/* Releases memory when no command is in progress (idle sessions). The last
 * command's tree becomes invalid. */
void imap_parser_shrink(struct imap_parser *p);
/* True while a command is partly read or being skipped. */
bool imap_parser_busy(const struct imap_parser *p);

/* Reads from buf[0..len). *used_r is set to the bytes consumed; the caller
 * drops them and passes the rest (plus new bytes) next time. Returns:
 *   IMAP_PARSE_DONE     cmd->tag, name, args are the command; they live in
 *                       the parser's arena until the next imap_parser_read,
 *                       _reset or _shrink. Bytes after it are not consumed.
 *   IMAP_PARSE_MORE     everything given was consumed; more is needed.
 *   IMAP_PARSE_LITERAL  cmd->literal describes {n}/{n+}/~{n} ending the
 *                       line just read (and cmd->tag, cmd->name); call
 *                       exactly one of _accept/_take/_refuse before the
 *                       next read (reading without a decision aborts).
 *   IMAP_PARSE_ERROR    cmd->error (and cmd->tag, possibly NULL) say what to
 *                       answer. Unless error.close, the parser skips the
 *                       rest of the command by itself (the line, and the
 *                       bytes of any {n+} literal it announces) and the next
 *                       command is read normally. After error.close nothing
 *                       more is read: the session closes.
 * Empty lines between commands are ignored. */
int imap_parser_read(struct imap_parser *p, const unsigned char *buf, size_t len, size_t *used_r,
		     struct imap_cmd *cmd);

/* The announced literal is read into the arena and becomes an
 * IMAP_ARG_LITERAL. Returns 0, or -1 when it does not fit (literal.fits was
 * false): nothing changed, call _take() or _refuse(). */
int imap_parser_literal_accept(struct imap_parser *p);
/* The session consumes the literal's size bytes itself (APPEND streams
 * them to the spool) before its next imap_parser_read(); the tree gets an
 * IMAP_ARG_LITERAL_TAKEN of that size and parsing goes on after it. */
void imap_parser_literal_take(struct imap_parser *p);
/* The command is abandoned. {n}: the client sends no literal, the next
 * line is a new command. {n+}: its bytes and the rest of the command are
 * skipped. The session sends its own reply (NO [TOOBIG] or BAD). */
void imap_parser_literal_refuse(struct imap_parser *p);

/* Reads one raw line (AUTHENTICATE responses, IDLE's "DONE") with the same
 * line limit. Returns 1 with [*line_r, *len_r) without CRLF, NUL-terminated,
 * valid until the next call; 0 when more is needed; -1 with *error_r for an
 * overlong line (the rest is skipped by later calls) or a NUL. Must not be
 * called while a command is in progress. */
int imap_parser_read_line(struct imap_parser *p, const unsigned char *buf, size_t len,
			  size_t *used_r, const char **line_r, size_t *len_r, const char **error_r);

/* Argument helpers: 0 and the value, or -1 when the type does not fit. */
/* astring = atom / string / literal (NIL counts as the atom "NIL"). */
int imap_arg_astring(const struct imap_arg *arg, const char **str_r, size_t *len_r);
/* nstring = NIL (*str_r = NULL) / string / literal. */
int imap_arg_nstring(const struct imap_arg *arg, const char **str_r, size_t *len_r);
/* string = quoted / literal. */
int imap_arg_string(const struct imap_arg *arg, const char **str_r, size_t *len_r);
/* True for an ATOM (or NIL) equal to word, ASCII case-insensitively. */
bool imap_arg_atom_is(const struct imap_arg *arg, const char *word);

#endif

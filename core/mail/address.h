/* address.h - RFC 5321 4.1.2 Path / Reverse-path parser (with RFC 6531
 * SMTPUTF8 extensions). Pure: no I/O, no allocation. A source route
 * ("@a,@b:") is parsed and dropped: only the final mailbox counts. */
#ifndef POSTERN_MAIL_ADDRESS_H
#define POSTERN_MAIL_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

#include "config/limits.h"

/* Flags of mail_address_parse(). */
#define MAIL_ADDR_UTF8		0x1	/* SMTPUTF8: UTF-8 allowed in local part and domain */
#define MAIL_ADDR_NULL_OK	0x2	/* "<>" accepted (Reverse-path) */
#define MAIL_ADDR_POSTMASTER	0x4	/* "<Postmaster>" without a domain accepted (RCPT) */

enum mail_addr_error {
	MAIL_ADDR_OK = 0,
	MAIL_ADDR_ERR_SYNTAX,		/* not a Path */
	MAIL_ADDR_ERR_LOCAL_TOO_LONG,	/* local part over LIMIT_LOCAL_PART octets */
	MAIL_ADDR_ERR_DOMAIN_TOO_LONG,	/* domain over LIMIT_DOMAIN octets */
	MAIL_ADDR_ERR_UTF8,		/* non-ASCII without MAIL_ADDR_UTF8 */
	MAIL_ADDR_ERR_BAD_UTF8,		/* malformed UTF-8 */
	MAIL_ADDR_ERR_NULL,		/* "<>" without MAIL_ADDR_NULL_OK */
};

struct mail_address {
	/* Local part with quoting removed (quoted-pairs resolved): what the
	 * store resolves. */
	char local[LIMIT_LOCAL_PART + 1];
	/* Domain, ASCII lower-cased; an address literal keeps its brackets
	 * ("[192.0.2.1]", "[IPv6:2001:db8::1]"). */
	char domain[LIMIT_DOMAIN + 1];
	/* The mailbox to use in an envelope: local part as written (quotes
	 * dropped when they were not needed) "@" domain. "" for "<>". */
	char addr[LIMIT_ADDRESS + 1];
	bool is_null;		/* "<>" */
	bool is_literal;	/* domain is an address literal */
	bool is_postmaster;	/* bare "<Postmaster>": domain is "" */
	bool quoted;		/* local part was a quoted-string */
	bool utf8;		/* non-ASCII somewhere */
};

/* Parses a Path starting at s[0] (which must be '<') and ending at the
 * matching '>'. On success returns 0, sets *used_r to the octets up to and
 * including '>' and fills out. On failure returns -1 and *err_r says why.
 * s need not be NUL-terminated. */
int mail_address_parse(const char *s, size_t len, unsigned flags, struct mail_address *out,
		       size_t *used_r, enum mail_addr_error *err_r);

/* True when s[0..len) is well-formed UTF-8 (no overlongs, surrogates or
 * values past U+10FFFF). */
bool mail_utf8_valid(const unsigned char *s, size_t len);

#endif

/* mime.h - message structure for IMAP: a MIME part tree computed once from
 * a whole message (RFC 5322, RFC 2045-2047, RFC 2183, RFC 3501/9051 7.5.2),
 * the IMAP ENVELOPE / BODY / BODYSTRUCTURE strings, a compact serialisation
 * of the tree to store beside the message, and section lookup
 * ("1.2", "TEXT", "1.MIME", "2.HEADER.FIELDS") to byte ranges. Pure: no
 * I/O, no DB. Limits: LIMIT_MIME_* in config/limits.h. */
#ifndef POSTERN_MAIL_MIME_H
#define POSTERN_MAIL_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/limits.h"
#include "lib/buf.h"

#define MIME_NONE UINT32_MAX

enum mime_kind {
	MIME_KIND_LEAF = 0,	/* any non-text single part */
	MIME_KIND_TEXT,		/* text/<any>: BODYSTRUCTURE carries a line count */
	MIME_KIND_MULTIPART,	/* children are its body parts */
	MIME_KIND_RFC822,	/* message/rfc822: one child, the encapsulated message */
};

enum mime_enc {
	MIME_ENC_7BIT = 0,	/* also the default and every unknown token */
	MIME_ENC_8BIT,
	MIME_ENC_BINARY,
	MIME_ENC_BASE64,
	MIME_ENC_QP,
};
/* XXX: BINARY[] / BINARY.SIZE need a decoder of base64 and quoted-printable
 * over [body_off, body_off + body_len) chosen by enc; not here yet. */

/* Part flags. */
#define MIME_PART_MESSAGE	0x01	/* root, or the child of a message/rfc822: has an envelope */
#define MIME_PART_FLATTENED	0x02	/* multipart or message/rfc822 past a limit: a text/plain leaf */
#define MIME_PART_DIGEST	0x04	/* multipart/digest: children default to message/rfc822 */

/* One part. Parts are stored in pre-order: parts[0] is the whole message;
 * a part's descendants follow it. The header is [hdr_off, hdr_off +
 * hdr_len) including the blank line that ends it (when there is one); the
 * body is [body_off, body_off + body_len) with body_off == hdr_off +
 * hdr_len. Inside a multipart the CRLF before a boundary line belongs to
 * the boundary, not to the body. lines = LFs in the body. */
struct mime_part {
	uint32_t parent;	/* MIME_NONE for parts[0] */
	uint32_t first_child;	/* MIME_NONE for a leaf */
	uint32_t next;		/* next sibling or MIME_NONE */
	uint32_t nchildren;
	uint16_t depth;		/* parts[0] is 0 */
	uint8_t kind;		/* enum mime_kind */
	uint8_t enc;		/* enum mime_enc */
	uint8_t flags;		/* MIME_PART_* */
	size_t hdr_off, hdr_len;
	size_t body_off, body_len;
	size_t lines;
};

struct mime_tree {
	struct mime_part *parts;
	uint32_t count;
	uint32_t alloc;
	size_t msg_len;		/* the message the offsets refer to */
};

/* Parses a whole message (CRLF line ends; bare LF works too). Never fails
 * on content: broken MIME yields a sensible tree within the LIMIT_MIME_*
 * limits; memory is O(parts). Aborts only on out of memory. Free the result
 * with mime_tree_free(). */
struct mime_tree *mime_parse(const unsigned char *msg, size_t len);
void mime_tree_free(struct mime_tree **tree);

/* IMAP strings, appended to out exactly as a server sends them (quoted
 * strings, or literals {n}\r\n... when quoting is unsafe). part must be a
 * part with MIME_PART_MESSAGE for the envelope (0 = the message). The
 * message must be the one the tree was parsed from. Return 0, or -1 when out
 * would pass its cap (out then holds a partial string). */
int mime_render_envelope(const struct mime_tree *tree, const unsigned char *msg, uint32_t part,
			 struct buf *out);
/* BODYSTRUCTURE (extended) or BODY (!extended) of a part (0 = message). */
int mime_render_bodystructure(const struct mime_tree *tree, const unsigned char *msg,
			      uint32_t part, bool extended, struct buf *out);

/* The compact serialisation: "M1" then one record per part in pre-order,
 * ";<section>,<kind><enc><flags>,<hdr_off>,<hdr_len>,<body_len>,<lines>,<nchildren>"
 * (section "" for the message, "2.1" ...; kind t/l/m/r; enc 7/8/b/B/Q;
 * flags a hex digit). ASCII, no spaces: fits a text column. Returns 0 or -1
 * when out would pass its cap. */
int mime_serialize(const struct mime_tree *tree, struct buf *out);
/* Parses a serialisation back, checking every offset against msg_len, the
 * counts against the limits and the tree shape (sections must match).
 * Returns the tree, or NULL with *error_r set (a static string). */
struct mime_tree *mime_deserialize(const char *s, size_t len, size_t msg_len,
				   const char **error_r);

/* Section label of a part ("" for parts[0], "1.2"; an encapsulated
 * message shares the label of its message/rfc822 part, except that the
 * message inside a message that is itself message/rfc822 is its part 1). Returns the length,
 * or -1 when it does not fit dst (dst then holds ""). */
int mime_section_label(const struct mime_tree *tree, uint32_t part, char *dst, size_t dstsize);

enum mime_section_kind {
	MIME_SECTION_ALL = 0,		/* BODY[]: the whole message */
	MIME_SECTION_BODY,		/* BODY[1.2]: the part's body */
	MIME_SECTION_HEADER,		/* BODY[HEADER], BODY[2.HEADER] */
	MIME_SECTION_HEADER_FIELDS,	/* HEADER.FIELDS (...): filter the range */
	MIME_SECTION_HEADER_FIELDS_NOT,
	MIME_SECTION_TEXT,		/* BODY[TEXT], BODY[2.TEXT] */
	MIME_SECTION_MIME,		/* BODY[1.MIME]: the part's own header */
};

struct mime_section {
	enum mime_section_kind kind;
	uint32_t part;		/* the part the range belongs to */
	size_t off, len;	/* byte range in the message */
	size_t spec_used;	/* octets of spec consumed: for HEADER.FIELDS the
				 * field list " (...)" follows there */
};

/* Resolves a section spec (RFC 9051 6.4.5 section-spec, without the
 * brackets: "", "1.2", "TEXT", "HEADER", "1.MIME", "2.HEADER.FIELDS.NOT",
 * case-insensitive) against the tree. The field list of HEADER.FIELDS is
 * not parsed: spec may end after ".FIELDS" or continue with " (...)".
 * Returns 0, or -1 with *error_r when the section does not exist. */
int mime_section_lookup(const struct mime_tree *tree, const char *spec, size_t len,
			struct mime_section *out, const char **error_r);

/* Iterates header fields in msg[*pos .. end): sets the name range (trailing
 * whitespace trimmed) and the raw value range (after ':' and the blanks
 * after it, up to the end of the field, folding included, final CRLF
 * excluded), and advances *pos past the field. Lines without ':' are
 * skipped. Returns 1 for a field, 0 at the blank line or at end. */
int mime_header_next(const unsigned char *msg, size_t *pos, size_t end, size_t *name_off,
		     size_t *name_len, size_t *val_off, size_t *val_len);

#endif

/* stuff.h - POP3 multi-line output (RFC 1939 section 3): byte-stuffing of a
 * message for RETR/TOP and TOP's cut of headers plus n body lines. Pure
 * functions; the session streams their output as the connection drains. */
#ifndef POSTERN_POP3_STUFF_H
#define POSTERN_POP3_STUFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest terminator pop3_stuff_end() writes: CRLF "." CRLF. */
#define POP3_STUFF_END_MAX 5

struct pop3_stuff {
	bool bol;	/* next byte starts a line */
	bool cr;	/* previous byte was CR */
};

void pop3_stuff_init(struct pop3_stuff *st);
/* Converts message bytes in[0..len) to wire bytes in out[0..outcap): a "."
 * starting a line is doubled and a bare LF becomes CRLF. Stops when out
 * cannot take the next byte's expansion (2 bytes at most). Returns bytes
 * written; *used_r = input bytes consumed. */
size_t pop3_stuff_run(struct pop3_stuff *st, const unsigned char *in, size_t len, size_t *used_r,
		      unsigned char *out, size_t outcap);
/* Writes the terminator of the multi-line reply into out (at least
 * POP3_STUFF_END_MAX bytes): CRLF first when the message did not end with a
 * line end, then ".\r\n". Returns its length. */
size_t pop3_stuff_end(const struct pop3_stuff *st, unsigned char *out);

/* Length of the prefix of a message that TOP msg n sends (RFC 1939 section
 * 7): the header, the empty line that ends it, then n lines of the body. A
 * message without an empty line is all header. */
size_t pop3_top_len(const unsigned char *msg, size_t len, uint64_t n);

#endif

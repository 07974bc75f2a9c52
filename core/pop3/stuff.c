/* stuff.c - multi-line replies of RETR and TOP (RFC 1939 sections 3 and 7).
 *
 * Stored messages have CRLF line ends, so the wire copy is the message with
 * every line-initial "." doubled, then ".\r\n". We are robust to stored
 * bytes that break that rule: a bare LF is sent as CRLF and a last line
 * without a line end gets one, so the terminator is always recognised.
 * No limits here: the caller bounds out and streams in pieces. */
#include "pop3/stuff.h"

void pop3_stuff_init(struct pop3_stuff *st)
{
	st->bol = true;
	st->cr = false;
}

size_t pop3_stuff_run(struct pop3_stuff *st, const unsigned char *in, size_t len, size_t *used_r,
		      unsigned char *out, size_t outcap)
{
	size_t i = 0, o = 0;

	while (i < len) {
		unsigned char ch = in[i];

		if (ch == '\n') {
			if (st->cr) {
				if (o + 1 > outcap)
					break;
				out[o++] = '\n';
			} else {
				if (o + 2 > outcap)
					break;
				out[o++] = '\r';
				out[o++] = '\n';
			}
			st->bol = true;
			st->cr = false;
		} else {
			if (st->bol && ch == '.') {
				if (o + 2 > outcap)
					break;
				out[o++] = '.';
				out[o++] = '.';
			} else {
				if (o + 1 > outcap)
					break;
				out[o++] = ch;
			}
			st->bol = false;
			st->cr = ch == '\r';
		}
		i++;
	}
	*used_r = i;
	return o;
}

size_t pop3_stuff_end(const struct pop3_stuff *st, unsigned char *out)
{
	size_t o = 0;

	if (!st->bol) {
		/* A trailing CR alone already went out: only its LF is missing. */
		if (!st->cr)
			out[o++] = '\r';
		out[o++] = '\n';
	}
	out[o++] = '.';
	out[o++] = '\r';
	out[o++] = '\n';
	return o;
}

size_t pop3_top_len(const unsigned char *msg, size_t len, uint64_t n)
{
	size_t i = 0;

	/* The header ends at the first empty line ("\r\n" or "\n" alone). */
	for (;;) {
		size_t start = i;

		if (i >= len)
			return len;
		while (i < len && msg[i] != '\n')
			i++;
		if (i >= len)
			return len;	/* header without an empty line */
		i++;
		if (i - start == 1 || (i - start == 2 && msg[start] == '\r'))
			break;
	}
	/* Then n lines of the body; a last line without LF counts. */
	while (n > 0 && i < len) {
		while (i < len && msg[i] != '\n')
			i++;
		if (i < len)
			i++;
		n--;
	}
	return i;
}

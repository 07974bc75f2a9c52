/* data.c - the DATA / BDAT content decoders and the Received counter.
 * RFC 5321 4.1.1.4 (end of data), 4.5.2 (transparency: dot-unstuffing),
 * 2.3.8 (lines end with CRLF only), RFC 3030 (BDAT: octets as sent).
 * SMTP smuggling (CVE-2023-51764): "\n.\n", "\r.\r", "\r\n.\n", "\n.\r\n"
 * and the like are content; bare CR and bare LF are stored as CRLF so no
 * later hop can read them as line ends differently than we did. Pure code:
 * no limits here, the caller's spool enforces the message size. */
#include <string.h>

#include "mail/data.h"

enum {
	ST_BOL = 0,	/* start of a line after a real CRLF (or the message) */
	ST_BOL_DOT,	/* "." at ST_BOL */
	ST_BOL_DOT_CR,	/* ".\r" at ST_BOL */
	ST_MID,		/* inside a line (or after a bare CR/LF) */
	ST_CR,		/* "\r" seen inside a line, not yet written */
};

void mail_data_init(struct mail_data *d)
{
	d->state = ST_BOL;
	d->done = false;
}

void mail_bdat_init(struct mail_data *d)
{
	d->state = ST_MID;
	d->done = false;
}

static size_t put_crlf(unsigned char *o)
{
	o[0] = '\r';
	o[1] = '\n';
	return 2;
}

/* One byte in ST_MID (also used after a bare CR was flushed). */
static size_t mid_byte(struct mail_data *d, unsigned char ch, unsigned char *o)
{
	if (ch == '\r') {
		d->state = ST_CR;
		return 0;
	}
	d->state = ST_MID;
	if (ch == '\n')
		return put_crlf(o);	/* bare LF */
	o[0] = ch;
	return 1;
}

static int decode(struct mail_data *d, bool dots, const unsigned char *in, size_t len,
		  size_t *used_r, unsigned char *out, size_t outcap, size_t *outlen_r)
{
	size_t i = 0, o = 0;
	int ret = 0;
	while (i < len && outcap - o >= MAIL_DATA_MAX_EXPANSION) {
		if (d->state == ST_MID) {
			/* Fast path: inside a line only CR and LF matter, so the
			 * run before the next one is copied as it is. Room for
			 * the expansion of the byte after the run is kept. */
			size_t room = outcap - o - (MAIL_DATA_MAX_EXPANSION - 1);
			size_t max = len - i < room ? len - i : room;
			const unsigned char *lf = memchr(in + i, '\n', max);
			size_t lim = lf != NULL ? (size_t)(lf - (in + i)) : max;
			const unsigned char *cr = memchr(in + i, '\r', lim);
			size_t n = cr != NULL ? (size_t)(cr - (in + i)) : lim;

			if (n > 0) {
				memcpy(out + o, in + i, n);
				o += n;
				i += n;
				continue;
			}
		}
		unsigned char ch = in[i++];
		switch (d->state) {
		case ST_BOL:
			if (dots && ch == '.')
				d->state = ST_BOL_DOT;
			else
				o += mid_byte(d, ch, out + o);
			break;
		case ST_BOL_DOT:
			/* The leading dot is dropped; ch starts the line's content. */
			if (ch == '\r')
				d->state = ST_BOL_DOT_CR;
			else
				o += mid_byte(d, ch, out + o);
			break;
		case ST_BOL_DOT_CR:
			if (ch == '\n') {
				d->done = true;
				ret = 1;
				goto out;
			}
			/* ".\r" + other: the CR was bare. */
			o += put_crlf(out + o);
			o += mid_byte(d, ch, out + o);
			break;
		case ST_MID:
			o += mid_byte(d, ch, out + o);
			break;
		case ST_CR:
			if (ch == '\n') {
				o += put_crlf(out + o);
				d->state = dots ? ST_BOL : ST_MID;
			} else {
				o += put_crlf(out + o);	/* bare CR */
				o += mid_byte(d, ch, out + o);
			}
			break;
		}
	}
out:
	*used_r = i;
	*outlen_r = o;
	return ret;
}

int mail_data_decode(struct mail_data *d, const unsigned char *in, size_t len, size_t *used_r,
		     unsigned char *out, size_t outcap, size_t *outlen_r)
{
	if (d->done) {
		*used_r = 0;
		*outlen_r = 0;
		return 1;
	}
	return decode(d, true, in, len, used_r, out, outcap, outlen_r);
}

int mail_bdat_decode(struct mail_data *d, const unsigned char *in, size_t len, size_t *used_r,
		     unsigned char *out, size_t outcap, size_t *outlen_r)
{
	return decode(d, false, in, len, used_r, out, outcap, outlen_r);
}

size_t mail_bdat_finish(struct mail_data *d, unsigned char *out)
{
	if (d->state != ST_CR)
		return 0;
	d->state = ST_MID;
	return put_crlf(out);
}

void mail_received_init(struct mail_received_counter *r)
{
	r->count = 0;
	r->match = 0;
	r->bol = true;
	r->in_body = false;
	r->nomatch = false;
}

void mail_received_feed(struct mail_received_counter *r, const unsigned char *p, size_t n)
{
	static const char name[] = "received:";
	for (size_t i = 0; i < n && !r->in_body; i++) {
		unsigned char ch = p[i];
		if (r->bol) {
			/* Input is CRLF-normalised: CR at the start of a line is
			 * the empty line that ends the header section. */
			if (ch == '\r') {
				r->in_body = true;
				break;
			}
			r->bol = false;
			r->match = 0;
			r->nomatch = false;
		}
		if (ch == '\n') {
			r->bol = true;
			continue;
		}
		if (r->nomatch)
			continue;
		unsigned char lc = (ch >= 'A' && ch <= 'Z') ? (unsigned char)(ch | 0x20) : ch;
		if (lc == (unsigned char)name[r->match]) {
			if (++r->match == sizeof name - 1) {
				r->count++;
				r->nomatch = true;
			}
		} else {
			r->nomatch = true;
		}
	}
}

/* data.h - pure incremental decoders for SMTP message content.
 *
 * DATA (RFC 5321 4.1.1.4, 4.5.2): only <CRLF>.<CRLF> ends the message (also
 * "." as the very first line); bare CR and bare LF never end it and are each
 * stored as CRLF (SMTP smuggling, CVE-2023-51764); a leading dot is removed
 * only on lines that follow a real CRLF (or the start).
 * BDAT (RFC 3030): the same CR/LF normalisation, no dot handling, the CR
 * state carried across chunks.
 * The Received counter scans the decoded header section (loop detection,
 * RFC 5321 6.3). */
#ifndef POSTERN_MAIL_DATA_H
#define POSTERN_MAIL_DATA_H

#include <stdbool.h>
#include <stddef.h>

/* Worst-case output for one input byte (bare CR then a byte: CR LF x). */
#define MAIL_DATA_MAX_EXPANSION 3

struct mail_data {
	int state;	/* private */
	bool done;	/* end of DATA seen */
};

/* DATA mode decoder at the start of a message. */
void mail_data_init(struct mail_data *d);
/* Decodes in[0..len). Writes decoded bytes to out (outcap bytes) and sets
 * *outlen_r; *used_r is the input consumed. Stops early when out has fewer
 * than MAIL_DATA_MAX_EXPANSION bytes of room left. Returns 1 when the
 * terminating <CRLF>.<CRLF> was consumed (bytes after it are not touched),
 * 0 when more input is needed. */
int mail_data_decode(struct mail_data *d, const unsigned char *in, size_t len, size_t *used_r,
		     unsigned char *out, size_t outcap, size_t *outlen_r);

/* BDAT mode: the same contract without end detection (never returns 1). */
void mail_bdat_init(struct mail_data *d);
int mail_bdat_decode(struct mail_data *d, const unsigned char *in, size_t len, size_t *used_r,
		     unsigned char *out, size_t outcap, size_t *outlen_r);
/* After the LAST chunk: flushes a pending bare CR as CRLF. out needs 2
 * bytes; returns the bytes written (0 or 2). */
size_t mail_bdat_finish(struct mail_data *d, unsigned char *out);

/* Counts "Received:" header fields in a decoded (CRLF) message. */
struct mail_received_counter {
	unsigned count;
	unsigned char match;	/* private: bytes of "received:" matched on this line */
	bool bol;		/* private */
	bool in_body;		/* header section ended */
	bool nomatch;		/* private: this line cannot match */
};
void mail_received_init(struct mail_received_counter *r);
void mail_received_feed(struct mail_received_counter *r, const unsigned char *p, size_t n);

#endif

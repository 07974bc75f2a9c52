/* smtpc.c - one client connection to a remote SMTP server (RFC 5321 as the
 * client side; RFC 3207 STARTTLS). Blocking from the caller's point of view,
 * non-blocking underneath: every wait is a poll() bounded by the RFC 5321
 * 4.5.3.2 timeouts of limits.h and broken off by the stop fd. Reply lines
 * are capped at LIMIT_SMTPC_REPLY_LINE and replies at
 * LIMIT_SMTPC_REPLY_LINES lines; a server past either is dropped. */
#include "queue/smtpc.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "dns/dns.h"
#include "lib/str.h"
#include "lib/strnum.h"

static long long smtpc_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int smtpc_fail(struct smtpc *c, const char *what)
{
	if (c->error[0] == '\0')
		str_fmt(c->error, sizeof(c->error), "%s", what);
	return -1;
}

/* Waits for events on c->fd until deadline (monotonic ms). */
static int smtpc_wait(struct smtpc *c, short events, long long deadline)
{
	for (;;) {
		long long left = deadline - smtpc_now_ms();
		struct pollfd p[2] = { { .fd = c->fd, .events = events },
				       { .fd = c->stop_fd, .events = POLLIN } };
		if (left <= 0)
			return smtpc_fail(c, "timeout");
		int n = poll(p, c->stop_fd >= 0 ? 2 : 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return smtpc_fail(c, "poll failed");
		if (c->stop_fd >= 0 && (p[1].revents & POLLIN))
			return smtpc_fail(c, "shutting down");
		if (n > 0)
			return 0;
	}
}

/* After an SSL call that returned r: the poll events it waits for (then
 * call it again), or 0 when it failed. */
static short smtpc_ssl_want(struct smtpc *c, int r)
{
	int e = SSL_get_error(c->ssl, r);
	return e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
}

int smtpc_connect(struct smtpc *c, const struct sockaddr *sa, socklen_t salen, int stop_fd)
{
	memset(c, 0, sizeof(*c));
	c->stop_fd = stop_fd;
	c->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return smtpc_fail(c, "socket failed");
	/* commands are written whole (a pipelined group in one write): no
	 * Nagle delay waiting for the peer's delayed ACK */
	int one = 1;
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, sa, salen) < 0) {
		if (errno != EINPROGRESS) {
			str_fmt(c->error, sizeof(c->error), "connect: %s", strerror(errno));
			return -1;
		}
		if (smtpc_wait(c, POLLOUT, smtpc_now_ms() + LIMIT_SMTPC_CONNECT_MS) < 0)
			return -1;
		int err = 0;
		socklen_t len = sizeof(err);
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
			str_fmt(c->error, sizeof(c->error), "connect: %s", strerror(err ? err : errno));
			return -1;
		}
	}
	return 0;
}

void smtpc_close(struct smtpc *c)
{
	if (c->ssl != NULL) {
		(void)SSL_shutdown(c->ssl);	/* best effort, non-blocking */
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* One read into rbuf (appending); 0 or -1 (EOF, error, timeout). */
static int smtpc_fill(struct smtpc *c, long long deadline)
{
	if (c->roff > 0) {
		memmove(c->rbuf, c->rbuf + c->roff, c->rlen);
		c->roff = 0;
	}
	if (c->rlen == sizeof(c->rbuf))
		return smtpc_fail(c, "reply line too long");
	for (;;) {
		ssize_t n;
		if (c->ssl != NULL) {
			int r = SSL_read(c->ssl, c->rbuf + c->rlen, (int)(sizeof(c->rbuf) - c->rlen));
			if (r > 0) {
				c->rlen += (size_t)r;
				return 0;
			}
			short ev = smtpc_ssl_want(c, r);
			if (ev == 0)
				return smtpc_fail(c, "connection closed (TLS)");
			if (smtpc_wait(c, ev, deadline) < 0)
				return -1;
			continue;
		}
		n = read(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen);
		if (n > 0) {
			c->rlen += (size_t)n;
			return 0;
		}
		if (n == 0)
			return smtpc_fail(c, "connection closed by the server");
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			str_fmt(c->error, sizeof(c->error), "read: %s", strerror(errno));
			return -1;
		}
		if (smtpc_wait(c, POLLIN, deadline) < 0)
			return -1;
	}
}

/* One line without CRLF into line (NUL-terminated). */
static int smtpc_line(struct smtpc *c, long long deadline, char *line, size_t linesize)
{
	for (;;) {
		unsigned char *p = c->rbuf + c->roff;
		unsigned char *lf = memchr(p, '\n', c->rlen);
		if (lf != NULL) {
			size_t len = (size_t)(lf - p), used = len + 1;
			if (used > LIMIT_SMTPC_REPLY_LINE)	/* CRLF included */
				return smtpc_fail(c, "reply line too long");
			if (len > 0 && p[len - 1] == '\r')
				len--;
			if (len >= linesize)
				return smtpc_fail(c, "reply line too long");
			memcpy(line, p, len);
			line[len] = '\0';
			c->roff += used;
			c->rlen -= used;
			return 0;
		}
		if (c->rlen >= LIMIT_SMTPC_REPLY_LINE)
			return smtpc_fail(c, "reply line too long");
		if (smtpc_fill(c, deadline) < 0)
			return -1;
	}
}

int smtpc_reply(struct smtpc *c, int timeout_ms, struct smtpc_reply *r)
{
	long long deadline = smtpc_now_ms() + timeout_ms;
	static __thread char line[LIMIT_SMTPC_REPLY_LINE + 1];
	size_t tl = 0;

	r->code = 0;
	r->text[0] = '\0';
	for (int n = 0; n < LIMIT_SMTPC_REPLY_LINES; n++) {
		uint64_t code;
		if (smtpc_line(c, deadline, line, sizeof(line)) < 0)
			return -1;
		size_t len = strlen(line);
		if (len < 3 || strnum_u64(line, 3, 599, &code) < 0 || code < 200 ||
		    (len > 3 && line[3] != ' ' && line[3] != '-'))
			return smtpc_fail(c, "malformed reply");
		if (r->code != 0 && (int)code != r->code)
			return smtpc_fail(c, "reply codes differ within one reply");
		r->code = (int)code;
		const char *t = len > 4 ? line + 4 : "";
		if (tl > 0 && tl + 3 < sizeof(r->text)) {
			memcpy(r->text + tl, " / ", 3);
			tl += 3;
		}
		if (tl < sizeof(r->text) - 1) {
			str_printable(r->text + tl, sizeof(r->text) - tl, t, strlen(t));
			tl += strlen(r->text + tl);
		}
		if (len == 3 || line[3] == ' ')
			return 0;
	}
	return smtpc_fail(c, "reply with too many lines");
}

int smtpc_write(struct smtpc *c, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n > 0) {
		long long deadline = smtpc_now_ms() + LIMIT_SMTPC_DATA_BLOCK_MS;
		if (c->ssl != NULL) {
			size_t done = 0;
			int r = SSL_write_ex(c->ssl, b, n, &done);
			if (r == 1) {
				b += done;
				n -= done;
				continue;
			}
			short ev = smtpc_ssl_want(c, r);
			if (ev == 0)
				return smtpc_fail(c, "TLS write failed");
			if (smtpc_wait(c, ev, deadline) < 0)
				return -1;
			continue;
		}
		ssize_t w = send(c->fd, b, n, MSG_NOSIGNAL);
		if (w > 0) {
			b += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (smtpc_wait(c, POLLOUT, deadline) < 0)
				return -1;
			continue;
		}
		str_fmt(c->error, sizeof(c->error), "write: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int smtpc_cmd(struct smtpc *c, int timeout_ms, struct smtpc_reply *r, const char *line)
{
	char buf[1024];
	size_t n = strlen(line);

	if (n + 2 <= sizeof(buf)) {	/* one write, one TLS record */
		memcpy(buf, line, n);
		memcpy(buf + n, "\r\n", 2);
		if (smtpc_write(c, buf, n + 2) < 0)
			return -1;
	} else if (smtpc_write(c, line, n) < 0 || smtpc_write(c, "\r\n", 2) < 0) {
		return -1;
	}
	return smtpc_reply(c, timeout_ms, r);
}

static bool smtpc_kw(const char *w, size_t len, const char *kw)
{
	return strlen(kw) == len && str_casestarts(w, len, kw);
}

/* Keywords from the joined EHLO text: "host greets / PIPELINING / SIZE 100". */
static void smtpc_parse_ext(struct smtpc *c, const char *text)
{
	const char *p = strstr(text, " / ");

	c->ext = 0;
	c->size_max = 0;
	while (p != NULL) {
		const char *w = p + 3, *end = strstr(w, " / ");
		size_t len = end ? (size_t)(end - w) : strlen(w);
		size_t kl = 0;
		while (kl < len && w[kl] != ' ' && w[kl] != '=')
			kl++;
		if (smtpc_kw(w, kl, "STARTTLS"))
			c->ext |= SMTPC_EXT_STARTTLS;
		else if (smtpc_kw(w, kl, "PIPELINING"))
			c->ext |= SMTPC_EXT_PIPELINING;
		else if (smtpc_kw(w, kl, "8BITMIME"))
			c->ext |= SMTPC_EXT_8BITMIME;
		else if (smtpc_kw(w, kl, "SMTPUTF8"))
			c->ext |= SMTPC_EXT_SMTPUTF8;
		else if (smtpc_kw(w, kl, "CHUNKING"))
			c->ext |= SMTPC_EXT_CHUNKING;
		else if (smtpc_kw(w, kl, "SIZE")) {
			uint64_t v;
			c->ext |= SMTPC_EXT_SIZE;
			if (kl + 1 < len && strnum_u64(w + kl + 1, len - kl - 1, UINT64_MAX / 2, &v) == 0)
				c->size_max = v;
		} else if (smtpc_kw(w, kl, "AUTH")) {
			for (size_t i = kl; i + 5 <= len; i++)
				if (str_casestarts(w + i, len - i, "PLAIN") &&
				    (i + 5 == len || w[i + 5] == ' ') && w[i - 1] == ' ')
					c->ext |= SMTPC_EXT_AUTH_PLAIN;
		}
		p = end;
	}
}

int smtpc_ehlo(struct smtpc *c, const char *name, struct smtpc_reply *r)
{
	char line[300];

	if (str_fmt(line, sizeof(line), "EHLO %s", name) < 0)
		return smtpc_fail(c, "host name too long");
	if (smtpc_cmd(c, LIMIT_SMTPC_CMD_MS, r, line) < 0)
		return -1;
	if (r->code / 100 == 2) {
		smtpc_parse_ext(c, r->text);
		return 0;
	}
	if (r->code / 100 != 5)
		return 0;
	c->ext = 0;
	if (str_fmt(line, sizeof(line), "HELO %s", name) < 0)
		return smtpc_fail(c, "host name too long");
	return smtpc_cmd(c, LIMIT_SMTPC_CMD_MS, r, line);
}

int smtpc_tls(struct smtpc *c, SSL_CTX *ctx, const char *sni, const char *verify_name,
	      const struct dns_answer *tlsa)
{
	long long deadline = smtpc_now_ms() + LIMIT_SMTPC_CMD_MS;

	if (c->rlen > 0)
		return smtpc_fail(c, "data after the STARTTLS reply");	/* RFC 3207 4.2 */
	c->ssl = SSL_new(ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1)
		return smtpc_fail(c, "TLS set-up failed");
	if (sni != NULL)
		(void)SSL_set_tlsext_host_name(c->ssl, sni);
	if (tlsa != NULL) {
		size_t usable = 0;
		if (SSL_dane_enable(c->ssl, verify_name) <= 0)
			return smtpc_fail(c, "TLS set-up failed (DANE)");
		/* RFC 7672 3.1.1: no name checks with DANE-EE */
		SSL_dane_set_flags(c->ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
		for (size_t i = 0; i < tlsa->n; i++) {
			const struct dns_rr *r = &tlsa->rr[i];
			if (r->u.tlsa.usage < 2)
				continue;	/* PKIX-TA/PKIX-EE unusable for SMTP (3.1.3) */
			if (SSL_dane_tlsa_add(c->ssl, r->u.tlsa.usage, r->u.tlsa.selector,
					      r->u.tlsa.mtype, r->u.tlsa.data, r->u.tlsa.len) > 0)
				usable++;
		}
		if (usable == 0)
			return smtpc_fail(c, "no usable TLSA record");
		SSL_set_verify(c->ssl, SSL_VERIFY_PEER, NULL);
	} else if (verify_name != NULL) {
		SSL_set_hostflags(c->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (SSL_set1_host(c->ssl, verify_name) != 1)
			return smtpc_fail(c, "TLS set-up failed (host name)");
	}
	SSL_set_connect_state(c->ssl);
	for (;;) {
		int r = SSL_do_handshake(c->ssl);
		if (r == 1)
			return 0;
		short ev = smtpc_ssl_want(c, r);
		if (ev != 0) {
			if (smtpc_wait(c, ev, deadline) < 0)
				return -1;
			continue;
		}
		unsigned long err = ERR_get_error();
		char buf[160];
		ERR_error_string_n(err, buf, sizeof(buf));
		long vr = SSL_get_verify_result(c->ssl);
		if (vr != X509_V_OK)
			str_fmt(c->error, sizeof(c->error), "TLS handshake failed: %s",
				X509_verify_cert_error_string(vr));
		else
			str_fmt(c->error, sizeof(c->error), "TLS handshake failed: %s",
				err ? buf : "connection closed");
		ERR_clear_error();
		return -1;
	}
}

int smtpc_data(struct smtpc *c, const unsigned char *p, size_t n)
{
	unsigned char out[16384];
	size_t o = 0;
	bool bol = true;

	for (size_t i = 0; i < n; i++) {
		if (o + 2 > sizeof(out)) {
			if (smtpc_write(c, out, o) < 0)
				return -1;
			o = 0;
		}
		if (bol && p[i] == '.')
			out[o++] = '.';	/* RFC 5321 4.5.2 */
		out[o++] = p[i];
		bol = p[i] == '\n';
	}
	if (o > 0 && smtpc_write(c, out, o) < 0)
		return -1;
	if (n > 0 && !bol)
		return smtpc_write(c, "\r\n.\r\n", 5);
	return smtpc_write(c, ".\r\n", 3);
}

void smtpc_status(const struct smtpc_reply *r, char *out, size_t outsize)
{
	const char *t = r->text;
	int cls = r->code / 100;
	size_t i = 0;

	/* class.subject.detail: [245] "." 1*3digit "." 1*3digit (RFC 3463) */
	if ((t[0] == '2' || t[0] == '4' || t[0] == '5') && t[0] - '0' == cls && t[1] == '.') {
		int dots = 0, digits = 0;
		for (i = 2; t[i] != '\0'; i++) {
			if (t[i] >= '0' && t[i] <= '9') {
				if (++digits > 3)
					break;
			} else if (t[i] == '.' && digits > 0 && dots == 0) {
				dots++;
				digits = 0;
			} else {
				break;
			}
		}
		if (dots == 1 && digits > 0 && (t[i] == '\0' || t[i] == ' ') && i < outsize) {
			memcpy(out, t, i);
			out[i] = '\0';
			return;
		}
	}
	str_fmt(out, outsize, "%d.0.0", cls >= 2 && cls <= 5 ? cls : 4);
}

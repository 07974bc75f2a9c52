/* imapc.c - the blocking IMAP client of posternctl import imap (RFC 3501):
 * greeting, STARTTLS (RFC 2595: buffered plaintext dropped before the
 * handshake), LOGIN with quoted strings, tagged commands, and responses read
 * whole - a line, then for each "{n}" the n octets and the rest of the line -
 * into one buffer capped at LIMIT_IMPORT_RESPONSE. TLS 1.2+ with the peer's
 * certificate checked against the system CAs or --ca-file and its name (or
 * IP address) against the host given. Socket reads and writes time out after
 * LIMIT_IMPORT_TIMEOUT_S. */
#include "ops/imapc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "config/limits.h"
#include "lib/buf.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/strnum.h"

struct imapc {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	unsigned tag;
	unsigned char in[16384];
	size_t in_len, in_pos;
	struct buf resp;
};

static void imapc_err(char *err, size_t errsize, const char *what, const char *detail)
{
	if (str_fmt(err, errsize, "%s%s%s", what, detail ? ": " : "", detail ? detail : "") < 0)
		str_lcpy(err, what, errsize);
}

/* ---------- I/O ---------- */

static ssize_t imapc_io_read(struct imapc *c, void *p, size_t n)
{
	if (c->ssl != NULL) {
		size_t got = 0;
		if (SSL_read_ex(c->ssl, p, n, &got) == 1)
			return (ssize_t)got;
		return SSL_get_error(c->ssl, 0) == SSL_ERROR_ZERO_RETURN ? 0 : -1;
	}
	for (;;) {
		ssize_t r = read(c->fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		return r;
	}
}

static int imapc_io_write(struct imapc *c, const void *p, size_t n)
{
	const unsigned char *s = p;

	while (n > 0) {
		ssize_t w;
		if (c->ssl != NULL) {
			size_t done = 0;
			w = SSL_write_ex(c->ssl, s, n, &done) == 1 ? (ssize_t)done : -1;
		} else {
			w = write(c->fd, s, n);
			if (w < 0 && errno == EINTR)
				continue;
		}
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

static int imapc_fill(struct imapc *c)
{
	ssize_t r;

	if (c->in_pos < c->in_len)
		return 0;
	r = imapc_io_read(c, c->in, sizeof(c->in));
	if (r <= 0)
		return -1;
	c->in_len = (size_t)r;
	c->in_pos = 0;
	return 0;
}

/* Appends one line (through its LF) to c->resp. */
static int imapc_read_line(struct imapc *c)
{
	for (;;) {
		unsigned char *lf;
		size_t take;

		if (imapc_fill(c) < 0)
			return -1;
		lf = memchr(c->in + c->in_pos, '\n', c->in_len - c->in_pos);
		take = lf != NULL ? (size_t)(lf - (c->in + c->in_pos)) + 1 : c->in_len - c->in_pos;
		if (buf_append(&c->resp, c->in + c->in_pos, take) < 0)
			return -1;
		c->in_pos += take;
		if (lf != NULL)
			return 0;
	}
}

static int imapc_read_bytes(struct imapc *c, size_t n)
{
	while (n > 0) {
		size_t take;
		if (imapc_fill(c) < 0)
			return -1;
		take = c->in_len - c->in_pos < n ? c->in_len - c->in_pos : n;
		if (buf_append(&c->resp, c->in + c->in_pos, take) < 0)
			return -1;
		c->in_pos += take;
		n -= take;
	}
	return 0;
}

/* The literal size announced at the end of the line just read, or -1. */
static long long imapc_literal_at_end(const struct imapc *c)
{
	const char *d = (const char *)buf_data(&c->resp);
	size_t len = buf_len(&c->resp), i, digits_end;
	uint64_t n;

	if (len < 5 || d[len - 1] != '\n' || d[len - 2] != '\r' || d[len - 3] != '}')
		return -1;
	digits_end = len - 3;
	if (d[digits_end - 1] == '+')
		digits_end--;
	i = digits_end;
	while (i > 0 && d[i - 1] >= '0' && d[i - 1] <= '9')
		i--;
	if (i == 0 || i == digits_end || d[i - 1] != '{' ||
	    strnum_u64(d + i, digits_end - i, LIMIT_IMPORT_RESPONSE, &n) < 0)
		return -1;
	return (long long)n;
}

/* One whole response into c->resp, without the final CRLF. */
static int imapc_read_response(struct imapc *c)
{
	buf_reset(&c->resp);
	for (;;) {
		long long lit;
		if (imapc_read_line(c) < 0)
			return -1;
		lit = imapc_literal_at_end(c);
		if (lit < 0)
			break;
		if (imapc_read_bytes(c, (size_t)lit) < 0)
			return -1;
	}
	if (buf_len(&c->resp) >= 2)
		c->resp.len -= 2;	/* CRLF; a bare LF leaves a CR we ignore */
	return 0;
}

/* ---------- connect ---------- */

static int imapc_tcp(const char *host, const char *port, char *err, size_t errsize)
{
	struct addrinfo hints, *res = NULL;
	struct timeval tv = { .tv_sec = LIMIT_IMPORT_TIMEOUT_S, .tv_usec = 0 };
	int fd = -1, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		imapc_err(err, errsize, "cannot resolve the host", gai_strerror(rc));
		return -1;
	}
	for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		imapc_err(err, errsize, "cannot connect", strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

static int imapc_tls_start(struct imapc *c, const char *host, const char *ca_file, char *err,
			   size_t errsize)
{
	unsigned char addr[16];
	bool is_ip = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
	long vr;

	c->ctx = SSL_CTX_new(TLS_client_method());
	if (c->ctx == NULL)
		return imapc_err(err, errsize, "cannot create a TLS context", NULL), -1;
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	if (ca_file != NULL ? SSL_CTX_load_verify_locations(c->ctx, ca_file, NULL) != 1 :
			      SSL_CTX_set_default_verify_paths(c->ctx) != 1)
		return imapc_err(err, errsize, "cannot load the CA certificates",
				 ca_file != NULL ? ca_file : "system"), -1;
	c->ssl = SSL_new(c->ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1)
		return imapc_err(err, errsize, "cannot create a TLS session", NULL), -1;
	if (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), host) != 1 :
		    (SSL_set1_host(c->ssl, host) != 1 ||
		     SSL_set_tlsext_host_name(c->ssl, host) != 1))
		return imapc_err(err, errsize, "bad host name for TLS", host), -1;
	if (SSL_connect(c->ssl) != 1) {
		vr = SSL_get_verify_result(c->ssl);
		imapc_err(err, errsize, "TLS handshake failed",
			  vr != X509_V_OK ? X509_verify_cert_error_string(vr) :
			  ERR_reason_error_string(ERR_get_error()));
		return -1;
	}
	return 0;
}

struct imapc *imapc_connect(const char *host, const char *port, enum imapc_tls tls,
			    const char *ca_file, char *err, size_t errsize)
{
	struct imapc *c = xcalloc(1, sizeof(*c));

	buf_init(&c->resp, LIMIT_IMPORT_RESPONSE);
	c->fd = imapc_tcp(host, port, err, errsize);
	if (c->fd < 0)
		goto fail;
	if (tls == IMAPC_TLS_IMPLICIT && imapc_tls_start(c, host, ca_file, err, errsize) < 0)
		goto fail;
	if (imapc_read_response(c) < 0) {
		imapc_err(err, errsize, "no greeting from the server", NULL);
		goto fail;
	}
	if (buf_len(&c->resp) < 4 || (memcmp(buf_data(&c->resp), "* OK", 4) != 0)) {
		imapc_err(err, errsize, "the server refused the connection", NULL);
		goto fail;
	}
	if (tls == IMAPC_TLS_STARTTLS) {
		if (imapc_command(c, "STARTTLS", NULL, NULL, err, errsize) < 0)
			goto fail;
		c->in_pos = c->in_len = 0;	/* nothing sent before TLS counts */
		if (imapc_tls_start(c, host, ca_file, err, errsize) < 0)
			goto fail;
	}
	return c;
fail:
	imapc_free(&c);
	return NULL;
}

void imapc_free(struct imapc **cp)
{
	struct imapc *c = *cp;

	if (c == NULL)
		return;
	if (c->ssl != NULL) {
		(void)SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	SSL_CTX_free(c->ctx);
	if (c->fd >= 0)
		close(c->fd);
	buf_free(&c->resp);
	free(c);
	*cp = NULL;
}

/* ---------- commands ---------- */

int imapc_command(struct imapc *c, const char *command, imapc_untagged_fn *fn, void *arg,
		  char *err, size_t errsize)
{
	char tag[16];
	size_t taglen;
	struct buf out;
	int rc;

	if (str_fmt(tag, sizeof(tag), "i%u", ++c->tag) < 0)
		return -1;
	taglen = strlen(tag);
	buf_init(&out, strlen(command) + taglen + 4);
	rc = buf_printf(&out, "%s %s\r\n", tag, command) < 0 ? -1 :
	     imapc_io_write(c, buf_data(&out), buf_len(&out));
	OPENSSL_cleanse(buf_data(&out), buf_len(&out));	/* may hold a password */
	buf_free(&out);
	if (rc < 0) {
		imapc_err(err, errsize, "cannot send to the server", strerror(errno));
		return -1;
	}
	for (;;) {
		const char *d;
		size_t len;

		if (imapc_read_response(c) < 0) {
			imapc_err(err, errsize, "the server closed the connection, did not answer in "
				  "time, or sent a response over the size limit", NULL);
			return -1;
		}
		d = (const char *)buf_data(&c->resp);
		len = buf_len(&c->resp);
		if (len >= 2 && d[0] == '*' && d[1] == ' ') {
			if (fn != NULL)
				fn(arg, d, len);
		} else if (len >= 2 && d[0] == '+') {
			imapc_err(err, errsize, "unexpected continuation request", NULL);
			return -1;
		} else if (len > taglen && memcmp(d, tag, taglen) == 0 && d[taglen] == ' ') {
			char text[200];
			if (len >= taglen + 3 && strncasecmp(d + taglen + 1, "OK", 2) == 0)
				return 0;
			str_printable(text, sizeof(text), d + taglen + 1, len - taglen - 1);
			imapc_err(err, errsize, command[0] == 'L' ? "LOGIN refused" : "command refused",
				  text);
			return -1;
		}
	}
}

int imapc_quote(struct buf *b, const char *s)
{
	if (buf_append(b, "\"", 1) < 0)
		return -1;
	for (; *s != '\0'; s++) {
		if (*s == '\r' || *s == '\n')
			return -1;
		if ((*s == '"' || *s == '\\') && buf_append(b, "\\", 1) < 0)
			return -1;
		if (buf_append(b, s, 1) < 0)
			return -1;
	}
	return buf_append(b, "\"", 1);
}

int imapc_login(struct imapc *c, const char *user, const char *password, char *err,
		size_t errsize)
{
	struct buf cmd;
	int rc = -1;

	buf_init(&cmd, 2 * (strlen(user) + strlen(password)) + 16);
	if (buf_append_str(&cmd, "LOGIN ") < 0 || imapc_quote(&cmd, user) < 0 ||
	    buf_append(&cmd, " ", 1) < 0 || imapc_quote(&cmd, password) < 0 ||
	    buf_append(&cmd, "", 1) < 0)
		imapc_err(err, errsize, "the user name or password holds a line break", NULL);
	else
		rc = imapc_command(c, (const char *)buf_data(&cmd), NULL, NULL, err, errsize);
	OPENSSL_cleanse(buf_data(&cmd), buf_len(&cmd));
	buf_free(&cmd);
	return rc;
}

/* ---------- tokens ---------- */

struct imapc_tok imapc_next(struct imapc_cursor *cur)
{
	struct imapc_tok t = { IMAPC_END, NULL, 0 };
	const char *p = cur->p, *e = cur->end;

	while (p < e && *p == ' ')
		p++;
	if (p >= e || *p == '\r' || *p == '\n') {
		cur->p = p;
		return t;
	}
	t.p = p;
	if (*p == '(' || *p == ')') {
		t.type = *p == '(' ? IMAPC_LPAREN : IMAPC_RPAREN;
		t.len = 1;
		cur->p = p + 1;
		return t;
	}
	if (*p == '"') {
		const char *q = ++p;
		while (q < e && *q != '"') {
			if (*q == '\\' && q + 1 < e)
				q++;
			q++;
		}
		if (q >= e) {
			t.type = IMAPC_BAD;
			return t;
		}
		t.type = IMAPC_STRING;
		t.p = p;
		t.len = (size_t)(q - p);
		cur->p = q + 1;
		return t;
	}
	if (*p == '{') {
		const char *q = ++p;
		uint64_t n;
		while (q < e && *q >= '0' && *q <= '9')
			q++;
		if (strnum_u64(p, (size_t)(q - p), LIMIT_IMPORT_RESPONSE, &n) < 0) {
			t.type = IMAPC_BAD;
			return t;
		}
		if (q < e && *q == '+')
			q++;
		if (e - q < 3 || q[0] != '}' || q[1] != '\r' || q[2] != '\n' ||
		    (uint64_t)(e - (q + 3)) < n) {
			t.type = IMAPC_BAD;
			return t;
		}
		t.type = IMAPC_LITERAL;
		t.p = q + 3;
		t.len = (size_t)n;
		cur->p = t.p + n;
		return t;
	}
	while (p < e && *p != ' ' && *p != '(' && *p != ')' && *p != '"' && *p != '\r' &&
	       *p != '\n')
		p++;
	t.type = IMAPC_ATOM;
	t.len = (size_t)(p - t.p);
	cur->p = p;
	return t;
}

int imapc_tok_copy(const struct imapc_tok *t, char *out, size_t outsize)
{
	size_t o = 0;

	if (t->type != IMAPC_ATOM && t->type != IMAPC_STRING && t->type != IMAPC_LITERAL)
		return -1;
	for (size_t i = 0; i < t->len; i++) {
		char ch = t->p[i];
		if (t->type == IMAPC_STRING && ch == '\\' && i + 1 < t->len)
			ch = t->p[++i];
		if (ch == '\0' || o + 1 >= outsize)
			return -1;
		out[o++] = ch;
	}
	out[o] = '\0';
	return 0;
}

void imapc_skip(struct imapc_cursor *cur, struct imapc_tok first)
{
	int depth = first.type == IMAPC_LPAREN ? 1 : 0;

	while (depth > 0) {
		struct imapc_tok t = imapc_next(cur);
		if (t.type == IMAPC_END || t.type == IMAPC_BAD)
			return;
		if (t.type == IMAPC_LPAREN)
			depth++;
		else if (t.type == IMAPC_RPAREN)
			depth--;
	}
}

/* test_pop3_session.c - the POP3 session (core/pop3/session.c, commands.c,
 * cmd_*.c) against fakes of its neighbours: a conn with bounded output that
 * the test drains by hand, loop timers the test fires, a DB pool whose jobs
 * run when the test says so over an in-memory maildrop, and auth_login().
 * Covers the RFC 1939 dialogue, STLS rules, AUTH PLAIN, pipelining, the
 * failed-login delay, streaming past LIMIT_OUTBUF_MAX, QUIT's commit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/login.h"
#include "db/store.h"
#include "lib/base64.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "net/conn.h"
#include "net/loop.h"
#include "net/tls.h"
#include "pop3/pop3.h"
#include "work/work.h"

/* --- fake conn --- */

struct conn {
	uint64_t id;
	bool alive;		/* proto->close not yet called */
	void *session;
	struct buf in;
	char *wire;		/* everything written */
	size_t wire_len, wire_cap;
	size_t seen;		/* wire bytes the test has looked at */
	size_t pending;		/* written, not yet "sent" */
	size_t max_pending;
	bool paused;
	bool closed;		/* conn_close() or a write past the cap */
	bool tls;
	bool starttls;
	bool has_cert;
	enum tls_mode mode;
	uint64_t timeout;
};

static struct conn C;
static uint64_t next_id = 100;

uint64_t conn_id(const struct conn *c)
{
	return c->id;
}

struct conn *conn_find(uint64_t id)
{
	return C.alive && C.id == id ? &C : NULL;
}

struct buf *conn_in(struct conn *c)
{
	return &c->in;
}

int conn_write(struct conn *c, const void *p, size_t n)
{
	if (c->pending + n > LIMIT_OUTBUF_MAX) {
		c->closed = true;
		return -1;
	}
	if (c->wire_len + n + 1 > c->wire_cap) {
		c->wire_cap = (c->wire_len + n + 1) * 2;
		c->wire = realloc(c->wire, c->wire_cap);
		assert_non_null(c->wire);
	}
	memcpy(c->wire + c->wire_len, p, n);
	c->wire_len += n;
	c->wire[c->wire_len] = '\0';
	c->pending += n;
	if (c->pending > c->max_pending)
		c->max_pending = c->pending;
	return 0;
}

int conn_printf(struct conn *c, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	return conn_write(c, tmp, (size_t)n);
}

size_t conn_out_pending(const struct conn *c)
{
	return c->pending;
}

void conn_pause(struct conn *c, bool paused)
{
	c->paused = paused;
	/* Like the real conn: unpausing with bytes waiting calls input(). */
	if (!paused && buf_len(&c->in) > 0 && c->alive && !c->closed)
		pop3_proto.input(c->session, c);
}

int conn_starttls(struct conn *c)
{
	if (!c->has_cert)
		return -1;
	c->starttls = true;
	buf_reset(&c->in);
	return 0;
}

bool conn_is_tls(const struct conn *c)
{
	return c->tls;
}

const char *conn_tls_version(const struct conn *c)
{
	return c->tls ? "TLSv1.3" : NULL;
}

const char *conn_tls_cipher(const struct conn *c)
{
	return NULL;
}

void conn_set_timeout(struct conn *c, uint64_t ms)
{
	c->timeout = ms;
}

void conn_close(struct conn *c)
{
	c->closed = true;
}

const char *conn_peer_addr(const struct conn *c)
{
	return "127.0.0.1";
}

int conn_peer_port(const struct conn *c)
{
	return 40000;
}

int conn_local_port(const struct conn *c)
{
	return 110;
}

const char *conn_listener_name(const struct conn *c)
{
	return "pop3";
}

enum tls_mode conn_listener_tls(const struct conn *c)
{
	return c->mode;
}

void *conn_session(const struct conn *c)
{
	return c->session;
}

SSL_CTX *tls_server_ctx(void)
{
	return C.has_cert ? (SSL_CTX *)&C : NULL;
}

/* --- fake timers --- */

struct loop_timer {
	loop_timer_fn *fn;
	void *arg;
	uint64_t ms;
};

static struct loop_timer *timer;	/* at most one in these tests */

struct loop_timer *loop_timer_add(uint64_t ms, loop_timer_fn *fn, void *arg)
{
	assert_null(timer);
	timer = calloc(1, sizeof(*timer));
	assert_non_null(timer);
	timer->fn = fn;
	timer->arg = arg;
	timer->ms = ms;
	return timer;
}

void loop_timer_cancel(struct loop_timer **t)
{
	if (*t == NULL)
		return;
	assert_ptr_equal(*t, timer);
	free(timer);
	timer = NULL;
	*t = NULL;
}

static void fire_timer(void)
{
	struct loop_timer *t = timer;

	assert_non_null(t);
	timer = NULL;
	t->fn(t->arg);
	free(t);
}

/* --- fake store and DB pool --- */

struct fake_msg {
	int64_t uid;
	const char *body;
};

#define STORE_MAX 30000
static struct fake_msg store[STORE_MAX];
static size_t n_store;
static char *big_body;		/* owned by a test */
static bool fail_list, fail_expunge, fail_submit;
static size_t expunge_calls;

static struct job *jobs[16];
static size_t n_jobs;

int work_submit_db(struct job *j)
{
	if (fail_submit)
		return -1;
	assert_true(n_jobs < 16);
	jobs[n_jobs++] = j;
	return 0;
}

static void run_jobs(void)
{
	while (n_jobs > 0) {
		struct job *j = jobs[0];

		memmove(jobs, jobs + 1, (n_jobs - 1) * sizeof(jobs[0]));
		n_jobs--;
		j->run(j, (struct db *)&C);
		j->done(j);
	}
}

enum db_status db_pop3_list(struct db *db, int64_t account_id, int64_t *mailbox_id_r,
			    int64_t *uidvalidity_r, struct db_pop3_msg **msgs_r, size_t *n_r)
{
	size_t i;

	if (fail_list)
		return DB_TEMP;
	assert_int_equal(account_id, 7);
	*mailbox_id_r = 70;
	*uidvalidity_r = 1234;
	*msgs_r = n_store ? calloc(n_store, sizeof(**msgs_r)) : NULL;
	for (i = 0; i < n_store; i++) {
		(*msgs_r)[i].uid = store[i].uid;
		(*msgs_r)[i].size = (int64_t)strlen(store[i].body);
	}
	*n_r = n_store;
	return DB_OK;
}

enum db_status db_message_body(struct db *db, int64_t mailbox_id, int64_t uid,
			       unsigned char **data_r, size_t *len_r, bool *found_r)
{
	size_t i;

	assert_int_equal(mailbox_id, 70);
	*found_r = false;
	for (i = 0; i < n_store; i++) {
		if (store[i].uid == uid) {
			size_t n = strlen(store[i].body);

			*data_r = malloc(n + 1);
			memcpy(*data_r, store[i].body, n);
			*len_r = n;
			*found_r = true;
			break;
		}
	}
	return DB_OK;
}

enum db_status db_expunge_uids(struct db *db, int64_t account_id, int64_t mailbox_id,
			       const int64_t *uids, size_t n)
{
	size_t i, j, k;

	expunge_calls++;
	if (fail_expunge)
		return DB_TEMP;
	for (k = 0; k < n; k++)
		for (i = 0; i < n_store; i++)
			if (store[i].uid == uids[k]) {
				for (j = i; j + 1 < n_store; j++)
					store[j] = store[j + 1];
				n_store--;
				break;
			}
	return DB_OK;
}

/* --- fake login --- */

static struct {
	bool out;
	uint64_t conn_id;
	char user[LIMIT_ADDRESS + 1];
	char pass[LIMIT_PASSWORD_MAX + 1];
	auth_login_fn *cb;
} login;
static bool login_temp;

int auth_login(uint64_t id, const char *user, const char *pass, size_t passlen,
	       auth_login_fn *cb)
{
	assert_false(login.out);
	login.out = true;
	login.conn_id = id;
	snprintf(login.user, sizeof(login.user), "%s", user);
	memcpy(login.pass, pass, passlen);
	login.pass[passlen] = '\0';
	login.cb = cb;
	return 0;
}

static void finish_login(void)
{
	struct db_account acc;

	assert_true(login.out);
	login.out = false;
	memset(&acc, 0, sizeof(acc));
	acc.id = 7;
	snprintf(acc.address, sizeof(acc.address), "alice@example.com");
	if (login_temp)
		login.cb(login.conn_id, AUTH_TEMP, NULL);
	else if (strcmp(login.user, "alice@example.com") == 0 && strcmp(login.pass, "s3cret pw") == 0)
		login.cb(login.conn_id, AUTH_OK, &acc);
	else
		login.cb(login.conn_id, AUTH_FAIL, NULL);
}

/* --- driving a session --- */

static const char *const msg1 = "Subject: one\r\n\r\nhello\r\n";
static const char *const msg2 = "Subject: two\r\n\r\n.dot line\r\nsecond\r\n..\r\n";
static const char *const msg3 = "Subject: three\r\nX: y\r\n\r\nl1\r\nl2\r\nl3";

static void start(enum tls_mode mode, bool tls)
{
	buf_free(&C.in);
	free(C.wire);
	memset(&C, 0, sizeof(C));
	C.id = next_id++;
	C.mode = mode;
	C.tls = tls;
	C.has_cert = true;
	buf_init(&C.in, 64 * 1024);
	n_store = 0;
	store[n_store++] = (struct fake_msg){ 3, msg1 };
	store[n_store++] = (struct fake_msg){ 5, msg2 };
	store[n_store++] = (struct fake_msg){ 9, msg3 };
	fail_list = fail_expunge = fail_submit = login_temp = false;
	expunge_calls = 0;
	C.session = pop3_proto.open(&C);
	assert_non_null(C.session);
	C.alive = true;
}

static void stop(void)
{
	if (C.alive) {
		C.alive = false;
		pop3_proto.close(C.session, &C);
	}
	assert_null(timer);
	assert_int_equal(n_jobs, 0);
	login.out = false;
	buf_free(&C.in);
	free(C.wire);
	C.wire = NULL;
	free(big_body);
	big_body = NULL;
}

static void client_send_n(const char *s, size_t n)
{
	assert_int_equal(buf_append(&C.in, s, n), 0);
	if (!C.paused && !C.closed)
		pop3_proto.input(C.session, &C);
}

static void client_send(const char *s)
{
	assert_int_equal(buf_append(&C.in, s, strlen(s)), 0);
	if (!C.paused && !C.closed)
		pop3_proto.input(C.session, &C);
}

/* The output since the last call ("sent": pending drops to 0). */
static const char *out(void)
{
	static char *last;
	size_t n = C.wire_len - C.seen;

	free(last);
	last = malloc(n + 1);
	memcpy(last, C.wire + C.seen, n);
	last[n] = '\0';
	C.seen = C.wire_len;
	C.pending = 0;
	return last;
}

static void expect(const char *want)
{
	assert_string_equal(out(), want);
}

static void login_user(void)
{
	client_send("USER alice@example.com\r\nPASS s3cret pw\r\n");
	finish_login();
	run_jobs();
}

static void started(enum tls_mode mode, bool tls)
{
	start(mode, tls);
	expect("+OK Postern POP3 ready\r\n");
}

/* --- tests --- */

static void test_capa_plain_listener(void **state)
{
	(void)state;
	started(TLS_MODE_NONE, false);
	assert_int_equal(C.timeout, LIMIT_POP3_TIMEOUT_PREAUTH_MS);
	client_send("CAPA\r\n");
	expect("+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
	       "PIPELINING\r\nEXPIRE NEVER\r\nUSER\r\nSASL PLAIN\r\nIMPLEMENTATION Postern\r\n.\r\n");
	client_send("STLS\r\n");
	expect("-ERR STLS not available\r\n");
	client_send("QUIT\r\n");
	expect("+OK Bye\r\n");
	assert_true(C.closed);
	stop();
}

static void test_stls(void **state)
{
	(void)state;
	started(TLS_MODE_STARTTLS, false);
	client_send("CAPA\r\n");
	expect("+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
	       "PIPELINING\r\nEXPIRE NEVER\r\nSTLS\r\nIMPLEMENTATION Postern\r\n.\r\n");
	client_send("USER alice@example.com\r\n");
	expect("-ERR [AUTH] TLS required: use STLS\r\n");
	client_send("AUTH PLAIN\r\n");
	expect("-ERR [AUTH] TLS required: use STLS\r\n");
	/* Pipelined plaintext after STLS is dropped. */
	client_send("STLS\r\nUSER evil\r\n");
	expect("+OK Begin TLS negotiation\r\n");
	assert_true(C.starttls);
	assert_int_equal(buf_len(&C.in), 0);
	C.tls = true;
	pop3_proto.tls_done(C.session, &C, true);
	client_send("CAPA\r\n");
	expect("+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
	       "PIPELINING\r\nEXPIRE NEVER\r\nUSER\r\nSASL PLAIN\r\nIMPLEMENTATION Postern\r\n.\r\n");
	client_send("STLS\r\n");
	expect("-ERR TLS already active\r\n");
	client_send("PASS s3cret pw\r\n");
	expect("-ERR USER first\r\n");
	login_user();
	expect("+OK\r\n+OK maildrop has 3 messages (96 octets)\r\n");
	client_send("STLS\r\n");
	expect("-ERR command not valid in this state\r\n");
	stop();
}

static void test_stls_no_cert(void **state)
{
	(void)state;
	started(TLS_MODE_STARTTLS, false);
	C.has_cert = false;
	client_send("STLS\r\n");
	expect("-ERR STLS not available\r\n");
	stop();
}

static void test_shutdown_during_handshake(void **state)
{
	(void)state;
	started(TLS_MODE_STARTTLS, false);
	client_send("STLS\r\n");
	expect("+OK Begin TLS negotiation\r\n");
	/* No plaintext may follow the go-ahead. */
	pop3_proto.timeout(C.session, &C);
	expect("");
	assert_true(C.closed);
	stop();

	started(TLS_MODE_STARTTLS, false);
	client_send("STLS\r\n");
	expect("+OK Begin TLS negotiation\r\n");
	pop3_proto.shutdown(C.session, &C);
	expect("");
	assert_true(C.closed);
	stop();
}

static void test_implicit_tls(void **state)
{
	(void)state;
	started(TLS_MODE_IMPLICIT, true);
	client_send("STLS\r\n");
	expect("-ERR TLS already active\r\n");
	login_user();
	expect("+OK\r\n+OK maildrop has 3 messages (96 octets)\r\n");
	assert_int_equal(C.timeout, LIMIT_POP3_TIMEOUT_MS);
	stop();
}

static void test_transaction(void **state)
{
	(void)state;
	started(TLS_MODE_NONE, false);
	login_user();
	expect("+OK\r\n+OK maildrop has 3 messages (96 octets)\r\n");
	client_send("STAT\r\n");
	expect("+OK 3 96\r\n");
	client_send("LIST\r\n");
	expect("+OK 3 messages (96 octets)\r\n1 23\r\n2 39\r\n3 34\r\n.\r\n");
	client_send("UIDL\r\n");
	expect("+OK\r\n1 1234.3\r\n2 1234.5\r\n3 1234.9\r\n.\r\n");
	client_send("LIST 2\r\nUIDL 3\r\nLIST 4\r\nUIDL 0\r\nLIST x\r\n");
	expect("+OK 2 39\r\n+OK 3 1234.9\r\n-ERR no such message\r\n-ERR no such message\r\n"
	       "-ERR no such message\r\n");
	client_send("RETR 2\r\n");
	assert_true(C.paused);
	expect("");
	run_jobs();
	expect("+OK 39 octets\r\nSubject: two\r\n\r\n..dot line\r\nsecond\r\n...\r\n.\r\n");
	assert_false(C.paused);
	client_send("TOP 3 1\r\n");
	run_jobs();
	expect("+OK\r\nSubject: three\r\nX: y\r\n\r\nl1\r\n.\r\n");
	client_send("TOP 3 100\r\n");
	run_jobs();
	expect("+OK\r\nSubject: three\r\nX: y\r\n\r\nl1\r\nl2\r\nl3\r\n.\r\n");
	client_send("TOP 1 0\r\n");
	run_jobs();
	expect("+OK\r\nSubject: one\r\n\r\n.\r\n");
	client_send("TOP 1\r\nTOP 1 -1\r\nRETR\r\n");
	expect("-ERR syntax error\r\n-ERR invalid number of lines\r\n-ERR syntax error\r\n");
	client_send("DELE 1\r\nDELE 1\r\nRETR 1\r\nTOP 1 0\r\nLIST 1\r\n");
	expect("+OK message 1 deleted\r\n-ERR message 1 already deleted\r\n"
	       "-ERR message 1 already deleted\r\n-ERR message 1 already deleted\r\n"
	       "-ERR message 1 already deleted\r\n");
	client_send("STAT\r\nLIST\r\nUIDL\r\n");
	expect("+OK 2 73\r\n+OK 2 messages (73 octets)\r\n2 39\r\n3 34\r\n.\r\n"
	       "+OK\r\n2 1234.5\r\n3 1234.9\r\n.\r\n");
	client_send("RSET\r\nSTAT\r\nNOOP\r\n");
	expect("+OK maildrop has 3 messages (96 octets)\r\n+OK 3 96\r\n+OK\r\n");
	client_send("USER bob\r\nCAPA\r\n");
	expect("-ERR command not valid in this state\r\n+OK Capability list follows\r\nTOP\r\n"
	       "UIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nEXPIRE NEVER\r\n"
	       "IMPLEMENTATION Postern\r\n.\r\n");
	/* QUIT: "+OK" only after the commit. */
	client_send("DELE 2\r\nDELE 3\r\nQUIT\r\nNOOP\r\n");
	expect("+OK message 2 deleted\r\n+OK message 3 deleted\r\n");
	assert_true(C.paused);
	assert_int_equal(n_store, 3);
	run_jobs();
	expect("+OK Bye\r\n");
	assert_true(C.closed);
	assert_int_equal(n_store, 1);
	assert_int_equal(store[0].uid, 3);
	stop();
}

static void test_quit_failure(void **state)
{
	(void)state;
	started(TLS_MODE_NONE, false);
	login_user();
	out();
	fail_expunge = true;
	client_send("DELE 1\r\nQUIT\r\n");
	run_jobs();
	expect("+OK message 1 deleted\r\n-ERR [SYS/TEMP] Deleting messages failed, try again later\r\n");
	assert_true(C.closed);
	assert_int_equal(n_store, 3);
	stop();
}

static void test_drop_deletes_nothing(void **state)
{
	(void)state;
	started(TLS_MODE_NONE, false);
	login_user();
	client_send("DELE 1\r\nDELE 2\r\n");
	stop();
	assert_int_equal(expunge_calls, 0);
	assert_int_equal(n_store, 3);
}

static void test_quit_without_deletions(void **state)
{
	(void)state;
	started(TLS_MODE_NONE, false);
	login_user();
	out();
	client_send("QUIT\r\n");
	expect("+OK Bye\r\n");
	assert_int_equal(expunge_calls, 0);
	stop();
}

static void test_auth_failure_delay(void **state)
{
	(void)state;
	started(TLS_MODE_NONE, false);
	client_send("USER alice@example.com\r\nPASS wrong\r\nCAPA\r\n");
	expect("+OK\r\n");
	finish_login();
	/* No answer before the timer; pipelined CAPA waits too. */
	expect("");
	assert_non_null(timer);
	assert_int_equal(timer->ms, LIMIT_POP3_AUTH_FAIL_DELAY_MS);
	assert_true(C.paused);
	fire_timer();
	assert_string_equal(out(), "-ERR [AUTH] Authentication failed.\r\n"
				   "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\n"
				   "AUTH-RESP-CODE\r\nPIPELINING\r\nEXPIRE NEVER\r\nUSER\r\n"
				   "SASL PLAIN\r\nIMPLEMENTATION Postern\r\n.\r\n");
	/* Back at the start of AUTHORIZATION: PASS needs USER again. */
	client_send("PASS s3cret pw\r\n");
	expect("-ERR USER first\r\n");
	login_user();
	expect("+OK\r\n+OK maildrop has 3 messages (96 octets)\r\n");
	stop();
}

static void test_auth_failure_closed_meanwhile(void **state)
{
	(void)state;
	started(TLS_MODE_NONE, false);
	client_send("USER a\r\nPASS b\r\n");
	finish_login();
	assert_non_null(timer);
	stop();	/* the close cancels the timer */
}

static void test_auth_temp_and_list_failure(void **state)
{
	(void)state;
	started(TLS_MODE_NONE, false);
	login_temp = true;
	client_send("USER alice@example.com\r\nPASS s3cret pw\r\n");
	finish_login();
	expect("+OK\r\n-ERR [SYS/TEMP] Authentication temporarily unavailable\r\n");
	login_temp = false;
	fail_list = true;
	login_user();
	expect("+OK\r\n-ERR [SYS/TEMP] Cannot open the maildrop, try again later\r\n");
	client_send("STAT\r\n");
	expect("-ERR command not valid in this state\r\n");
	stop();
}

static void auth_b64(const char *user, const char *pass, char *outb, size_t size)
{
	unsigned char raw[256];
	size_t ul = strlen(user), pl = strlen(pass);

	raw[0] = '\0';
	memcpy(raw + 1, user, ul);
	raw[1 + ul] = '\0';
	memcpy(raw + 2 + ul, pass, pl);
	assert_true(BASE64_ENCODED_SIZE(2 + ul + pl) <= size);
	base64_encode(raw, 2 + ul + pl, outb);
}

static void test_auth_plain(void **state)
{
	char b64[256], line[300];

	(void)state;
	started(TLS_MODE_NONE, false);
	client_send("AUTH\r\n");
	expect("+OK\r\nPLAIN\r\n.\r\n");
	client_send("AUTH CRAM-MD5\r\n");
	expect("-ERR Unsupported authentication mechanism\r\n");
	client_send("AUTH PLAIN\r\n*\r\n");
	expect("+ \r\n-ERR AUTH cancelled\r\n");
	client_send("AUTH PLAIN !!!\r\n");
	expect("-ERR [AUTH] Invalid SASL PLAIN response\r\n");
	auth_b64("alice@example.com", "bad", b64, sizeof(b64));
	snprintf(line, sizeof(line), "AUTH PLAIN %s\r\n", b64);
	client_send(line);
	finish_login();
	fire_timer();
	expect("-ERR [AUTH] Authentication failed.\r\n");
	/* The errors above reached LIMIT_POP3_ERRORS_PREAUTH - 1. */
	auth_b64("alice@example.com", "s3cret pw", b64, sizeof(b64));
	snprintf(line, sizeof(line), "%s\r\n", b64);
	client_send("auth plain\r\n");
	expect("+ \r\n");
	client_send(line);
	assert_string_equal(login.user, "alice@example.com");
	finish_login();
	run_jobs();
	expect("+OK maildrop has 3 messages (96 octets)\r\n");
	stop();
}

static void test_auth_plain_ir(void **state)
{
	char b64[256], line[300];

	(void)state;
	started(TLS_MODE_IMPLICIT, true);
	auth_b64("alice@example.com", "s3cret pw", b64, sizeof(b64));
	snprintf(line, sizeof(line), "AUTH PLAIN %s\r\nSTAT\r\n", b64);
	client_send(line);
	finish_login();
	run_jobs();
	expect("+OK maildrop has 3 messages (96 octets)\r\n+OK 3 96\r\n");
	stop();
}

static void test_pipelining(void **state)
{
	(void)state;
	started(TLS_MODE_NONE, false);
	client_send("USER alice@example.com\r\nPASS s3cret pw\r\nSTAT\r\nRETR 1\r\nDELE 1\r\nLIST\r\n");
	expect("+OK\r\n");
	finish_login();
	expect("");
	run_jobs();
	expect("+OK maildrop has 3 messages (96 octets)\r\n+OK 3 96\r\n"
	       "+OK 23 octets\r\nSubject: one\r\n\r\nhello\r\n.\r\n"
	       "+OK message 1 deleted\r\n+OK 2 messages (73 octets)\r\n2 39\r\n3 34\r\n.\r\n");
	stop();
}

static void test_errors(void **state)
{
	char line[LIMIT_POP3_LINE + 8];
	static const char bad[] = "FOO\r\n\r\nST\0AT\r\n";

	(void)state;
	started(TLS_MODE_NONE, false);
	client_send_n(bad, sizeof(bad) - 1);
	expect("-ERR unknown command\r\n-ERR unknown command\r\n-ERR NUL in command\r\n");
	memset(line, 'A', sizeof(line));
	memcpy(line, "USER ", 5);
	memcpy(line + LIMIT_POP3_LINE - 1, "\r\n", 3);	/* LIMIT_POP3_LINE + 1 with CRLF */
	client_send(line);
	expect("-ERR line too long\r\n");
	client_send("NOOP\r\n");
	expect("-ERR too many errors\r\n");
	assert_true(C.closed);
	stop();
}

static void test_errors_after_login(void **state)
{
	unsigned i;

	(void)state;
	started(TLS_MODE_NONE, false);
	login_user();
	out();
	for (i = 0; i + 1 < LIMIT_POP3_ERRORS; i++)
		client_send("XYZZY\r\n");
	assert_false(C.closed);
	client_send("XYZZY\r\n");
	assert_true(C.closed);
	stop();
}

static void test_timeout_and_shutdown(void **state)
{
	(void)state;
	started(TLS_MODE_NONE, false);
	pop3_proto.timeout(C.session, &C);
	expect("-ERR autologout\r\n");
	assert_true(C.closed);
	stop();

	started(TLS_MODE_NONE, false);
	pop3_proto.shutdown(C.session, &C);
	expect("-ERR Server shutting down\r\n");
	assert_true(C.closed);
	stop();

	/* A QUIT whose commit is out finishes first. */
	started(TLS_MODE_NONE, false);
	login_user();
	out();
	client_send("DELE 1\r\nQUIT\r\n");
	pop3_proto.shutdown(C.session, &C);
	pop3_proto.timeout(C.session, &C);
	assert_false(C.closed);
	run_jobs();
	expect("+OK message 1 deleted\r\n+OK Bye\r\n");
	assert_true(C.closed);
	assert_int_equal(n_store, 2);
	stop();
}

static void test_expunged_meanwhile(void **state)
{
	(void)state;
	started(TLS_MODE_NONE, false);
	login_user();
	out();
	n_store = 1;	/* uids 5 and 9 gone through another session */
	client_send("RETR 2\r\nNOOP\r\n");
	run_jobs();
	expect("-ERR message 2 no longer exists\r\n+OK\r\n");
	fail_submit = true;
	client_send("RETR 1\r\n");
	expect("-ERR [SYS/TEMP] Server busy, try again later\r\n");
	stop();
}

/* Drains the fake socket until the session stops writing. */
static size_t drain_all(char **wire_r)
{
	size_t total = 0, rounds = 0;
	char *w = NULL;

	for (;;) {
		const char *o = out();
		size_t n = strlen(o);
		char *nw;

		if (n == 0)
			break;
		nw = realloc(w, total + n + 1);
		assert_non_null(nw);
		w = nw;
		memcpy(w + total, o, n + 1);
		total += n;
		pop3_proto.drained(C.session, &C);
		rounds++;
	}
	*wire_r = w;
	return rounds;
}

static void test_big_retr(void **state)
{
	size_t len = 3 * LIMIT_OUTBUF_MAX + 12345, i, rounds;
	char *wire, *want, hdr[64];

	(void)state;
	started(TLS_MODE_NONE, false);
	big_body = malloc(len + 1);
	for (i = 0; i < len; i++)
		big_body[i] = (i % 80 == 78) ? '\r' : (i % 80 == 79) ? '\n' : (i % 80 == 0) ? '.' : 'x';
	big_body[len] = '\0';
	store[0].body = big_body;
	login_user();
	out();
	client_send("RETR 1\r\nNOOP\r\n");
	run_jobs();
	C.max_pending = 0;
	rounds = drain_all(&wire);
	assert_true(rounds > 3);
	assert_true(C.max_pending <= LIMIT_OUTBUF_MAX);
	assert_false(C.closed);
	/* Expected: header, every line-initial "." doubled, ".\r\n", then NOOP. */
	want = malloc(2 * len + 100);
	snprintf(hdr, sizeof(hdr), "+OK %zu octets\r\n", len);
	{
		size_t w = strlen(hdr);

		memcpy(want, hdr, w);

		for (i = 0; i < len; i++) {
			if (big_body[i] == '.' && (i == 0 || big_body[i - 1] == '\n'))
				want[w++] = '.';
			want[w++] = big_body[i];
		}
		/* len % 80 != 0: the last line has no CRLF; one is added. */
		memcpy(want + w, "\r\n.\r\n+OK\r\n", 11);
	}
	assert_string_equal(wire, want);
	free(want);
	free(wire);
	stop();
}

static void test_big_list(void **state)
{
	size_t i, rounds;
	char *wire;

	(void)state;
	started(TLS_MODE_NONE, false);
	n_store = 0;
	for (i = 0; i < STORE_MAX; i++)
		store[n_store++] = (struct fake_msg){ (int64_t)(1000000 + i), msg1 };
	login_user();
	out();
	client_send("UIDL\r\nLIST\r\nSTAT\r\n");
	C.max_pending = 0;
	rounds = drain_all(&wire);
	assert_true(rounds > 1);
	assert_true(C.max_pending <= LIMIT_OUTBUF_MAX);
	assert_non_null(strstr(wire, "\r\n30000 1234.1029999\r\n.\r\n+OK 30000 messages"));
	assert_non_null(strstr(wire, "\r\n30000 23\r\n.\r\n+OK 30000 690000\r\n"));
	free(wire);
	stop();
}

static void test_pipelined_flood_backpressure(void **state)
{
	static char flood[40000 * 6 + 1];
	size_t i;

	(void)state;
	started(TLS_MODE_NONE, false);
	login_user();
	out();
	for (i = 0; i < 40000; i++)
		memcpy(flood + 6 * i, "STAT\r\n", 6);
	C.in.max = sizeof(flood);
	C.max_pending = 0;
	client_send(flood);
	assert_true(C.paused);
	assert_true(C.max_pending <= LIMIT_OUTBUF_MAX);
	for (i = 0; i < 100 && buf_len(&C.in) > 0; i++) {
		out();
		pop3_proto.drained(C.session, &C);
	}
	assert_int_equal(buf_len(&C.in), 0);
	assert_false(C.closed);
	stop();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_capa_plain_listener),
		cmocka_unit_test(test_stls),
		cmocka_unit_test(test_stls_no_cert),
		cmocka_unit_test(test_shutdown_during_handshake),
		cmocka_unit_test(test_implicit_tls),
		cmocka_unit_test(test_transaction),
		cmocka_unit_test(test_quit_failure),
		cmocka_unit_test(test_drop_deletes_nothing),
		cmocka_unit_test(test_quit_without_deletions),
		cmocka_unit_test(test_auth_failure_delay),
		cmocka_unit_test(test_auth_failure_closed_meanwhile),
		cmocka_unit_test(test_auth_temp_and_list_failure),
		cmocka_unit_test(test_auth_plain),
		cmocka_unit_test(test_auth_plain_ir),
		cmocka_unit_test(test_pipelining),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_errors_after_login),
		cmocka_unit_test(test_timeout_and_shutdown),
		cmocka_unit_test(test_expunged_meanwhile),
		cmocka_unit_test(test_big_retr),
		cmocka_unit_test(test_big_list),
		cmocka_unit_test(test_pipelined_flood_backpressure),
	};

	log_init(NULL, "error");
	return cmocka_run_group_tests(tests, NULL, NULL);
}

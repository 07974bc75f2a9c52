/* limits.h - every limit of posternd in one place. Each one has a line in
 * docs/LIMITS.md: its default, why, and what a client sees when it is hit. */
#ifndef POSTERN_CONFIG_LIMITS_H
#define POSTERN_CONFIG_LIMITS_H

/* --- connections --- */
#define LIMIT_CONNECTIONS_MAX		20000	/* all listeners; past it: accept + 421/BYE/-ERR + close */
#define LIMIT_CONNECTIONS_PER_IP	100	/* same reply as above */
#define LIMIT_OUTBUF_MAX		(256 * 1024)	/* pending output per connection */
#define LIMIT_TLS_HANDSHAKE_MS		(30 * 1000)
#define LIMIT_CONN_INBUF		(64 * 1024)	/* buffered input per connection; sessions enforce line limits below it */
#define LIMIT_CONN_CLOSE_FLUSH_MS	(5 * 1000)	/* conn_close(): time to flush what is queued */
#define LIMIT_ACCEPTS_PER_WAKEUP	64	/* accept4() calls per listener readiness */

/* --- SMTP (RFC 5321 4.5.3.1) --- */
#define LIMIT_SMTP_LINE			2048	/* command line incl. CRLF (>= 512 of 4.5.3.1.4, room for SMTPUTF8 and AUTH) */
#define LIMIT_SMTP_AUTH_LINE		12288	/* AUTH continuation line (base64) */
#define LIMIT_SMTP_MESSAGE_SIZE		(50 * 1024 * 1024)	/* SIZE advertised; 552 5.3.4 */
#define LIMIT_SMTP_RECIPIENTS		1000	/* per transaction; 452 4.5.3 */
#define LIMIT_SMTP_ERRORS		10	/* errors before 421 4.7.0 */
#define LIMIT_SMTP_ERRORS_PREAUTH	5	/* on submission before AUTH */
#define LIMIT_SMTP_TIMEOUT_PREAUTH_MS	(60 * 1000)	/* before MAIL / AUTH; then 421 4.4.2 */
#define LIMIT_SMTP_TIMEOUT_MS		(5 * 60 * 1000)	/* RFC 5321 4.5.3.2.7 server timeout */
#define LIMIT_SMTP_AUTH_FAIL_DELAY_MS	1000	/* delay before 535 */
#define LIMIT_SMTP_RECEIVED_HOPS	50	/* Received headers before 554 5.4.6 loop */
#define LIMIT_SMTP_PARAMS		8	/* esmtp-params on one MAIL/RCPT; more: 501 5.5.4 */

/* --- spool (DATA/BDAT/APPEND bodies) --- */
#define LIMIT_SPOOL_MEMORY		(256 * 1024)	/* past this the spool moves to an unlinked temp file */

/* --- POP3 (RFC 1939) --- */
#define LIMIT_POP3_LINE			512	/* RFC 2449: 255 octets of command + margin */
#define LIMIT_POP3_AUTH_LINE		8192
#define LIMIT_POP3_ERRORS		10	/* errors before -ERR and close */
#define LIMIT_POP3_TIMEOUT_PREAUTH_MS	(60 * 1000)
#define LIMIT_POP3_TIMEOUT_MS		(10 * 60 * 1000)	/* RFC 1939: at least 10 minutes */
#define LIMIT_POP3_MESSAGES		100000	/* messages listed in one maildrop */
#define LIMIT_POP3_ERRORS_PREAUTH	5	/* errors before login (bad commands, failed logins) */
#define LIMIT_POP3_AUTH_FAIL_DELAY_MS	1000	/* delay before -ERR [AUTH] */
#define LIMIT_POP3_OUT_HIGHWATER	(LIMIT_OUTBUF_MAX / 2)	/* stop producing replies above this much pending output */
#define LIMIT_POP3_STREAM_CHUNK		(16 * 1024)	/* RETR/TOP/LIST output written per step */

/* --- auth --- */
#define LIMIT_PASSWORD_MIN		8	/* posternctl refuses shorter passwords */
#define LIMIT_PASSWORD_MAX		1024
#define LIMIT_ADDRESS			320	/* local@domain, RFC 5321 4.5.3.1.1-2 (64 + 1 + 255) */
#define LIMIT_LOCAL_PART		64
#define LIMIT_DOMAIN			255
#define LIMIT_AUTH_CACHE_ENTRIES	10000	/* recent successful verifications kept */
#define LIMIT_AUTH_CACHE_TTL_S		300

/* --- workers --- */
#define LIMIT_DB_WORKERS		4	/* PGconn pool size (POSTERN_DB_WORKERS overrides) */
#define LIMIT_DB_WORKERS_MAX		64	/* POSTERN_DB_WORKERS upper bound */
#define LIMIT_AUTH_WORKERS		2
#define LIMIT_JOB_QUEUE			10000	/* queued jobs; past it: temporary failure reply */
#define LIMIT_DB_RECONNECT_MAX_MS	5000	/* reconnect back-off ceiling */
#define LIMIT_SHUTDOWN_MS		(10 * 1000)	/* SIGTERM to exit */

/* --- database (core/db) --- */
#define LIMIT_MIGRATION_FILE		(1024 * 1024)	/* bytes of one sql/NNN_*.sql file */
#define LIMIT_DB_CONNECT_TIMEOUT_MS	(10 * 1000)	/* LISTEN connection attempt, then back-off */
#define LIMIT_DB_RECONNECT_MIN_MS	100	/* first reconnect delay (doubles up to _MAX_MS) */
#define LIMIT_RCPT_CACHE		4096	/* recipient answers the loop keeps (core/smtp/rcpt_cache.c); a colliding one replaces the older */
#define LIMIT_RCPT_CACHE_TTL_MS		(60 * 1000)	/* a kept answer is asked again after this, NOTIFY or not */
#define LIMIT_DELIVER_RETRIES		3	/* db_deliver on serialization failure/deadlock */
#define LIMIT_DELIVER_BATCH		32	/* deliveries sharing one transaction (group commit); keep <= 64 (savepoints) */
#define LIMIT_DELIVER_BATCH_BYTES	(8 * 1024 * 1024)	/* message bytes one batch transaction holds in memory (at least one message) */
#define LIMIT_ALIAS_DEPTH		4	/* alias -> alias expansion depth; deeper targets dropped */
#define LIMIT_EMBEDDED_START_MS		(30 * 1000)	/* embedded postgres to accept connections */
#define LIMIT_EMBEDDED_STOP_MS		(5 * 1000)	/* fast shutdown before SIGQUIT */

/* --- admin panel (web/) --- */
#define LIMIT_WEB_CONNECTIONS		64	/* HTTP connections (one thread each); past it: refused at accept */
#define LIMIT_WEB_CONNECTIONS_PER_IP	16	/* same, per client address */
#define LIMIT_WEB_CONN_MEMORY		(64 * 1024)	/* libmicrohttpd memory per connection (headers); past it: 431/413 */
#define LIMIT_WEB_TIMEOUT_S		30	/* idle HTTP connection closed */
#define LIMIT_WEB_BODY			(64 * 1024)	/* JSON request body; past it: 413 */
#define LIMIT_WEB_DB_CONNS		2	/* the panel's own PGconn pool */
#define LIMIT_WEB_DB_WAIT_MS		(10 * 1000)	/* wait for a pooled connection; then 503 */
#define LIMIT_WEB_HASHERS		2	/* concurrent argon2id runs (logins, passwords); others wait */
#define LIMIT_WEB_SESSION_IDLE_S	(30 * 60)	/* session unused this long: 401 */
#define LIMIT_WEB_SESSION_MAX_S		(12 * 60 * 60)	/* absolute session lifetime: 401 */
#define LIMIT_WEB_LOGIN_FAILS_USER	5	/* failed logins per user name in the window; then 429 */
#define LIMIT_WEB_LOGIN_FAILS_IP	20	/* failed logins per client address in the window; then 429 */
#define LIMIT_WEB_LOGIN_WINDOW_S	(15 * 60)	/* failure counting window */
#define LIMIT_WEB_THROTTLE_ENTRIES	4096	/* remembered (user|ip) failure counters; oldest replaced */
#define LIMIT_WEB_USERNAME		64	/* admin user name */
#define LIMIT_WEB_PAGE_MAX		500	/* rows per page (accounts, audit log) */
#define LIMIT_WEB_LIST_MAX		10000	/* rows in an unpaged list (queue); cut with "truncated" */
#define LIMIT_WEB_STATIC_FILE		(1024 * 1024)	/* one static/ file loaded at start */

/* --- IMAP (RFC 3501 / RFC 9051; core/imap/parser.c, seqset.c) --- */
#define LIMIT_IMAP_LINE			(64 * 1024)	/* one command line incl. CRLF, literals not counted; BAD, line skipped */
#define LIMIT_IMAP_LINE_PREAUTH		(8 * 1024)	/* the same before login */
#define LIMIT_IMAP_COMMAND		(1024 * 1024)	/* lines + buffered literals of one command; BAD [TOOBIG] */
#define LIMIT_IMAP_COMMAND_PREAUTH	(16 * 1024)	/* the same before login */
#define LIMIT_IMAP_LITERAL		(50 * 1024 * 1024)	/* largest literal announced (APPEND); sync: NO [TOOBIG], {n+}: BYE */
#define LIMIT_IMAP_LITERAL_PREAUTH	(8 * 1024)	/* the same before login (LOGIN/AUTHENTICATE literals) */
#define LIMIT_IMAP_LITERAL_MINUS	4096	/* RFC 7888 LITERAL-: largest {n+}; BAD [TOOBIG] */
#define LIMIT_IMAP_LIST_DEPTH		10	/* nested parentheses; BAD */
#define LIMIT_IMAP_LIST_DEPTH_PREAUTH	1	/* the same before login (ID needs one) */
#define LIMIT_IMAP_ARGS			4096	/* arguments in one command, nested ones included; BAD */
#define LIMIT_IMAP_ARGS_PREAUTH		32	/* the same before login */
#define LIMIT_IMAP_SEQSET_RANGES	16384	/* ranges in one sequence set; BAD [LIMIT] */
#define LIMIT_IMAP_ERRORS		20	/* BAD/NO for client mistakes before "* BYE Too many errors" */
#define LIMIT_IMAP_ERRORS_PREAUTH	5	/* the same before login (failed logins included) */
#define LIMIT_IMAP_TIMEOUT_PREAUTH_MS	(60 * 1000)	/* idle before login; then "* BYE" */
#define LIMIT_IMAP_TIMEOUT_MS		(30 * 60 * 1000)	/* RFC 3501 5.4: at least 30 minutes, IDLE included */
#define LIMIT_IMAP_AUTH_FAIL_DELAY_MS	1000	/* delay before NO [AUTHENTICATIONFAILED] */
#define LIMIT_IMAP_OUT_HIGHWATER	(LIMIT_OUTBUF_MAX / 2)	/* stop producing replies above this much pending output */
#define LIMIT_IMAP_STREAM_CHUNK		(32 * 1024)	/* large replies (FETCH) written per step */
#define LIMIT_IMAP_FETCH_BATCH		1024	/* messages one FETCH job renders; then the next batch */
#define LIMIT_IMAP_FETCH_BYTES		(4 * 1024 * 1024)	/* rendered FETCH output per job (at least one message) */
#define LIMIT_IMAP_MESSAGES		1000000	/* messages a selected mailbox may show; more: NO [LIMIT] at SELECT */
#define LIMIT_IMAP_MAILBOX_NAME		1024	/* octets of a mailbox name (UTF-8); BAD */
#define LIMIT_IMAP_SEARCH_KEYS		256	/* search keys in one SEARCH; BAD [LIMIT] */

/* --- MIME structure (core/mail/mime*.c; IMAP ENVELOPE/BODYSTRUCTURE) --- */
#define LIMIT_MIME_DEPTH		20	/* nesting depth; deeper multiparts and message/rfc822 are text/plain leaves */
#define LIMIT_MIME_PARTS		1000	/* parts per message (encapsulated messages count); then no more boundaries are seen */
#define LIMIT_MIME_HEADER_SIZE		(256 * 1024)	/* header octets per part; the rest is treated as body */
#define LIMIT_MIME_HEADER_LINES		5000	/* header lines per part; the rest is treated as body */
#define LIMIT_MIME_BOUNDARY		200	/* boundary length (RFC 2046 allows 70); longer: a multipart without parts */
#define LIMIT_MIME_PARAMS		64	/* Content-Type/Disposition parameters kept per header */

/* panel */
#define LIMIT_CERT_PEM			(32 * 1024)	/* an uploaded certificate chain (PEM); past it: 400 naming cert_pem */
#define LIMIT_CERT_KEY_PEM		(16 * 1024)	/* an uploaded private key (PEM); past it: 400 naming key_pem */
#define LIMIT_CERT_CHAIN		8	/* certificates in one uploaded chain; more: 400 */
#define LIMIT_CERT_HOSTNAMES		100	/* hostnames one certificate serves (SNI); more: 400 */
#define LIMIT_CERT_DAYS			825	/* longest self-signed certificate generated (CA/B forum ceiling) */
#define LIMIT_CERT_WARN_DAYS		21	/* the dashboard warns about certificates expiring this soon */
/* acme */
#define LIMIT_ACME_HTTP_TIMEOUT_S	30	/* one request to the CA (connect included); the order fails */
#define LIMIT_ACME_RESPONSE_MAX		(256 * 1024)	/* a CA response body (certificate chain included); the order fails */
#define LIMIT_ACME_NONCE_RETRIES	3	/* badNonce answers retried per request; then the order fails */
#define LIMIT_ACME_POLL_MS		1000	/* between polls of an authorization or an order (when the CA sends no Retry-After) */
#define LIMIT_ACME_POLL_TRIES		120	/* polls per authorization or finalization; then the order fails */
#define LIMIT_ACME_RENEW_DAYS		30	/* a certificate is renewed this many days before it expires */
#define LIMIT_ACME_RENEW_CHECK_MS	(60 * 60 * 1000)	/* posternd looks for certificates to renew this often */
#define LIMIT_ACME_ERROR		1024	/* octets of the CA's error kept with the order */
#define LIMIT_ACME_RESPONDER_CONNS	16	/* HTTP-01 responder connections at once; more are refused */
#define LIMIT_ACME_WAIT_S		300	/* `posternctl cert acme` waits this long for the order */
#define LIMIT_ACME_STATUS_ROWS		100	/* orders `posternctl cert acme-status` shows */

#endif

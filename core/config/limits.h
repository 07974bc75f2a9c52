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
#define LIMIT_DELIVER_RETRIES		3	/* db_deliver on serialization failure/deadlock */
#define LIMIT_ALIAS_DEPTH		4	/* alias -> alias expansion depth; deeper targets dropped */
#define LIMIT_EMBEDDED_START_MS		(30 * 1000)	/* embedded postgres to accept connections */
#define LIMIT_EMBEDDED_STOP_MS		(5 * 1000)	/* fast shutdown before SIGQUIT */

#endif

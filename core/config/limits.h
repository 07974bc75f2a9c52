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
/* --- DNS (core/dns/dns.c) --- */
#define LIMIT_DNS_RECORDS		64	/* records kept per answer; the rest are ignored */
#define LIMIT_DNS_TIMEOUT_MS		10000	/* one lookup waits at most this long; then a temporary failure */
#define LIMIT_DNS_TXT			8192	/* octets of one TXT record (strings joined) or TLSA data; longer: skipped */

/* outbound */
#define LIMIT_QUEUE_RUNNERS		2	/* queue runner threads per node (POSTERN_QUEUE_RUNNERS, 0 = none) */
#define LIMIT_QUEUE_RUNNERS_MAX		64	/* highest POSTERN_QUEUE_RUNNERS accepted; start-up error above */
#define LIMIT_QUEUE_BATCH		100	/* queue rows (recipients) of one domain claimed and sent over one connection */
#define LIMIT_QUEUE_LEASE_S		(30 * 60)	/* a claimed row returns to the queue after this if its runner vanished without its database session ending */
#define LIMIT_QUEUE_IDLE_MS		(30 * 1000)	/* longest sleep of an idle runner between queue checks (NOTIFY wakes it earlier) */
#define LIMIT_QUEUE_RETRY_S		300	/* first retry delay, doubled per attempt (POSTERN_QUEUE_RETRY) */
#define LIMIT_QUEUE_BACKOFF_MAX_S	4000	/* longest delay between two attempts (Postfix maximal_backoff_time) */
#define LIMIT_QUEUE_LIFETIME_S		(5 * 24 * 3600)	/* a message not delivered by then bounces (POSTERN_QUEUE_LIFETIME) */
#define LIMIT_QUEUE_DELAY_NOTICE_S	(4 * 3600)	/* a "delayed" DSN to the sender once after this (POSTERN_QUEUE_DELAY_NOTICE) */
#define LIMIT_QUEUE_BOUNCE_HEADERS	(64 * 1024)	/* original header octets quoted in a DSN; the rest is cut */
#define LIMIT_SMTPC_CONNECT_MS		(30 * 1000)	/* TCP connect to a remote MX; then the next address */
#define LIMIT_SMTPC_GREETING_MS		(5 * 60 * 1000)	/* RFC 5321 4.5.3.2.1 initial 220 */
#define LIMIT_SMTPC_CMD_MS		(5 * 60 * 1000)	/* RFC 5321 4.5.3.2.2-3 EHLO, STARTTLS, MAIL, RCPT, RSET, QUIT replies */
#define LIMIT_SMTPC_DATA_INIT_MS	(2 * 60 * 1000)	/* RFC 5321 4.5.3.2.4 the 354 after DATA */
#define LIMIT_SMTPC_DATA_BLOCK_MS	(3 * 60 * 1000)	/* RFC 5321 4.5.3.2.5 each write of message data */
#define LIMIT_SMTPC_DATA_END_MS		(10 * 60 * 1000)	/* RFC 5321 4.5.3.2.6 the reply after the final dot or BDAT LAST */
#define LIMIT_SMTPC_REPLY_LINE		2048	/* octets of one reply line from a remote server (RFC 5321: 512); longer: connection dropped, temporary failure */
#define LIMIT_MTASTS_POLICY		(64 * 1024)	/* RFC 8461 3.3: octets of a policy file; longer: no policy (fetch failed) */
#define LIMIT_MTASTS_MX			32	/* mx patterns kept from one policy; the rest are ignored */
#define LIMIT_MTASTS_FETCH_MS		(60 * 1000)	/* whole HTTPS policy fetch; then treated as failed */
#define LIMIT_MTASTS_MAX_AGE_S		31557600	/* RFC 8461 3.2: largest max_age honoured (one year) */
#define LIMIT_SMTPC_REPLY_LINES		200	/* lines of one multi-line reply; more: connection dropped, temporary failure */
/* mailauth */
/* --- DKIM (core/mail/dkim*.c) --- */
#define LIMIT_DKIM_KEY_CACHE		64	/* domains whose unsealed signing keys are cached; the oldest is dropped */
#define LIMIT_DKIM_KEY_CACHE_S		60	/* seconds a cached key set (or "no key") is used before the DB is asked again */
#define LIMIT_DKIM_KEYS_PER_DOMAIN	4	/* active keys signed with per domain; more are ignored */
#define LIMIT_DKIM_HEADER_FIELDS	1000	/* header fields looked at when signing or verifying; later ones are not signed or seen */
#define LIMIT_DKIM_VERIFY_SIGS		5	/* DKIM-Signature fields verified per inbound message; more are ignored */
/* --- SPF (core/mail/spf.c, RFC 7208 4.6.4) --- */
#define LIMIT_SPF_DNS_MECHANISMS	10	/* include, a, mx, ptr, exists, redirect per check; then permerror */
#define LIMIT_SPF_VOID_LOOKUPS		2	/* lookups answering NXDOMAIN or no data; then permerror */
#define LIMIT_SPF_MX_NAMES		10	/* MX hosts looked up for one mx mechanism; then permerror */
#define LIMIT_SPF_RECORD		4096	/* octets of an SPF record; longer: permerror */
/* --- inbound authentication (core/smtp/auth_check.c) --- */
#define LIMIT_AUTHCHECK_WORKERS		2	/* threads (without DB connections) running SPF/DKIM/DMARC DNS work */
/* --- abuse brakes (core/smtp/brake.c) --- */
#define LIMIT_SEND_PER_HOUR		500	/* messages an account may submit per hour (per domain/account in the DB); 451 4.7.1 */
#define LIMIT_SEND_RCPTS		100	/* recipients per submitted message (per domain/account); 452 4.5.3 */
#define LIMIT_SEND_HOLD_AFTER		3	/* hourly-limit hits within an hour before the account's queue is held */
#define LIMIT_SEND_LOG_DAYS		2	/* days the send log is kept */
#define LIMIT_AUTH_FAIL_PER_IP		10	/* failed logins per IP within LIMIT_AUTH_FAIL_WINDOW_S before a ban */
#define LIMIT_AUTH_FAIL_WINDOW_S	600	/* window of the failure count */
#define LIMIT_AUTH_BAN_S		900	/* a banned IP gets 421 4.7.0 / * BYE / -ERR at connect this long */
#define LIMIT_AUTH_BAN_TABLE		4096	/* IPs tracked; the oldest entry is dropped when full */

/* ops */
#define LIMIT_HEALTH_CONNECT_MS		3000	/* posternctl health: TCP connect to one listener; then it is reported down */
#define LIMIT_BACKUP_MANIFEST		4096	/* octets of a backup's MANIFEST; a longer one is refused by restore */
#define LIMIT_IMPORT_RESPONSE		(LIMIT_IMAP_LITERAL + 64 * 1024)	/* import imap: one server response with its literals; then the import stops */
#define LIMIT_IMPORT_TIMEOUT_S		120	/* import imap: a read or write waiting this long ends the import */
#define LIMIT_IMPORT_FETCH_BATCH	50	/* import imap: UIDs per UID FETCH */
#define LIMIT_IMPORT_MESSAGE		LIMIT_IMAP_LITERAL	/* import maildir/mbox: larger messages are skipped with a warning */
/* imapb: search index, SORT/THREAD, COMPRESS (core/imap/cmd_search.c, core/imap/sort.c) */
#define LIMIT_SEARCH_INDEX_BATCH	64	/* messages the search path indexes per statement before it queries */
#define LIMIT_SEARCH_INDEX_FETCH	(4 * 1024 * 1024)	/* octets of a message read for indexing; text after them is not searchable */
#define LIMIT_SEARCH_INDEX_BATCH_BYTES	(16 * 1024 * 1024)	/* message octets one index batch holds in worker memory (at least one message) */
#define LIMIT_SEARCH_HEADER_TEXT	(64 * 1024)	/* decoded header text kept per message in the index */
#define LIMIT_SEARCH_BODY_TEXT		(512 * 1024)	/* decoded text body parts kept per message in the index */
#define LIMIT_SEARCH_SCAN_MESSAGES	2000	/* a text search in a mailbox of at most this many messages reads its index rows one by one instead of the trigram index */
#define LIMIT_SEARCH_INDEXED_CACHE	1024	/* mailboxes whose "indexed below this UID" mark a node keeps (one slot per mailbox id hash) */
#define LIMIT_IMAP_THREAD_REFS		50	/* References ids kept per message for THREAD=REFERENCES (the last ones) */
#define LIMIT_IMAP_THREAD_DEPTH		256	/* nested parentheses in a THREAD reply; deeper branches are written flat */
#define LIMIT_COMPRESS_INBUF		(16 * 1024)	/* compressed input held before inflating (per COMPRESS conn) */
#define LIMIT_COMPRESS_OUTBUF		(32 * 1024)	/* compressed output held before writing (per COMPRESS conn) */
#define LIMIT_COMPRESS_WINDOW_BITS	12	/* our deflate window: 4 KiB (zlib state ~16 KiB + 2^(mem level+9)) */
#define LIMIT_COMPRESS_MEM_LEVEL	5	/* deflate hash memory: 16 KiB; inflate always takes a 32 KiB window */
/* imapa */
#define LIMIT_IMAP_NOTIFY_PENDING	64	/* changed mailboxes a NOTIFY session remembers; more: it looks at all */
#define LIMIT_IMAP_NOTIFY_FILTERS	16	/* filters in one NOTIFY SET; BAD [LIMIT] */
#define LIMIT_IMAP_LIST_PATTERNS	64	/* patterns in one LIST-EXTENDED command; BAD [LIMIT] */

/* dnscheck */
#define LIMIT_DNS_CHECK_RECORDS		32	/* records one GET /dns-records?check=1 looks up (in parallel); the rest: unknown */
#define LIMIT_DNS_CHECK_MS		4000	/* the whole live check of one request; unanswered records: unknown */

#endif

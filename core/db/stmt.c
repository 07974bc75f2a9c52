/* stmt.c - every SQL statement of the program, one prepared statement each
 * (STYLE rule 10): no SQL is built from strings anywhere else. The names
 * are the prepared statement names on each connection. Migration files
 * (sql/NNN_*.sql) are the only SQL run outside this table.
 * Parameters are text unless the caller passes formats (bytea bodies). */
#include "db/stmt.h"

/* outbound: a queue row q a runner may claim */
#define QUEUE_DUE \
	"((q.state = 'queued' AND q.next_attempt <= now())" \
	" OR (q.state = 'delivering' AND (q.lease_until < now() OR NOT EXISTS" \
	" (SELECT 1 FROM pg_stat_activity a WHERE a.pid = q.owner_pid" \
	" AND a.backend_start = q.owner_start))))"

#define S(id, nm, np, text) [id] = { .name = nm, .sql = text, .nparams = np }

const struct db_stmt_def db_stmts[STMT__COUNT] = {
	[STMT_NONE] = { .name = "none", .sql = "SELECT 1", .nparams = 0 },

	/* --- transactions and session settings --- */
	S(STMT_BEGIN, "begin", 0, "BEGIN"),
	S(STMT_COMMIT, "commit", 0, "COMMIT"),
	S(STMT_ROLLBACK, "rollback", 0, "ROLLBACK"),
	S(STMT_SAVEPOINT, "savepoint", 0, "SAVEPOINT postern_sp"),
	S(STMT_ROLLBACK_TO_SAVEPOINT, "rollback_to_savepoint", 0, "ROLLBACK TO SAVEPOINT postern_sp"),
	S(STMT_RELEASE_SAVEPOINT, "release_savepoint", 0, "RELEASE SAVEPOINT postern_sp"),
	/* DESIGN.md durability invariant: replies only after a durable commit. */
	/* Every statement is prepared once per connection and run with
	 * parameters; left to itself PostgreSQL plans many of them again at
	 * every run (its generic plan looked costlier), which cost more than
	 * running them (0.27 ms planning against 0.1 ms running for
	 * imap_sync). Statements whose best plan depends on a parameter come
	 * in variants picked by the caller (search_scan_* / search_match_*). */
	S(STMT_SET_SYNC_COMMIT, "set_sync_commit", 0,
	  "SELECT set_config('synchronous_commit', 'on', false),"
	  " set_config('plan_cache_mode', 'force_generic_plan', false)"),

	/* --- migrations --- */
	S(STMT_MIGRATE_LOCK, "migrate_lock", 0, "SELECT pg_advisory_lock(hashtext('postern.migrate'))"),
	S(STMT_MIGRATE_UNLOCK, "migrate_unlock", 0,
	  "SELECT pg_advisory_unlock(hashtext('postern.migrate'))"),
	S(STMT_MIGRATE_HAS_TABLE, "migrate_has_table", 0,
	  "SELECT to_regclass('schema_version') IS NOT NULL"),
	S(STMT_MIGRATE_APPLIED, "migrate_applied", 0, "SELECT version FROM schema_version ORDER BY version"),
	S(STMT_MIGRATE_RECORD, "migrate_record", 1, "INSERT INTO schema_version (version) VALUES ($1)"),

	/* --- accounts and recipients --- */
	/* $1 local part, $2 domain */
	S(STMT_ACCOUNT_BY_ADDRESS, "account_by_address", 2,
	  "SELECT a.id, a.domain_id, coalesce(m.id, 0), a.local_part || '@' || d.name,"
	  " a.password_hash, a.active AND d.active, a.quota_bytes, a.used_bytes"
	  " FROM accounts a JOIN domains d ON d.id = a.domain_id"
	  " LEFT JOIN mailboxes m ON m.account_id = a.id AND m.name = 'INBOX'"
	  " WHERE d.name = lower($2) AND lower(a.local_part) = lower($1)"),
	S(STMT_DOMAIN_BY_NAME, "domain_by_name", 1, "SELECT id, active FROM domains WHERE name = lower($1)"),
	/* $1 domain id, $2 local part */
	S(STMT_RCPT_ACCOUNT, "rcpt_account", 2,
	  "SELECT id, active, quota_bytes, used_bytes FROM accounts"
	  " WHERE domain_id = $1 AND lower(local_part) = lower($2)"),
	/* The common case in one round trip: the domain (no row = not hosted)
	 * and, when there is one, the account. $1 domain, $2 local part. */
	S(STMT_RCPT_DIRECT, "rcpt_direct", 2,
	  "SELECT d.id, d.active, a.id, a.active, a.quota_bytes, a.used_bytes FROM domains d"
	  " LEFT JOIN accounts a ON a.domain_id = d.id AND lower(a.local_part) = lower($2)"
	  " WHERE d.name = lower($1)"),
	/* $2 '' = the catch-all (local_part NULL); bounded like DB_RCPT_MAX_TARGETS */
	S(STMT_RCPT_ALIASES, "rcpt_aliases", 2,
	  "SELECT destination FROM aliases"
	  " WHERE domain_id = $1 AND lower(coalesce(local_part, '')) = lower($2)"
	  " ORDER BY id LIMIT 64"),

	/* --- delivery --- */
	/* $1 sha256 (binary), $2 size, $3 body (binary). DO UPDATE (not
	 * NOTHING) so RETURNING yields the id of an existing blob too and
	 * locks it against a concurrent garbage collection. */
	S(STMT_BLOB_PUT, "blob_put", 3,
	  "INSERT INTO blobs (sha256, size, body) VALUES ($1, $2, $3)"
	  " ON CONFLICT (sha256) DO UPDATE SET size = EXCLUDED.size RETURNING id"),
	/* $1 account, $2 name, $3 special-use or NULL */
	S(STMT_MAILBOX_CREATE, "mailbox_create", 3,
	  "INSERT INTO mailboxes (account_id, name, special_use) VALUES ($1, $2, $3)"
	  " ON CONFLICT (account_id, name) DO NOTHING"),
	S(STMT_QUEUE_INSERT, "queue_insert", 3,
	  "INSERT INTO queue (blob_id, sender, recipient) VALUES ($1, $2, $3)"),
	S(STMT_NOTIFY_MAILBOX, "notify_mailbox", 1, "SELECT pg_notify('mailbox_changed', $1)"),
	/* Group commit (db_deliver_batch): $1 account ids '{1,2}'. Locks the
	 * INBOX rows of a whole batch in one order (mailbox id), so batches
	 * with overlapping recipients cannot deadlock. */
	S(STMT_DELIVER_LOCK, "deliver_lock", 1,
	  "SELECT account_id, id FROM mailboxes WHERE account_id = ANY($1::bigint[])"
	  " AND name = 'INBOX' ORDER BY id FOR UPDATE"),
	/* One copy into one account's INBOX in one round trip: $1 account,
	 * $2 blob, $3 size, $4-$7 the IMAP ENVELOPE, BODYSTRUCTURE, BODY and
	 * part table (NULL: computed on first FETCH). Lock order as everywhere: the INBOX row first
	 * (l), then the account row (c). The quota check is in the accounts
	 * UPDATE (no row = over quota, no such account or no INBOX: nothing
	 * changed); UID and MODSEQ come from the mailbox row, updated in this
	 * transaction; mailbox_changed goes out at COMMIT, once per mailbox
	 * however many copies (PostgreSQL folds identical notifications of a
	 * transaction), and is dropped with a rolled-back savepoint. Always one row: charged (0/1), mailbox id
	 * and UID (NULL when no copy was stored). */
	S(STMT_DELIVER_MESSAGE, "deliver_message", 7,
	  "WITH l AS (SELECT id, account_id FROM mailboxes"
	  " WHERE account_id = $1::bigint AND name = 'INBOX' FOR UPDATE),"
	  " c AS (UPDATE accounts SET used_bytes = used_bytes + $3::bigint"
	  " WHERE id = (SELECT account_id FROM l)"
	  " AND (quota_bytes = 0 OR used_bytes + $3::bigint <= quota_bytes) RETURNING id),"
	  " m AS (UPDATE mailboxes SET uidnext = uidnext + 1, highestmodseq = highestmodseq + 1"
	  " WHERE id = (SELECT id FROM l) AND EXISTS (SELECT 1 FROM c)"
	  " RETURNING id, uidnext - 1 AS uid, highestmodseq),"
	  " i AS (INSERT INTO messages (mailbox_id, uid, blob_id, modseq, size, internal_date,"
	  " envelope, bodystructure, body_simple, parts)"
	  " SELECT id, uid, $2::bigint, highestmodseq, $3::bigint, now(), $4, $5, $6, $7 FROM m"
	  " RETURNING mailbox_id, uid)"
	  " SELECT (SELECT count(*) FROM c), i.mailbox_id, i.uid,"
	  " CASE WHEN i.mailbox_id IS NOT NULL"
	  " THEN pg_notify('mailbox_changed', i.mailbox_id::text) END"
	  " FROM (SELECT 1) one LEFT JOIN i ON true"),
	/* The same with the blob written in the same statement, only when the
	 * copy fits (group commit's one-round-trip path, every statement of a
	 * batch sent at once, none waiting for another's result): $1 account,
	 * $2 size, $3 sha256 (binary), $4 body (binary), $5-$8 the IMAP
	 * metadata as above. The row above without its NOTIFY (the pipeline
	 * sends STMT_NOTIFY_INBOX after the COMMIT). */
	S(STMT_DELIVER_NEW, "deliver_new", 8,
	  "WITH l AS (SELECT id, account_id FROM mailboxes"
	  " WHERE account_id = $1::bigint AND name = 'INBOX' FOR UPDATE),"
	  " c AS (UPDATE accounts SET used_bytes = used_bytes + $2::bigint"
	  " WHERE id = (SELECT account_id FROM l)"
	  " AND (quota_bytes = 0 OR used_bytes + $2::bigint <= quota_bytes) RETURNING id),"
	  " b AS (INSERT INTO blobs (sha256, size, body) SELECT $3::bytea, $2::bigint, $4::bytea"
	  " FROM c ON CONFLICT (sha256) DO UPDATE SET size = EXCLUDED.size RETURNING id),"
	  " m AS (UPDATE mailboxes SET uidnext = uidnext + 1, highestmodseq = highestmodseq + 1"
	  " WHERE id = (SELECT id FROM l) AND EXISTS (SELECT 1 FROM c)"
	  " RETURNING id, uidnext - 1 AS uid, highestmodseq),"
	  " i AS (INSERT INTO messages (mailbox_id, uid, blob_id, modseq, size, internal_date,"
	  " envelope, bodystructure, body_simple, parts)"
	  " SELECT m.id, m.uid, b.id, m.highestmodseq, $2::bigint, now(), $5, $6, $7, $8 FROM m, b"
	  " RETURNING mailbox_id, uid)"
	  " SELECT (SELECT count(*) FROM c), i.mailbox_id, i.uid"
	  " FROM (SELECT 1) one LEFT JOIN i ON true"),
	/* After the COMMIT of a pipelined delivery, in a transaction of its
	 * own: a NOTIFY makes PostgreSQL hold one lock for the whole database
	 * until its transaction's commit is on disk, so a notifying
	 * delivery would wait for every other one's fsync. Alone, it writes
	 * no WAL and waits for none. $1 account. */
	S(STMT_NOTIFY_INBOX, "notify_inbox", 1,
	  "SELECT pg_notify('mailbox_changed', id::text) FROM mailboxes"
	  " WHERE account_id = $1::bigint AND name = 'INBOX'"),
	/* Group commit for one account, whole batch at once: locks the INBOX,
	 * charges the batch's bytes ($3) and takes $2 UIDs and MODSEQs in one
	 * update of each row, and leaves mailbox, first UID and MODSEQ base in
	 * transaction-local settings for STMT_DELIVER_RESERVED. No row (over
	 * quota for the sum, no INBOX, no account): the inserts that follow
	 * fail, the transaction rolls back and the batch takes the per-message
	 * path, which tells those cases apart. $1 account. */
	S(STMT_DELIVER_RESERVE, "deliver_reserve", 3,
	  "WITH l AS (SELECT id, account_id FROM mailboxes"
	  " WHERE account_id = $1::bigint AND name = 'INBOX' FOR UPDATE),"
	  " c AS (UPDATE accounts SET used_bytes = used_bytes + $3::bigint"
	  " WHERE id = (SELECT account_id FROM l)"
	  " AND (quota_bytes = 0 OR used_bytes + $3::bigint <= quota_bytes) RETURNING id),"
	  " m AS (UPDATE mailboxes SET uidnext = uidnext + $2::bigint,"
	  " highestmodseq = highestmodseq + $2::bigint"
	  " WHERE id = (SELECT id FROM l) AND EXISTS (SELECT 1 FROM c)"
	  " RETURNING id, uidnext - $2::bigint AS uid, highestmodseq - $2::bigint AS modseq)"
	  " SELECT set_config('postern.mailbox', id::text, true),"
	  " set_config('postern.uid', uid::text, true),"
	  " set_config('postern.modseq', modseq::text, true) FROM m"),
	/* Copy $1 (0-based) of a reserved batch: blob and message row. $2 size,
	 * $3 sha256 (binary), $4 body (binary), $5-$8 the IMAP metadata. */
	S(STMT_DELIVER_RESERVED, "deliver_reserved", 8,
	  "WITH b AS (INSERT INTO blobs (sha256, size, body) VALUES ($3::bytea, $2::bigint, $4::bytea)"
	  " ON CONFLICT (sha256) DO UPDATE SET size = EXCLUDED.size RETURNING id)"
	  " INSERT INTO messages (mailbox_id, uid, blob_id, modseq, size, internal_date,"
	  " envelope, bodystructure, body_simple, parts)"
	  " SELECT current_setting('postern.mailbox')::bigint,"
	  " current_setting('postern.uid')::bigint + $1::bigint, b.id,"
	  " current_setting('postern.modseq')::bigint + $1::bigint + 1,"
	  " $2::bigint, now(), $5, $6, $7, $8 FROM b"),
	/* After a copy changed nothing: no row = the account is gone; else
	 * whether it has an INBOX (false: make one and try again). */
	S(STMT_ACCOUNT_EXISTS, "account_exists", 1,
	  "SELECT EXISTS (SELECT 1 FROM mailboxes WHERE account_id = $1::bigint AND name = 'INBOX')"
	  " FROM accounts WHERE id = $1::bigint"),
	S(STMT_NOTIFY_CONFIG, "notify_config", 1, "SELECT pg_notify('config_changed', $1)"),

	/* --- POP3 view and expunge --- */
	S(STMT_INBOX_GET, "inbox_get", 1,
	  "SELECT id, uidvalidity FROM mailboxes WHERE account_id = $1 AND name = 'INBOX'"),
	S(STMT_POP3_LIST, "pop3_list", 2,
	  "SELECT uid, size FROM messages WHERE mailbox_id = $1 ORDER BY uid LIMIT $2"),
	/* binary result: the body as raw bytes */
	S(STMT_MESSAGE_BODY, "message_body", 2,
	  "SELECT b.body FROM messages m JOIN blobs b ON b.id = m.blob_id"
	  " WHERE m.mailbox_id = $1 AND m.uid = $2"),
	/* $1 mailbox, $2 account (ownership check) */
	S(STMT_EXPUNGE_BUMP, "expunge_bump", 2,
	  "UPDATE mailboxes SET highestmodseq = highestmodseq + 1"
	  " WHERE id = $1 AND account_id = $2 RETURNING highestmodseq"),
	/* $1 mailbox, $2 uids '{1,2}', $3 modseq -> count, bytes, blob ids */
	S(STMT_EXPUNGE_UIDS, "expunge_uids", 3,
	  "WITH del AS (DELETE FROM messages WHERE mailbox_id = $1 AND uid = ANY($2::bigint[])"
	  " RETURNING uid, size, blob_id),"
	  " ins AS (INSERT INTO expunged (mailbox_id, uid, modseq) SELECT $1, uid, $3 FROM del)"
	  " SELECT count(*), coalesce(sum(size), 0),"
	  " coalesce(array_agg(DISTINCT blob_id), '{}'::bigint[]) FROM del"),
	S(STMT_ACCOUNT_UNCHARGE, "account_uncharge", 2,
	  "UPDATE accounts SET used_bytes = greatest(used_bytes - $2, 0) WHERE id = $1"),
	/* $1 candidate blob ids '{...}': deletes those nothing refers to */
	S(STMT_BLOB_GC, "blob_gc", 1,
	  "DELETE FROM blobs b WHERE b.id = ANY($1::bigint[])"
	  " AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.blob_id = b.id)"
	  " AND NOT EXISTS (SELECT 1 FROM queue q WHERE q.blob_id = b.id)"),

	/* --- listeners and certificates --- */
	S(STMT_LISTENERS_LOAD, "listeners_load", 0,
	  "SELECT name, protocol, port, tls_mode, enabled FROM listeners ORDER BY port, name"),
	/* $1 default host or NULL: its certificate first, then the newest */
	S(STMT_CERTS_LOAD, "certs_load", 1,
	  "SELECT array_to_string(hostnames, E'\\n'), cert_pem, key_pem_sealed FROM certificates"
	  " ORDER BY is_default DESC, coalesce($1::text = ANY(hostnames), false) DESC,"
	  " created_at DESC, id DESC"),
	/* $1 hostnames joined by '\n', $4 not_after as unix time */
	S(STMT_CERT_INSERT, "cert_insert", 4,
	  "INSERT INTO certificates (hostnames, cert_pem, key_pem_sealed, not_after)"
	  " VALUES (string_to_array($1, E'\\n'), $2, $3, to_timestamp($4::bigint))"),
	S(STMT_CERT_COUNT, "cert_count", 0, "SELECT count(*) FROM certificates"),

	/* --- administration --- */
	S(STMT_DOMAIN_INSERT, "domain_insert", 1, "INSERT INTO domains (name) VALUES ($1) RETURNING id"),
	S(STMT_DOMAIN_LIST, "domain_list", 0, "SELECT name, active FROM domains ORDER BY name"),
	S(STMT_DOMAIN_ACCOUNT_COUNT, "domain_account_count", 1,
	  "SELECT count(*) FROM accounts WHERE domain_id = $1"),
	S(STMT_DOMAIN_DELETE, "domain_delete", 1, "DELETE FROM domains WHERE id = $1"),
	/* $1 domain, $2 local part, $3 hash, $4 quota */
	S(STMT_ACCOUNT_INSERT, "account_insert", 4,
	  "INSERT INTO accounts (domain_id, local_part, password_hash, quota_bytes)"
	  " VALUES ($1, $2, $3, $4) RETURNING id"),
	S(STMT_ACCOUNT_SET_PASSWORD, "account_set_password", 2,
	  "UPDATE accounts SET password_hash = $2 WHERE id = $1"),
	S(STMT_ACCOUNT_SET_ACTIVE, "account_set_active", 2,
	  "UPDATE accounts SET active = $2 WHERE id = $1"),
	/* $1 domain name or NULL = all */
	S(STMT_ACCOUNT_LIST, "account_list", 1,
	  "SELECT a.local_part || '@' || d.name, a.used_bytes, a.quota_bytes, a.active"
	  " FROM accounts a JOIN domains d ON d.id = a.domain_id"
	  " WHERE $1::text IS NULL OR d.name = lower($1::text)"
	  " ORDER BY d.name, lower(a.local_part)"),
	S(STMT_ACCOUNT_BLOBS, "account_blobs", 1,
	  "SELECT coalesce(array_agg(DISTINCT m.blob_id), '{}'::bigint[])"
	  " FROM messages m JOIN mailboxes x ON x.id = m.mailbox_id WHERE x.account_id = $1"),
	S(STMT_ACCOUNT_DELETE, "account_delete", 1, "DELETE FROM accounts WHERE id = $1"),
	/* $2 NULL = catch-all */
	S(STMT_ALIAS_INSERT, "alias_insert", 3,
	  "INSERT INTO aliases (domain_id, local_part, destination) VALUES ($1, $2, $3)"),
	S(STMT_ALIAS_DELETE, "alias_delete", 3,
	  "DELETE FROM aliases WHERE domain_id = $1"
	  " AND lower(coalesce(local_part, '')) = lower(coalesce($2::text, ''))"
	  " AND lower(destination) = lower($3)"),
	/* $1 domain name or NULL = all; catch-all source is "@domain" */
	S(STMT_ALIAS_LIST, "alias_list", 1,
	  "SELECT coalesce(al.local_part, '') || '@' || d.name, al.destination"
	  " FROM aliases al JOIN domains d ON d.id = al.domain_id"
	  " WHERE $1::text IS NULL OR d.name = lower($1::text)"
	  " ORDER BY d.name, lower(al.local_part) NULLS FIRST, lower(al.destination)"),
	/* serialises listener changes so two cannot take one port */
	S(STMT_LISTENER_LOCK, "listener_lock", 0,
	  "SELECT pg_advisory_xact_lock(hashtext('postern.listeners'))"),
	S(STMT_LISTENER_GET, "listener_get", 1,
	  "SELECT name, protocol, port, tls_mode, enabled FROM listeners WHERE name = $1 FOR UPDATE"),
	S(STMT_LISTENER_PORT_USER, "listener_port_user", 2,
	  "SELECT name FROM listeners WHERE port = $1 AND name <> $2 AND enabled ORDER BY name LIMIT 1"),
	S(STMT_LISTENER_UPDATE, "listener_update", 4,
	  "UPDATE listeners SET port = $2, tls_mode = $3, enabled = $4 WHERE name = $1"),
	S(STMT_QUEUE_LIST, "queue_list", 0,
	  "SELECT id, sender, recipient, state, attempts,"
	  " to_char(next_attempt AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
	  " coalesce(last_error, '') FROM queue ORDER BY id"),
	S(STMT_AUDIT, "audit", 3, "INSERT INTO audit_log (admin, action, detail) VALUES ($1, $2, $3)"),
	S(STMT_ACCOUNT_SET_QUOTA, "account_set_quota", 2,
	  "UPDATE accounts SET quota_bytes = $2 WHERE id = $1"),

	/* --- admin panel (web/) --- */
	S(STMT_WEB_ADMIN_COUNT, "web_admin_count", 0, "SELECT count(*) FROM admins"),
	/* several nodes may create the first admin at once: the first wins */
	S(STMT_WEB_ADMIN_INSERT, "web_admin_insert", 2,
	  "INSERT INTO admins (username, password_hash) VALUES ($1, $2)"
	  " ON CONFLICT (username) DO NOTHING"),
	S(STMT_WEB_ADMIN_BY_NAME, "web_admin_by_name", 1,
	  "SELECT id, password_hash FROM admins WHERE username = $1"),
	/* $1 sha256 of the token (binary), $2 admin, $3 csrf, $4 idle seconds */
	S(STMT_WEB_SESSION_INSERT, "web_session_insert", 4,
	  "INSERT INTO admin_sessions (token_hash, admin_id, csrf, expires_at)"
	  " VALUES ($1, $2, $3, now() + make_interval(secs => $4::int))"),
	/* Finds a live session and slides its idle expiry, never past the
	 * absolute one: $1 token hash (binary), $2 idle s, $3 absolute s. */
	S(STMT_WEB_SESSION_TOUCH, "web_session_touch", 3,
	  "UPDATE admin_sessions s SET expires_at = least(now() + make_interval(secs => $2::int),"
	  " s.created_at + make_interval(secs => $3::int))"
	  " FROM admins a WHERE s.token_hash = $1 AND a.id = s.admin_id AND s.expires_at > now()"
	  " AND s.created_at > now() - make_interval(secs => $3::int)"
	  " RETURNING a.id, a.username, s.csrf"),
	S(STMT_WEB_SESSION_DELETE, "web_session_delete", 1,
	  "DELETE FROM admin_sessions WHERE token_hash = $1"),
	S(STMT_WEB_SESSION_PURGE, "web_session_purge", 0,
	  "DELETE FROM admin_sessions WHERE expires_at <= now()"),
	/* $1 domain or NULL, $2 substring or NULL, $3 offset, $4 limit */
	S(STMT_WEB_ACCOUNT_PAGE, "web_account_page", 4,
	  "SELECT a.local_part || '@' || d.name, a.used_bytes, a.quota_bytes, a.active"
	  " FROM accounts a JOIN domains d ON d.id = a.domain_id"
	  " WHERE ($1::text IS NULL OR d.name = lower($1::text))"
	  " AND ($2::text IS NULL OR strpos(lower(a.local_part || '@' || d.name), lower($2::text)) > 0)"
	  " ORDER BY d.name, lower(a.local_part) OFFSET $3::bigint LIMIT $4::bigint"),
	S(STMT_WEB_ACCOUNT_COUNT, "web_account_count", 2,
	  "SELECT count(*) FROM accounts a JOIN domains d ON d.id = a.domain_id"
	  " WHERE ($1::text IS NULL OR d.name = lower($1::text))"
	  " AND ($2::text IS NULL OR strpos(lower(a.local_part || '@' || d.name), lower($2::text)) > 0)"),
	/* newest first: $1 offset, $2 limit */
	S(STMT_WEB_AUDIT_LIST, "web_audit_list", 2,
	  "SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), admin, action,"
	  " detail FROM audit_log ORDER BY id DESC OFFSET $1::bigint LIMIT $2::bigint"),
	/* XXX: exact counts; a very large messages table wants reltuples */
	S(STMT_WEB_DASHBOARD, "web_dashboard", 0,
	  "SELECT (SELECT count(*) FROM domains), (SELECT count(*) FROM accounts),"
	  " (SELECT count(*) FROM aliases), (SELECT count(*) FROM messages),"
	  " (SELECT coalesce(sum(used_bytes), 0) FROM accounts),"
	  " (SELECT count(*) FROM queue WHERE state = 'queued'),"
	  " (SELECT count(*) FROM admin_sessions WHERE expires_at > now())"),
	/* --- IMAP (imap_store.c) --- */
	S(STMT_IMAP_LIST, "imap_list", 1,
	  "SELECT id, name, coalesce(special_use, ''), subscribed FROM mailboxes"
	  " WHERE account_id = $1 ORDER BY name"),
	S(STMT_IMAP_MAILBOX_GET, "imap_mailbox_get", 2,
	  "SELECT id, uidvalidity, uidnext, highestmodseq FROM mailboxes"
	  " WHERE account_id = $1 AND name = $2"),
	S(STMT_IMAP_CREATE, "imap_create", 2,
	  "INSERT INTO mailboxes (account_id, name) VALUES ($1, $2)"
	  " ON CONFLICT (account_id, name) DO NOTHING"
	  " RETURNING id, pg_notify('mailbox_changed', id::text)"),
	/* $1 account, $2 name -> deleted (0/1), blob ids to collect. The
	 * messages go first (their sizes are uncharged), the mailbox row's
	 * cascade finds none left. */
	S(STMT_IMAP_DELETE, "imap_delete", 2,
	  "WITH mb AS (SELECT id FROM mailboxes WHERE account_id = $1 AND name = $2"
	  " AND name <> 'INBOX' FOR UPDATE),"
	  " del AS (DELETE FROM messages WHERE mailbox_id = (SELECT id FROM mb)"
	  " RETURNING size, blob_id),"
	  " un AS (UPDATE accounts SET used_bytes = greatest(used_bytes -"
	  " (SELECT coalesce(sum(size), 0) FROM del), 0) WHERE id = $1 AND EXISTS (SELECT 1 FROM mb)),"
	  " d AS (DELETE FROM mailboxes WHERE id = (SELECT id FROM mb) RETURNING id)"
	  " SELECT (SELECT count(*) FROM d),"
	  " coalesce((SELECT array_agg(DISTINCT blob_id) FROM del), '{}'::bigint[]),"
	  " (SELECT pg_notify('mailbox_changed', id::text) FROM d)"),
	/* $1 account, $2 from, $3 to: the mailbox and its children */
	S(STMT_IMAP_RENAME, "imap_rename", 3,
	  "UPDATE mailboxes SET name = $3 || substr(name, length($2) + 1)"
	  " WHERE account_id = $1 AND (name = $2 OR left(name, length($2) + 1) = $2 || '/')"
	  " RETURNING id, pg_notify('mailbox_changed', id::text)"),
	S(STMT_IMAP_SUBSCRIBE, "imap_subscribe", 3,
	  "UPDATE mailboxes SET subscribed = $3 WHERE account_id = $1 AND name = $2"
	  " RETURNING id, pg_notify('mailbox_changed', id::text)"),
	S(STMT_IMAP_STATUS, "imap_status", 2,
	  "SELECT (SELECT count(*) FROM messages WHERE mailbox_id = mb.id),"
	  " (SELECT count(*) FROM messages WHERE mailbox_id = mb.id AND flags & 1 = 0),"
	  " (SELECT coalesce(sum(size), 0) FROM messages WHERE mailbox_id = mb.id),"
	  " mb.uidnext, mb.uidvalidity, mb.highestmodseq,"
	  " (SELECT count(*) FROM messages WHERE mailbox_id = mb.id AND flags & 8 <> 0),"
	  " (SELECT count(*) FROM messages WHERE mailbox_id = mb.id AND uid >= mb.recent_uid)"
	  " FROM mailboxes mb WHERE account_id = $1 AND name = $2"),
	/* $1 mailbox, $2 MODSEQ seen: one snapshot of the counters (kind 0,
	 * with recent_uid in f), expunged UIDs (1) and added or changed
	 * messages (2). */
	S(STMT_IMAP_SYNC, "imap_sync", 2,
	  "SELECT 0 AS k, highestmodseq AS a, uidnext AS b, recent_uid AS f, '' AS kw"
	  " FROM mailboxes WHERE id = $1"
	  " UNION ALL SELECT 1, uid, 0, 0, '' FROM expunged"
	  " WHERE mailbox_id = $1 AND modseq > $2::bigint AND $2::bigint > 0"
	  " UNION ALL SELECT 2, uid, modseq, flags, array_to_string(keywords, ' ') FROM messages"
	  " WHERE mailbox_id = $1 AND modseq > $2::bigint"
	  " ORDER BY 1, 2"),
	/* $1 blob, $2 envelope, $3 bodystructure, $4 body, $5 parts */
	S(STMT_IMAP_META_SAVE, "imap_meta_save", 5,
	  "UPDATE messages SET envelope = $2, bodystructure = $3, body_simple = $4, parts = $5"
	  " WHERE blob_id = $1 AND parts IS NULL"),
	/* $1 mailbox, UIDs $2..$3, $4 the UIDs wanted among them or NULL
	 * for all (a dense range: no array of thousands to parse and probe;
	 * the caller drops rows it did not ask for) */
	S(STMT_IMAP_ROWS, "imap_rows", 4,
	  "SELECT uid, flags, array_to_string(keywords, ' '),"
	  " extract(epoch FROM internal_date)::bigint, size, blob_id,"
	  " envelope, bodystructure, body_simple, parts, modseq FROM messages"
	  " WHERE mailbox_id = $1 AND uid BETWEEN $2::bigint AND $3::bigint"
	  " AND ($4::bigint[] IS NULL OR uid = ANY($4::bigint[])) ORDER BY uid"),
	/* $1 mailbox, $2 uids, $3 op '+', '-' or '=', $4 flag bits, $5 keywords,
	 * $6 UNCHANGEDSINCE (RFC 7162 3.1.3) or NULL: only rows whose MODSEQ is
	 * <= $6 change, the others come back with k = 0 (the [MODIFIED] set).
	 * -> uid, flags, keywords, modseq, k (1 changed) */
	S(STMT_IMAP_SET_FLAGS, "imap_set_flags", 6,
	  "WITH mb AS (UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id = $1"
	  " RETURNING highestmodseq),"
	  " u AS (UPDATE messages SET"
	  " flags = CASE $3::text WHEN '+' THEN flags | $4::int WHEN '-' THEN flags & ~$4::int"
	  " ELSE $4::int END,"
	  " keywords = CASE $3::text"
	  " WHEN '+' THEN ARRAY(SELECT DISTINCT k FROM unnest(keywords || $5::text[]) k ORDER BY k)"
	  " WHEN '-' THEN ARRAY(SELECT k FROM unnest(keywords) k WHERE k <> ALL($5::text[]))"
	  " ELSE ARRAY(SELECT DISTINCT k FROM unnest($5::text[]) k ORDER BY k) END,"
	  " modseq = (SELECT highestmodseq FROM mb)"
	  " WHERE mailbox_id = $1 AND uid = ANY($2::bigint[])"
	  " AND ($6::bigint IS NULL OR modseq <= $6::bigint)"
	  " RETURNING uid, flags, keywords, modseq),"
	  " f AS (SELECT uid FROM messages WHERE mailbox_id = $1 AND uid = ANY($2::bigint[])"
	  " AND $6::bigint IS NOT NULL AND modseq > $6::bigint AND uid NOT IN (SELECT uid FROM u)),"
	  " x AS (SELECT uid, flags, array_to_string(keywords, ' ') AS kw, modseq, 1 AS k FROM u"
	  " UNION ALL SELECT uid, 0, '', 0, 0 FROM f),"
	  " n AS (SELECT pg_notify('mailbox_changed', $1::text) AS z"
	  " FROM (SELECT 1 FROM u LIMIT 1) o)"
	  " SELECT x.uid, x.flags, x.kw, x.modseq, x.k, n.z FROM x LEFT JOIN n ON true"
	  " ORDER BY x.uid"),
	S(STMT_IMAP_MAILBOX_LOCK, "imap_mailbox_lock", 2,
	  "SELECT id, uidvalidity, uidnext FROM mailboxes WHERE account_id = $1 AND name = $2"
	  " FOR UPDATE"),
	/* $1 source mailbox, $2 uids, $3 destination (locked), $4 its uidnext:
	 * the copies get $4, $4 + 1, ... in source UID order. */
	S(STMT_IMAP_COPY, "imap_copy", 4,
	  "WITH s AS (SELECT uid, blob_id, flags, keywords, internal_date, size, envelope,"
	  " bodystructure, body_simple, parts, row_number() OVER (ORDER BY uid) - 1 AS n"
	  " FROM messages WHERE mailbox_id = $1 AND uid = ANY($2::bigint[])),"
	  " mb AS (UPDATE mailboxes SET uidnext = $4::bigint + (SELECT count(*) FROM s),"
	  " highestmodseq = highestmodseq + 1 WHERE id = $3 RETURNING highestmodseq),"
	  " i AS (INSERT INTO messages (mailbox_id, uid, blob_id, modseq, flags, keywords,"
	  " internal_date, size, envelope, bodystructure, body_simple, parts)"
	  " SELECT $3, $4::bigint + s.n, s.blob_id, (SELECT highestmodseq FROM mb), s.flags,"
	  " s.keywords, s.internal_date, s.size, s.envelope, s.bodystructure, s.body_simple,"
	  " s.parts FROM s RETURNING uid)"
	  " SELECT s.uid, $4::bigint + s.n, s.size, pg_notify('mailbox_changed', $3::text)"
	  " FROM s ORDER BY s.uid"),
	/* $1 account, $2 bytes: no row = over quota */
	S(STMT_IMAP_CHARGE, "imap_charge", 2,
	  "UPDATE accounts SET used_bytes = used_bytes + $2::bigint WHERE id = $1"
	  " AND (quota_bytes = 0 OR used_bytes + $2::bigint <= quota_bytes) RETURNING id"),
	/* $1 mailbox (locked), $2 blob, $3 size, $4 flags, $5 keywords,
	 * $6 internal date (unix time or NULL), $7-$10 metadata */
	S(STMT_IMAP_APPEND, "imap_append", 10,
	  "WITH mb AS (UPDATE mailboxes SET uidnext = uidnext + 1,"
	  " highestmodseq = highestmodseq + 1 WHERE id = $1"
	  " RETURNING uidnext - 1 AS uid, highestmodseq)"
	  " INSERT INTO messages (mailbox_id, uid, blob_id, modseq, flags, keywords,"
	  " internal_date, size, envelope, bodystructure, body_simple, parts)"
	  " SELECT $1, mb.uid, $2, mb.highestmodseq, $4, $5::text[],"
	  " coalesce(to_timestamp($6::bigint), now()), $3, $7, $8, $9, $10 FROM mb"
	  " RETURNING uid, pg_notify('mailbox_changed', $1::text)"),
	/* $1 mailbox, $2 uids or NULL (every \Deleted message), $3 the new
	 * MODSEQ (STMT_EXPUNGE_BUMP): deletes what is \Deleted at this moment
	 * -> count, bytes, blob ids, UIDs ascending */
	S(STMT_IMAP_EXPUNGE, "imap_expunge", 3,
	  "WITH del AS (DELETE FROM messages WHERE mailbox_id = $1 AND flags & 8 <> 0"
	  " AND ($2::bigint[] IS NULL OR uid = ANY($2::bigint[])) RETURNING uid, size, blob_id),"
	  " ins AS (INSERT INTO expunged (mailbox_id, uid, modseq) SELECT $1, uid, $3 FROM del)"
	  " SELECT count(*), coalesce(sum(size), 0),"
	  " coalesce(array_agg(DISTINCT blob_id), '{}'::bigint[]),"
	  " coalesce(array_to_string(array_agg(uid ORDER BY uid), ' '), '') FROM del"),
	/* binary result: uid, body; $3 > 0: only the header block (through
	 * its blank line), at most $3 octets */
	S(STMT_IMAP_BODIES, "imap_bodies", 3,
	  "SELECT m.uid, CASE WHEN $3::int = 0 THEN b.body"
	  " ELSE substring(b.body FOR least($3::int, CASE WHEN h.p = 0 THEN length(b.body)"
	  " ELSE h.p + 3 END)) END"
	  " FROM messages m JOIN blobs b ON b.id = m.blob_id"
	  " CROSS JOIN LATERAL (SELECT CASE WHEN $3::int = 0 THEN 0"
	  " ELSE position('\\x0d0a0d0a'::bytea IN b.body) END AS p) h"
	  " WHERE m.mailbox_id = $1 AND m.uid = ANY($2::bigint[]) ORDER BY m.uid"),
	/* --- panel --- */
	/* certificate changes are serialised (names move between rows) */
	S(STMT_PANEL_CERT_LOCK, "panel_cert_lock", 0,
	  "LOCK TABLE certificates IN SHARE ROW EXCLUSIVE MODE"),
	/* $1 hostnames joined by '\n', $4 not_after as unix time */
	S(STMT_PANEL_CERT_INSERT, "panel_cert_insert", 4,
	  "INSERT INTO certificates (hostnames, cert_pem, key_pem_sealed, not_after)"
	  " VALUES (string_to_array($1, E'\\n'), $2, $3, to_timestamp($4::bigint)) RETURNING id"),
	S(STMT_PANEL_CERT_LIST, "panel_cert_list", 0,
	  "SELECT id, array_to_string(hostnames, E'\\n'), cert_pem, is_default FROM certificates"
	  " ORDER BY id"),
	S(STMT_PANEL_CERT_GET, "panel_cert_get", 1,
	  "SELECT cert_pem, array_to_string(hostnames, E'\\n'), is_default FROM certificates"
	  " WHERE id = $1"),
	/* $1 certificate keeping the names $2 ('\n'-joined): no other row lists them */
	S(STMT_PANEL_CERT_TAKE_NAMES, "panel_cert_take_names", 2,
	  "UPDATE certificates SET hostnames = ARRAY(SELECT h FROM unnest(hostnames) h"
	  " WHERE lower(h) <> ALL(string_to_array(lower($2), E'\\n')))"
	  " WHERE id <> $1 AND hostnames && string_to_array(lower($2), E'\\n')"),
	S(STMT_PANEL_CERT_SET_NAMES, "panel_cert_set_names", 2,
	  "UPDATE certificates SET hostnames = string_to_array($2, E'\\n') WHERE id = $1"),
	/* $1 the new default: every other row loses the mark */
	S(STMT_PANEL_CERT_SET_DEFAULT, "panel_cert_set_default", 1,
	  "UPDATE certificates SET is_default = (id = $1) WHERE is_default OR id = $1"),
	S(STMT_PANEL_CERT_DELETE, "panel_cert_delete", 1,
	  "DELETE FROM certificates WHERE id = $1 RETURNING is_default"),
	/* $1 domain: its active DKIM selectors and public keys (p= values) */
	S(STMT_PANEL_DKIM_LIST, "panel_dkim_list", 1,
	  "SELECT k.selector, k.public_key FROM dkim_keys k JOIN domains d ON d.id = k.domain_id"
	  " WHERE d.name = lower($1) AND k.active ORDER BY k.selector LIMIT 16"),
	/* $1 user name, $2 argon2id hash */
	S(STMT_PANEL_ADMIN_ADD, "panel_admin_add", 2,
	  "INSERT INTO admins (username, password_hash) VALUES ($1, $2) RETURNING id"),
	S(STMT_PANEL_ADMIN_PASSWD, "panel_admin_passwd", 2,
	  "UPDATE admins SET password_hash = $2 WHERE username = $1 RETURNING id"),
	S(STMT_PANEL_ADMIN_SESSIONS_DROP, "panel_admin_sessions_drop", 1,
	  "DELETE FROM admin_sessions WHERE admin_id = $1"),
	S(STMT_PANEL_ADMIN_TOTP_RESET, "panel_admin_totp_reset", 1,
	  "UPDATE admins SET totp_secret_sealed = NULL, totp_pending_sealed = NULL"
	  " WHERE username = $1 RETURNING id"),
	S(STMT_PANEL_TOTP_GET, "panel_totp_get", 1,
	  "SELECT totp_secret_sealed, totp_pending_sealed, totp_last_step FROM admins WHERE id = $1"),
	/* $2 sealed secret awaiting its first code, NULL to cancel */
	S(STMT_PANEL_TOTP_PENDING, "panel_totp_pending", 2,
	  "UPDATE admins SET totp_pending_sealed = $2 WHERE id = $1"),
	/* $2 the step of the code that confirmed it */
	S(STMT_PANEL_TOTP_ACTIVATE, "panel_totp_activate", 2,
	  "UPDATE admins SET totp_secret_sealed = totp_pending_sealed, totp_pending_sealed = NULL,"
	  " totp_last_step = $2 WHERE id = $1 AND totp_pending_sealed IS NOT NULL RETURNING id"),
	/* a code is used once: no row when its step is not newer */
	S(STMT_PANEL_TOTP_USE, "panel_totp_use", 2,
	  "UPDATE admins SET totp_last_step = $2 WHERE id = $1 AND totp_last_step < $2 RETURNING id"),
	/* --- acme --- */
	/* $1 hostname, $2 challenge, $3 renewal -> id */
	S(STMT_ACME_ORDER_INSERT, "acme_order_insert", 3,
	  "INSERT INTO acme_orders (hostname, challenge, renewal) VALUES (lower($1), $2, $3)"
	  " RETURNING id"),
	S(STMT_ACME_NOTIFY, "acme_notify", 1, "SELECT pg_notify('acme_requested', $1)"),
	/* one order for this node -> id, hostname, challenge: a requested one,
	 * or a running one whose runner's session is gone (no session holds
	 * its advisory lock (20563, id): the node died mid-order). The lock is
	 * taken in the same statement, held by the session until
	 * STMT_ACME_ORDER_UNLOCK, and dies with the connection. */
	S(STMT_ACME_ORDER_CLAIM, "acme_order_claim", 0,
	  "UPDATE acme_orders SET state = 'running', step = 'starting', updated_at = now()"
	  " WHERE id = (SELECT o.id FROM acme_orders o WHERE o.state = 'requested'"
	  " OR (o.state = 'running' AND NOT EXISTS (SELECT 1 FROM pg_locks l"
	  " WHERE l.locktype = 'advisory' AND l.database = (SELECT oid FROM pg_database"
	  " WHERE datname = current_database()) AND l.classid = 20563 AND l.objid = o.id::oid"
	  " AND l.objsubid = 2))"
	  " ORDER BY o.id LIMIT 1 FOR UPDATE SKIP LOCKED)"
	  " RETURNING id, hostname, challenge, pg_advisory_lock(20563, id::int)"),
	S(STMT_ACME_ORDER_UNLOCK, "acme_order_unlock", 1,
	  "SELECT pg_advisory_unlock(20563, $1::int)"),
	S(STMT_ACME_ORDER_STEP, "acme_order_step", 2,
	  "UPDATE acme_orders SET step = $2, updated_at = now() WHERE id = $1"),
	S(STMT_ACME_ORDER_FAIL, "acme_order_fail", 2,
	  "UPDATE acme_orders SET state = 'failed', error = $2, updated_at = now() WHERE id = $1"),
	/* $1 order, $2 certificate id, $3 not_after (unix time) */
	S(STMT_ACME_ORDER_DONE, "acme_order_done", 3,
	  "UPDATE acme_orders SET state = 'valid', step = 'certificate installed', error = '',"
	  " certificate_id = $2, not_after = to_timestamp($3::bigint), updated_at = now()"
	  " WHERE id = $1"),
	/* -> hostname, challenge, state, step, error, not_after (ISO 8601 or '') */
	S(STMT_ACME_ORDER_GET, "acme_order_get", 1,
	  "SELECT hostname, challenge, state, step, error,"
	  " coalesce(to_char(not_after AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''),"
	  " to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), id"
	  " FROM acme_orders WHERE id = $1"),
	/* the same columns, newest first, $1 rows at most */
	S(STMT_ACME_ORDER_LIST, "acme_order_list", 1,
	  "SELECT hostname, challenge, state, step, error,"
	  " coalesce(to_char(not_after AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''),"
	  " to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), id"
	  " FROM acme_orders ORDER BY id DESC LIMIT $1"),
	/* $1 days: a renewal order for every hostname whose newest ACME
	 * certificate ends within $1 days and that has no order under way
	 * (a failed renewal is tried again after a day) -> ids */
	S(STMT_ACME_RENEW_DUE, "acme_renew_due", 1,
	  "INSERT INTO acme_orders (hostname, challenge, renewal)"
	  " SELECT DISTINCT ON (o.hostname) o.hostname, o.challenge, true FROM acme_orders o"
	  " WHERE o.state = 'valid' AND o.id = (SELECT max(id) FROM acme_orders v"
	  " WHERE v.hostname = o.hostname AND v.state = 'valid')"
	  " AND o.not_after < now() + make_interval(days => $1::int)"
	  " AND NOT EXISTS (SELECT 1 FROM acme_orders p WHERE p.hostname = o.hostname"
	  " AND (p.state IN ('requested', 'running')"
	  " OR (p.state = 'failed' AND p.id > o.id AND p.updated_at > now() - interval '1 day')))"
	  " RETURNING id"),
	S(STMT_ACME_ACCOUNT_GET, "acme_account_get", 1,
	  "SELECT key_pem_sealed, account_url FROM acme_accounts WHERE directory_url = $1"),
	S(STMT_ACME_ACCOUNT_PUT, "acme_account_put", 3,
	  "INSERT INTO acme_accounts (directory_url, key_pem_sealed, account_url) VALUES ($1, $2, $3)"
	  " ON CONFLICT (directory_url) DO UPDATE SET key_pem_sealed = EXCLUDED.key_pem_sealed,"
	  " account_url = EXCLUDED.account_url"),
	/* the certificates a new one for exactly hostname $1 replaces */
	S(STMT_ACME_CERT_DROP_OLD, "acme_cert_drop_old", 1,
	  "DELETE FROM certificates WHERE hostnames = ARRAY[lower($1)]"),
	/* $1 hostname, $2 chain PEM, $3 sealed key, $4 not_after -> id */
	S(STMT_ACME_CERT_INSERT, "acme_cert_insert", 4,
	  "INSERT INTO certificates (hostnames, cert_pem, key_pem_sealed, not_after)"
	  " VALUES (ARRAY[lower($1)], $2, $3, to_timestamp($4::bigint)) RETURNING id"),
	/* --- outbound --- */
	S(STMT_QUEUE_LISTEN, "queue_listen", 0, "LISTEN queue_changed"),
	/* Claims up to $1 due rows of ONE destination domain (the oldest due
	 * row picks it) for $2 seconds: due = queued and next_attempt passed,
	 * or delivering with the lease run out or the claiming database
	 * session gone (its node died). One statement, so the claim commits
	 * at once; SKIP LOCKED lets runners of every node claim side by side.
	 * -> id, blob, sender, recipient, attempts (this one included), age
	 * in seconds, delay notice sent. The due test sits in each locking
	 * query itself: a row another runner claimed meanwhile is re-checked
	 * on its new version (READ COMMITTED) and skipped, never claimed twice.
	 * Two runners claiming for one domain at the same moment would split
	 * its rows over two connections: a transaction advisory lock on the
	 * domain lets only one of them take rows (the other takes none this
	 * round and looks again). The loser may hold the lock on the one row
	 * its pick chose, so the winner's take waits for such rows instead of
	 * skipping them (the loser commits at once: it takes nothing and
	 * waits for nothing). */
	S(STMT_QUEUE_CLAIM, "queue_claim", 2,
	  "WITH pick AS (SELECT q.domain FROM queue q WHERE " QUEUE_DUE
	  " ORDER BY q.next_attempt LIMIT 1 FOR UPDATE SKIP LOCKED),"
	  " dom AS (SELECT pg_try_advisory_xact_lock(hashtext('postern.queue'),"
	  " hashtext(coalesce(domain, ''))) AS mine FROM pick),"
	  " take AS (SELECT q.id FROM queue q"
	  " WHERE (SELECT mine FROM dom)"
	  " AND q.domain IS NOT DISTINCT FROM (SELECT domain FROM pick) AND " QUEUE_DUE
	  " ORDER BY q.blob_id, q.id LIMIT $1::int FOR UPDATE),"
	  " me AS (SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid())"
	  " UPDATE queue q SET state = 'delivering', attempts = q.attempts + 1,"
	  " lease_until = now() + make_interval(secs => $2::int), owner_pid = pg_backend_pid(),"
	  " owner_start = (SELECT backend_start FROM me) FROM take WHERE q.id = take.id"
	  " RETURNING q.id, q.blob_id, q.sender, q.recipient, q.attempts,"
	  " extract(epoch FROM now() - q.created_at)::bigint, q.delay_notified"),
	/* Delivered or bounced: $1 id -> blob id (for db_blob_gc). Only while
	 * this session still owns the row (held meanwhile counts). */
	S(STMT_QUEUE_DONE, "queue_done", 1,
	  "DELETE FROM queue WHERE id = $1 AND owner_pid = pg_backend_pid()"
	  " AND state IN ('delivering', 'held') RETURNING blob_id"),
	/* Temporary failure: $1 id, $2 delay seconds, $3 error, $4 delay
	 * notice sent now. A row held meanwhile stays held. */
	S(STMT_QUEUE_DEFER, "queue_defer", 4,
	  "UPDATE queue SET state = CASE WHEN state = 'held' THEN 'held' ELSE 'queued' END,"
	  " next_attempt = now() + make_interval(secs => $2::int), last_error = $3,"
	  " lease_until = NULL, delay_notified = delay_notified OR $4::bool"
	  " WHERE id = $1 AND owner_pid = pg_backend_pid() AND state IN ('delivering', 'held')"),
	/* Seconds until the next row falls due (lease ends included), or NULL */
	S(STMT_QUEUE_NEXT_DUE, "queue_next_due", 0,
	  "SELECT ceil(extract(epoch FROM min(CASE WHEN state = 'queued'"
	  " THEN next_attempt ELSE lease_until END) - now()))::bigint FROM queue"
	  " WHERE state IN ('queued', 'delivering')"),
	/* binary result: $1 blob id -> body */
	S(STMT_QUEUE_BLOB, "queue_blob", 1, "SELECT body FROM blobs WHERE id = $1"),
	/* $1 id or NULL = every queued row: due now -> count */
	S(STMT_QUEUE_RETRY, "queue_retry", 1,
	  "WITH u AS (UPDATE queue SET next_attempt = now()"
	  " WHERE ($1::bigint IS NULL OR id = $1::bigint) AND state = 'queued' RETURNING id)"
	  " SELECT count(*), pg_notify('queue_changed', '') FROM u"),
	/* $1 id -> blob id (a row being delivered is dropped too: the runner's
	 * result then finds nothing) */
	S(STMT_QUEUE_DROP, "queue_drop", 1, "DELETE FROM queue WHERE id = $1 RETURNING blob_id"),
	S(STMT_QUEUE_HOLD, "queue_hold", 1,
	  "UPDATE queue SET state = 'held' WHERE id = $1 AND state IN ('queued', 'delivering')"
	  " RETURNING id"),
	S(STMT_QUEUE_RELEASE, "queue_release", 1,
	  "WITH u AS (UPDATE queue SET state = 'queued', next_attempt = now()"
	  " WHERE id = $1 AND state = 'held' RETURNING id)"
	  " SELECT count(*), pg_notify('queue_changed', '') FROM u"),
	/* outbound_settings: $1 name -> value */
	S(STMT_OUTBOUND_GET, "outbound_get", 1, "SELECT value FROM outbound_settings WHERE name = $1"),
	S(STMT_OUTBOUND_SET, "outbound_set", 2,
	  "INSERT INTO outbound_settings (name, value) VALUES ($1, $2) ON CONFLICT (name)"
	  " DO UPDATE SET value = EXCLUDED.value, updated_at = now()"),
	/* $1 name prefix ("relay.") */
	S(STMT_OUTBOUND_CLEAR, "outbound_clear", 1,
	  "DELETE FROM outbound_settings WHERE starts_with(name, $1)"),
	S(STMT_OUTBOUND_LIST, "outbound_list", 1,
	  "SELECT name, value FROM outbound_settings WHERE starts_with(name, $1) ORDER BY name"),
	/* MTA-STS cache: $1 domain -> id, mode, mx, max_age, still fresh */
	S(STMT_MTASTS_GET, "mtasts_get", 1,
	  "SELECT policy_id, mode, mx, max_age,"
	  " fetched_at + make_interval(secs => max_age) > now() FROM mta_sts_policies"
	  " WHERE domain = $1"),
	/* $1 domain, $2 id, $3 mode, $4 mx, $5 max_age */
	S(STMT_MTASTS_PUT, "mtasts_put", 5,
	  "INSERT INTO mta_sts_policies (domain, policy_id, mode, mx, max_age)"
	  " VALUES ($1, $2, $3, $4, $5::int) ON CONFLICT (domain) DO UPDATE SET"
	  " policy_id = EXCLUDED.policy_id, mode = EXCLUDED.mode, mx = EXCLUDED.mx,"
	  " max_age = EXCLUDED.max_age, fetched_at = now()"),
	/* --- mailauth --- */
	/* $1 domain name -> selector, sealed private key (active keys) */
	S(STMT_DKIM_KEYS_FOR_DOMAIN, "dkim_keys_for_domain", 1,
	  "SELECT k.selector, k.private_key_sealed FROM dkim_keys k"
	  " JOIN domains d ON d.id = k.domain_id WHERE d.name = lower($1) AND k.active"
	  " ORDER BY k.id"),
	/* $1 domain name, $2 selector, $3 sealed key, $4 public key -> id */
	S(STMT_DKIM_INSERT, "dkim_insert", 4,
	  "INSERT INTO dkim_keys (domain_id, selector, private_key_sealed, public_key)"
	  " SELECT id, $2, $3, $4 FROM domains WHERE name = lower($1) RETURNING id"),
	/* $1 domain name or NULL -> domain, selector, public key, active */
	S(STMT_DKIM_LIST, "dkim_list", 1,
	  "SELECT d.name, k.selector, k.public_key, k.active FROM dkim_keys k"
	  " JOIN domains d ON d.id = k.domain_id WHERE $1::text IS NULL OR d.name = lower($1)"
	  " ORDER BY d.name, k.selector"),
	/* $1 account -> per-hour limit, rcpt limit (NULL = default), sent in the last hour */
	S(STMT_SEND_LIMITS, "send_limits", 1,
	  "SELECT coalesce(a.send_per_hour, d.send_per_hour), coalesce(a.send_rcpts, d.send_rcpts),"
	  " (SELECT count(*) FROM send_log l WHERE l.account_id = a.id"
	  " AND l.at > now() - interval '1 hour')"
	  " FROM accounts a JOIN domains d ON d.id = a.domain_id WHERE a.id = $1"),
	/* $1 account, $2 sender, $3 recipients */
	S(STMT_SEND_LOG, "send_log", 3,
	  "INSERT INTO send_log (account_id, sender, rcpts) VALUES ($1, $2, $3)"),
	/* $1 days */
	S(STMT_SEND_LOG_PURGE, "send_log_purge", 1,
	  "DELETE FROM send_log WHERE at < now() - make_interval(days => $1::int)"),
	/* $1 account, $2 detail, $3 LIMIT_SEND_HOLD_AFTER -> hits in the last
	 * hour, this one included; at most $3 alert rows an hour are written */
	S(STMT_SEND_LIMIT_HIT, "send_limit_hit", 3,
	  "WITH c AS (SELECT count(*) AS n FROM alerts WHERE account_id = $1"
	  " AND kind = 'send_limit' AND at > now() - interval '1 hour'),"
	  " ins AS (INSERT INTO alerts (kind, account_id, detail)"
	  " SELECT 'send_limit', $1, $2 FROM c WHERE c.n < $3::int RETURNING 1)"
	  " SELECT (SELECT n FROM c) + (SELECT count(*) FROM ins)"),
	/* $1 account -> rows held: every queued message it sent (by its
	 * envelope senders of the send log), and a queue_held alert */
	S(STMT_SEND_HOLD, "send_hold", 1,
	  "WITH h AS (UPDATE queue SET state = 'held' WHERE state = 'queued'"
	  " AND lower(sender) IN (SELECT DISTINCT lower(sender) FROM send_log WHERE account_id = $1)"
	  " RETURNING 1), a AS (INSERT INTO alerts (kind, account_id, detail)"
	  " SELECT 'queue_held', $1, (SELECT count(*) FROM h) || ' queued message(s) held'"
	  " WHERE NOT EXISTS (SELECT 1 FROM alerts WHERE account_id = $1 AND kind = 'queue_held'"
	  " AND NOT acknowledged) RETURNING 1)"
	  " SELECT (SELECT count(*) FROM h), (SELECT count(*) FROM a)"),
	/* $1 local part, $2 domain, $3 per hour, $4 rcpts (NULL = keep; -1 = default) */
	S(STMT_USER_LIMITS_SET, "user_limits_set", 4,
	  "UPDATE accounts a SET"
	  " send_per_hour = CASE WHEN $3::int IS NULL THEN a.send_per_hour"
	  " WHEN $3::int < 0 THEN NULL ELSE $3::int END,"
	  " send_rcpts = CASE WHEN $4::int IS NULL THEN a.send_rcpts"
	  " WHEN $4::int < 0 THEN NULL ELSE $4::int END"
	  " FROM domains d WHERE d.id = a.domain_id AND d.name = lower($2)"
	  " AND lower(a.local_part) = lower($1)"
	  " RETURNING a.send_per_hour, a.send_rcpts"),
	/* $1 domain, $2 per hour, $3 rcpts (as above) */
	S(STMT_DOMAIN_LIMITS_SET, "domain_limits_set", 3,
	  "UPDATE domains d SET"
	  " send_per_hour = CASE WHEN $2::int IS NULL THEN d.send_per_hour"
	  " WHEN $2::int < 0 THEN NULL ELSE $2::int END,"
	  " send_rcpts = CASE WHEN $3::int IS NULL THEN d.send_rcpts"
	  " WHEN $3::int < 0 THEN NULL ELSE $3::int END"
	  " WHERE d.name = lower($1) RETURNING d.send_per_hour, d.send_rcpts"),
	/* -> id, time, kind, account address, detail, acknowledged */
	S(STMT_ALERTS_LIST, "alerts_list", 0,
	  "SELECT l.id, to_char(l.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
	  " l.kind, coalesce(a.local_part || '@' || d.name, ''), l.detail, l.acknowledged"
	  " FROM alerts l LEFT JOIN accounts a ON a.id = l.account_id"
	  " LEFT JOIN domains d ON d.id = a.domain_id ORDER BY l.id DESC LIMIT 1000"),
	/* $1 alert id -> id */
	S(STMT_ALERT_ACK, "alert_ack", 1,
	  "UPDATE alerts SET acknowledged = true WHERE id = $1::bigint RETURNING id"),
	/* --- ops --- */
	/* restore only into a database without tables of its own */
	S(STMT_OPS_PUBLIC_TABLES, "ops_public_tables", 0,
	  "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = 'public'"),
	/* $1 account, $2 source, $3 folder, $4 uidvalidity -> items copied already */
	S(STMT_OPS_IMPORT_SEEN, "ops_import_seen", 4,
	  "SELECT item FROM import_seen WHERE account_id = $1 AND source = $2 AND folder = $3"
	  " AND uidvalidity = $4"),
	/* inside the APPEND's transaction: a conflict means copied already */
	S(STMT_OPS_IMPORT_MARK, "ops_import_mark", 5,
	  "INSERT INTO import_seen (account_id, source, folder, uidvalidity, item)"
	  " VALUES ($1, $2, $3, $4, $5)"),
	/* --- imapb --- */
	/* blobs of the messages of mailbox $1 from UID $2 on without a
	 * search_text row (one anti-join): id, size */
	S(STMT_SEARCH_UNINDEXED, "search_unindexed", 2,
	  "SELECT DISTINCT m.blob_id, m.size FROM messages m WHERE m.mailbox_id = $1"
	  " AND m.uid >= $2::bigint AND NOT EXISTS"
	  " (SELECT 1 FROM search_text s WHERE s.blob_id = m.blob_id) ORDER BY 1"),
	/* binary result: blob id, the first $2 octets of its body; in id
	 * order, so concurrent indexers insert in one order (no deadlock) */
	S(STMT_SEARCH_BLOBS, "search_blobs", 2,
	  "SELECT id, substring(body FOR $2::int) FROM blobs WHERE id = ANY($1::bigint[])"
	  " ORDER BY id"),
	/* a batch of rows as one JSON array (one statement, no round trip per
	 * row); a row another session wrote first is kept */
	S(STMT_SEARCH_PUT, "search_put", 1,
	  "INSERT INTO search_text (blob_id, header, body, sent_at, sent_day, subject, reply,"
	  " from_key, to_key, cc_key, display_from, display_to, message_id, refs)"
	  " SELECT * FROM json_to_recordset($1::json) AS x(blob_id bigint, header text, body text,"
	  " sent_at bigint, sent_day integer, subject text, reply boolean, from_key text,"
	  " to_key text, cc_key text, display_from text, display_to text, message_id text,"
	  " refs text) ORDER BY blob_id ON CONFLICT (blob_id) DO NOTHING"),
	/* $2 the LIKE pattern '%needle%' on the case-folded text (trigram
	 * indexes); one statement per kind so every plan can use them. Text
	 * and needle are both folded by mime_utf8_fold, so LIKE finds what
	 * ILIKE would without lowercasing every row again. */
	S(STMT_SEARCH_MATCH_TEXT, "search_match_text", 2,
	  "SELECT m.uid FROM messages m JOIN search_text s ON s.blob_id = m.blob_id"
	  " WHERE m.mailbox_id = $1 AND (s.header LIKE $2 OR s.body LIKE $2) ORDER BY m.uid"),
	S(STMT_SEARCH_MATCH_BODY, "search_match_body", 2,
	  "SELECT m.uid FROM messages m JOIN search_text s ON s.blob_id = m.blob_id"
	  " WHERE m.mailbox_id = $1 AND s.body LIKE $2 ORDER BY m.uid"),
	/* $3 the LIKE pattern of the field's line 'field: %needle%', rechecked
	 * line by line on the rows the index found */
	S(STMT_SEARCH_MATCH_FIELD, "search_match_field", 3,
	  "SELECT m.uid FROM messages m JOIN search_text s ON s.blob_id = m.blob_id"
	  " WHERE m.mailbox_id = $1 AND s.header LIKE $2 AND EXISTS (SELECT 1 FROM"
	  " regexp_split_to_table(s.header, E'\\n') l(line) WHERE l.line LIKE $3) ORDER BY m.uid"),
	/* The same three for a mailbox of at most LIMIT_SEARCH_SCAN_MESSAGES:
	 * each message's index row by its key, then the pattern. The plan
	 * cached for the statements above walks the trigram index of every
	 * mailbox of the database, which costs more than reading a small
	 * mailbox's rows (OFFSET 0 keeps the lookup per message). */
	S(STMT_SEARCH_SCAN_TEXT, "search_scan_text", 2,
	  "SELECT m.uid FROM messages m, LATERAL (SELECT 1 FROM search_text s"
	  " WHERE s.blob_id = m.blob_id AND (s.header LIKE $2 OR s.body LIKE $2) OFFSET 0) x"
	  " WHERE m.mailbox_id = $1 ORDER BY m.uid"),
	S(STMT_SEARCH_SCAN_BODY, "search_scan_body", 2,
	  "SELECT m.uid FROM messages m, LATERAL (SELECT 1 FROM search_text s"
	  " WHERE s.blob_id = m.blob_id AND s.body LIKE $2 OFFSET 0) x"
	  " WHERE m.mailbox_id = $1 ORDER BY m.uid"),
	S(STMT_SEARCH_SCAN_FIELD, "search_scan_field", 3,
	  "SELECT m.uid FROM messages m, LATERAL (SELECT 1 FROM search_text s"
	  " WHERE s.blob_id = m.blob_id AND s.header LIKE $2 AND EXISTS (SELECT 1 FROM"
	  " regexp_split_to_table(s.header, E'\\n') l(line) WHERE l.line LIKE $3) OFFSET 0) x"
	  " WHERE m.mailbox_id = $1 ORDER BY m.uid"),
	/* every message's facts (SEARCH) */
	S(STMT_SEARCH_ROWS, "search_rows", 1,
	  "SELECT m.uid, m.flags, array_to_string(m.keywords, ' '),"
	  " extract(epoch FROM m.internal_date)::bigint, m.size, m.modseq FROM messages m"
	  " WHERE m.mailbox_id = $1 ORDER BY m.uid"),
	/* the same with the Date: header and the SORT/THREAD keys (NULL: not
	 * indexed) */
	S(STMT_SEARCH_ROWS_KEYS, "search_rows_keys", 1,
	  "SELECT m.uid, m.flags, array_to_string(m.keywords, ' '),"
	  " extract(epoch FROM m.internal_date)::bigint, m.size, m.modseq, s.sent_at, s.sent_day,"
	  " s.subject, s.reply, s.from_key, s.to_key, s.cc_key, s.display_from, s.display_to,"
	  " s.message_id, s.refs FROM messages m LEFT JOIN search_text s ON s.blob_id = m.blob_id"
	  " WHERE m.mailbox_id = $1 ORDER BY m.uid"),
	/* --- imapa --- */
	/* $1 mailbox, $2 MODSEQ: UIDs expunged after it (QRESYNC VANISHED) */
	S(STMT_IMAP_VANISHED, "imap_vanished", 2,
	  "SELECT uid FROM expunged WHERE mailbox_id = $1 AND modseq > $2::bigint ORDER BY uid"),
	/* $1 account -> quota_bytes (0 = unlimited), used_bytes (RFC 9208) */
	S(STMT_IMAP_QUOTA, "imap_quota", 1,
	  "SELECT quota_bytes, used_bytes FROM accounts WHERE id = $1"),
	/* --- csu --- */
	/* CREATE-SPECIAL-USE (RFC 6154 3): serialises the account's creations
	 * with a special use, so two sessions cannot both take \Sent */
	S(STMT_IMAP_CREATE_USE_LOCK, "imap_create_use_lock", 1,
	  "SELECT id FROM accounts WHERE id = $1 FOR UPDATE"),
	/* $1 account, $2 name, $3 special use -> created (0/1), name exists
	 * (t/f), the mailbox that already has the use (NULL: none) */
	S(STMT_IMAP_CREATE_USE, "imap_create_use", 3,
	  "WITH taken AS (SELECT name FROM mailboxes WHERE account_id = $1::bigint"
	  " AND special_use = $3::text ORDER BY id LIMIT 1),"
	  " ins AS (INSERT INTO mailboxes (account_id, name, special_use)"
	  " SELECT $1::bigint, $2::text, $3::text WHERE NOT EXISTS (SELECT 1 FROM taken)"
	  " ON CONFLICT (account_id, name) DO NOTHING"
	  " RETURNING id, pg_notify('mailbox_changed', id::text))"
	  " SELECT (SELECT count(*) FROM ins),"
	  " EXISTS (SELECT 1 FROM mailboxes WHERE account_id = $1::bigint AND name = $2::text),"
	  " (SELECT name FROM taken)"),
	/* --- recent --- */
	/* SELECT / EXAMINE: $1 account, $2 name, $3 claim (read-write) ->
	 * id, uidvalidity, uidnext, highestmodseq, and when $3 found UIDs no
	 * session had claimed: the old recent_uid and the uidnext it moved to
	 * (NULL, NULL otherwise). The row lock serialises claimers: a second
	 * one waits, re-reads the row and finds nothing left to claim. A claim
	 * commits without waiting for the WAL flush (set_config(..., true): this
	 * transaction only): it is no mail data, and one lost in a crash only
	 * makes its messages recent again (RFC 3501 2.3.2 allows that). */
	S(STMT_RECENT_SELECT, "recent_select", 3,
	  "WITH o AS (SELECT id, recent_uid, uidnext FROM mailboxes WHERE account_id = $1::bigint"
	  " AND name = $2::text AND $3::boolean AND recent_uid < uidnext FOR UPDATE),"
	  " c AS (UPDATE mailboxes m SET recent_uid = o.uidnext FROM o WHERE m.id = o.id"
	  " RETURNING o.recent_uid AS old, o.uidnext AS upto,"
	  " set_config('synchronous_commit', 'off', true))"
	  " SELECT mb.id, mb.uidvalidity, mb.uidnext, mb.highestmodseq, c.old, c.upto"
	  " FROM mailboxes mb LEFT JOIN c ON true"
	  " WHERE mb.account_id = $1::bigint AND mb.name = $2::text"),
	/* a sync of a read-write session: $1 mailbox, $2 the uidnext of the
	 * sync's snapshot -> the old recent_uid when this call moved it to $2
	 * (no row: another session had claimed them); asynchronous commit as
	 * above */
	S(STMT_RECENT_CLAIM, "recent_claim", 2,
	  "WITH o AS (SELECT id, recent_uid FROM mailboxes WHERE id = $1::bigint"
	  " AND recent_uid < $2::bigint FOR UPDATE)"
	  " UPDATE mailboxes m SET recent_uid = $2::bigint FROM o WHERE m.id = o.id"
	  " RETURNING o.recent_uid, set_config('synchronous_commit', 'off', true)"),
};

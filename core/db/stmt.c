/* stmt.c - every SQL statement of the program, one prepared statement each
 * (STYLE rule 10): no SQL is built from strings anywhere else. The names
 * are the prepared statement names on each connection. Migration files
 * (sql/NNN_*.sql) are the only SQL run outside this table.
 * Parameters are text unless the caller passes formats (bytea bodies). */
#include "db/stmt.h"

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
	S(STMT_SET_SYNC_COMMIT, "set_sync_commit", 0,
	  "SELECT set_config('synchronous_commit', 'on', false)"),

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
	/* UIDs come from the mailbox row, updated in the delivering transaction. */
	S(STMT_INBOX_NEXT_UID, "inbox_next_uid", 1,
	  "UPDATE mailboxes SET uidnext = uidnext + 1, highestmodseq = highestmodseq + 1"
	  " WHERE account_id = $1 AND name = 'INBOX' RETURNING id, uidnext - 1, highestmodseq"),
	/* $1 account, $2 name, $3 special-use or NULL */
	S(STMT_MAILBOX_CREATE, "mailbox_create", 3,
	  "INSERT INTO mailboxes (account_id, name, special_use) VALUES ($1, $2, $3)"
	  " ON CONFLICT (account_id, name) DO NOTHING"),
	/* $1 mailbox, $2 uid, $3 blob, $4 modseq, $5 size */
	S(STMT_MESSAGE_INSERT, "message_insert", 5,
	  "INSERT INTO messages (mailbox_id, uid, blob_id, modseq, size, internal_date)"
	  " VALUES ($1, $2, $3, $4, $5, now())"),
	/* The quota check is in the WHERE clause: no row = over quota. */
	S(STMT_ACCOUNT_CHARGE, "account_charge", 2,
	  "UPDATE accounts SET used_bytes = used_bytes + $2"
	  " WHERE id = $1 AND (quota_bytes = 0 OR used_bytes + $2 <= quota_bytes)"),
	S(STMT_QUEUE_INSERT, "queue_insert", 3,
	  "INSERT INTO queue (blob_id, sender, recipient) VALUES ($1, $2, $3)"),
	S(STMT_NOTIFY_MAILBOX, "notify_mailbox", 1, "SELECT pg_notify('mailbox_changed', $1)"),
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
	  " ORDER BY coalesce($1::text = ANY(hostnames), false) DESC, created_at DESC, id DESC"),
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
};

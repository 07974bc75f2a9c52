/* stmt.h - the one table of prepared statements (STYLE rule 10).
 * OWNED BY the db/ module; the enum and stmt.c's table must stay in step
 * (stmt.c fills the table with designated initialisers, and db_open()
 * refuses to run when an entry is missing). */
#ifndef POSTERN_DB_STMT_H
#define POSTERN_DB_STMT_H

enum db_stmt {
	STMT_NONE = 0,

	/* transactions and session settings (db.c) */
	STMT_BEGIN,
	STMT_COMMIT,
	STMT_ROLLBACK,
	STMT_SAVEPOINT,
	STMT_ROLLBACK_TO_SAVEPOINT,
	STMT_RELEASE_SAVEPOINT,
	STMT_SET_SYNC_COMMIT,

	/* migrations (migrate.c) */
	STMT_MIGRATE_LOCK,
	STMT_MIGRATE_UNLOCK,
	STMT_MIGRATE_HAS_TABLE,
	STMT_MIGRATE_APPLIED,
	STMT_MIGRATE_RECORD,

	/* accounts and recipients (store.c) */
	STMT_ACCOUNT_BY_ADDRESS,
	STMT_DOMAIN_BY_NAME,
	STMT_RCPT_ACCOUNT,
	STMT_RCPT_ALIASES,

	/* delivery (store.c) */
	STMT_BLOB_PUT,
	STMT_INBOX_NEXT_UID,
	STMT_MAILBOX_CREATE,
	STMT_MESSAGE_INSERT,
	STMT_ACCOUNT_CHARGE,
	STMT_QUEUE_INSERT,
	STMT_NOTIFY_MAILBOX,
	STMT_NOTIFY_CONFIG,

	/* POP3 view and expunge (store.c) */
	STMT_INBOX_GET,
	STMT_POP3_LIST,
	STMT_MESSAGE_BODY,
	STMT_EXPUNGE_BUMP,
	STMT_EXPUNGE_UIDS,
	STMT_ACCOUNT_UNCHARGE,
	STMT_BLOB_GC,

	/* listeners and certificates (store.c) */
	STMT_LISTENERS_LOAD,
	STMT_CERTS_LOAD,
	STMT_CERT_INSERT,
	STMT_CERT_COUNT,

	/* administration (admin.c) */
	STMT_DOMAIN_INSERT,
	STMT_DOMAIN_LIST,
	STMT_DOMAIN_ACCOUNT_COUNT,
	STMT_DOMAIN_DELETE,
	STMT_ACCOUNT_INSERT,
	STMT_ACCOUNT_SET_PASSWORD,
	STMT_ACCOUNT_SET_ACTIVE,
	STMT_ACCOUNT_LIST,
	STMT_ACCOUNT_BLOBS,
	STMT_ACCOUNT_DELETE,
	STMT_ALIAS_INSERT,
	STMT_ALIAS_DELETE,
	STMT_ALIAS_LIST,
	STMT_LISTENER_LOCK,
	STMT_LISTENER_GET,
	STMT_LISTENER_PORT_USER,
	STMT_LISTENER_UPDATE,
	STMT_QUEUE_LIST,
	STMT_AUDIT,

	STMT__COUNT
};

struct db_stmt_def {
	const char *name;
	const char *sql;
	int nparams;
};

extern const struct db_stmt_def db_stmts[STMT__COUNT];

#endif

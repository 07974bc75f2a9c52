-- 001_init.sql - the initial Postern schema (DESIGN.md section 4).
-- Applied by db_migrate() inside one transaction (do not BEGIN/COMMIT here),
-- then recorded in schema_version. PostgreSQL 15.
-- Case: domain names are stored lower-case; local parts keep the case they
-- were given and are compared with lower() (unique indexes say so).
-- IMAP-ready: per-mailbox UIDVALIDITY/UIDNEXT/HIGHESTMODSEQ counters live in
-- the mailbox row (never a sequence), and expunged UIDs are kept for QRESYNC.

CREATE TABLE schema_version (
	version		integer PRIMARY KEY,
	applied_at	timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE domains (
	id		bigserial PRIMARY KEY,
	name		text NOT NULL UNIQUE
			CHECK (name = lower(name) AND length(name) BETWEEN 1 AND 255),
	active		boolean NOT NULL DEFAULT true,
	created_at	timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE accounts (
	id		bigserial PRIMARY KEY,
	domain_id	bigint NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
	local_part	text NOT NULL CHECK (length(local_part) BETWEEN 1 AND 64),
	password_hash	text NOT NULL,		-- argon2id string (crypto_pwhash_str)
	quota_bytes	bigint NOT NULL DEFAULT 0 CHECK (quota_bytes >= 0),	-- 0 = unlimited
	used_bytes	bigint NOT NULL DEFAULT 0,
	active		boolean NOT NULL DEFAULT true,
	created_at	timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX accounts_address_idx ON accounts (domain_id, lower(local_part));

-- local_part NULL = the domain's catch-all. destination is a full address,
-- hosted (account or another alias) or remote.
CREATE TABLE aliases (
	id		bigserial PRIMARY KEY,
	domain_id	bigint NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
	local_part	text CHECK (local_part IS NULL OR length(local_part) BETWEEN 1 AND 64),
	destination	text NOT NULL CHECK (length(destination) BETWEEN 3 AND 320),
	created_at	timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX aliases_source_dest_idx
	ON aliases (domain_id, lower(coalesce(local_part, '')), lower(destination));

CREATE TABLE admins (
	id		bigserial PRIMARY KEY,
	username	text NOT NULL UNIQUE,
	password_hash	text NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE admin_sessions (
	token_hash	bytea PRIMARY KEY,	-- sha256 of the cookie token
	admin_id	bigint NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
	csrf		text NOT NULL,
	expires_at	timestamptz NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX admin_sessions_expires_idx ON admin_sessions (expires_at);

-- UIDVALIDITY (RFC 3501 2.3.1.1: 32-bit, non-zero, strictly greater for a
-- re-created mailbox of the same name): a sequence seeded with the epoch
-- second, so even a restored or re-initialised database keeps increasing.
CREATE SEQUENCE mailbox_uidvalidity_seq AS bigint MINVALUE 1 MAXVALUE 4294967295 NO CYCLE;
SELECT setval('mailbox_uidvalidity_seq', extract(epoch FROM now())::bigint);

CREATE TABLE mailboxes (
	id		bigserial PRIMARY KEY,
	account_id	bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	name		text NOT NULL,		-- "INBOX" exactly for the inbox; '/' separated
	special_use	text CHECK (special_use IS NULL OR special_use IN
			('\All', '\Archive', '\Drafts', '\Flagged', '\Junk', '\Sent', '\Trash')),
	subscribed	boolean NOT NULL DEFAULT true,
	uidvalidity	bigint NOT NULL DEFAULT nextval('mailbox_uidvalidity_seq'),
	uidnext		bigint NOT NULL DEFAULT 1,
	highestmodseq	bigint NOT NULL DEFAULT 1,
	UNIQUE (account_id, name)
);

-- One copy of a message body however many mailboxes hold it.
CREATE TABLE blobs (
	id		bigserial PRIMARY KEY,
	sha256		bytea NOT NULL UNIQUE,
	size		bigint NOT NULL,
	body		bytea NOT NULL
);

-- flags bits (IMAP system flags): 1 \Seen, 2 \Answered, 4 \Flagged,
-- 8 \Deleted, 16 \Draft. Other keywords in keywords[].
CREATE TABLE messages (
	mailbox_id	bigint NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
	uid		bigint NOT NULL,
	blob_id		bigint NOT NULL REFERENCES blobs(id),
	modseq		bigint NOT NULL,
	flags		integer NOT NULL DEFAULT 0,
	keywords	text[] NOT NULL DEFAULT '{}',
	internal_date	timestamptz NOT NULL DEFAULT now(),
	size		bigint NOT NULL,
	envelope	text,			-- IMAP ENVELOPE, computed once at delivery
	bodystructure	text,			-- IMAP BODYSTRUCTURE, likewise
	PRIMARY KEY (mailbox_id, uid)
);
CREATE INDEX messages_blob_idx ON messages (blob_id);
CREATE INDEX messages_modseq_idx ON messages (mailbox_id, modseq);

-- Expunged UIDs with the MODSEQ of their expunge (RFC 7162 QRESYNC VANISHED).
CREATE TABLE expunged (
	mailbox_id	bigint NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
	uid		bigint NOT NULL,
	modseq		bigint NOT NULL,
	PRIMARY KEY (mailbox_id, uid)
);
CREATE INDEX expunged_modseq_idx ON expunged (mailbox_id, modseq);

CREATE TABLE listeners (
	name		text PRIMARY KEY,
	protocol	text NOT NULL CHECK (protocol IN ('smtp', 'pop3', 'imap')),
	port		integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
	tls_mode	text NOT NULL CHECK (tls_mode IN ('none', 'starttls', 'implicit')),
	enabled		boolean NOT NULL DEFAULT true
);
INSERT INTO listeners (name, protocol, port, tls_mode, enabled) VALUES
	('smtp',           'smtp',  25, 'starttls', true),
	('submission',     'smtp', 587, 'starttls', true),
	('smtps',          'smtp', 465, 'implicit', true),
	('submission-alt', 'smtp', 2525, 'starttls', true),
	('pop3',           'pop3', 110, 'starttls', true),
	('pop3s',          'pop3', 995, 'implicit', true),
	('imap',           'imap', 143, 'starttls', true),
	('imaps',          'imap', 993, 'implicit', true);

-- Private keys sealed with libsodium secretbox (core/auth/seal.c).
CREATE TABLE certificates (
	id		bigserial PRIMARY KEY,
	hostnames	text[] NOT NULL,
	cert_pem	text NOT NULL,
	key_pem_sealed	text NOT NULL,
	not_after	timestamptz NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE dkim_keys (
	id		bigserial PRIMARY KEY,
	domain_id	bigint NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
	selector	text NOT NULL,
	private_key_sealed text NOT NULL,
	public_key	text NOT NULL,		-- the p= value of the DNS record
	active		boolean NOT NULL DEFAULT true,
	created_at	timestamptz NOT NULL DEFAULT now(),
	UNIQUE (domain_id, selector)
);

-- Outbound queue, claimed with SELECT ... FOR UPDATE SKIP LOCKED.
-- sender '' = the null reverse-path <>.
CREATE TABLE queue (
	id		bigserial PRIMARY KEY,
	blob_id		bigint NOT NULL REFERENCES blobs(id),
	sender		text NOT NULL,
	recipient	text NOT NULL,
	next_attempt	timestamptz NOT NULL DEFAULT now(),
	attempts	integer NOT NULL DEFAULT 0,
	last_error	text,
	state		text NOT NULL DEFAULT 'queued',
	created_at	timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX queue_due_idx ON queue (next_attempt) WHERE state = 'queued';
CREATE INDEX queue_blob_idx ON queue (blob_id);

CREATE TABLE audit_log (
	id		bigserial PRIMARY KEY,
	at		timestamptz NOT NULL DEFAULT now(),
	admin		text NOT NULL,		-- panel user name, or "posternctl"
	action		text NOT NULL,
	detail		text NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at_idx ON audit_log (at);

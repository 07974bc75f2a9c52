-- 009_mailauth.sql - mail authentication and abuse brakes (core/mail/dkim*.c,
-- core/smtp/brake.c). Per-domain and per-account outbound limits (NULL =
-- the LIMIT_SEND_* default; an account's value wins over its domain's), the
-- log of accepted submissions the hourly limit counts, and alerts that
-- `posternctl alerts` and later the panel show.
ALTER TABLE domains
	ADD COLUMN send_per_hour integer CHECK (send_per_hour >= 0),
	ADD COLUMN send_rcpts integer CHECK (send_rcpts >= 0);
ALTER TABLE accounts
	ADD COLUMN send_per_hour integer CHECK (send_per_hour >= 0),
	ADD COLUMN send_rcpts integer CHECK (send_rcpts >= 0);

-- One row per message accepted on submission (kept LIMIT_SEND_LOG_DAYS).
CREATE TABLE send_log (
	account_id	bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	at		timestamptz NOT NULL DEFAULT now(),
	sender		text NOT NULL,
	rcpts		integer NOT NULL
);
CREATE INDEX send_log_account_idx ON send_log (account_id, at);

-- kind: 'send_limit' (an account hit its hourly limit), 'queue_held'
-- (it hit it repeatedly: its queued mail was held).
CREATE TABLE alerts (
	id		bigserial PRIMARY KEY,
	at		timestamptz NOT NULL DEFAULT now(),
	kind		text NOT NULL,
	account_id	bigint REFERENCES accounts(id) ON DELETE CASCADE,
	detail		text NOT NULL DEFAULT '',
	acknowledged	boolean NOT NULL DEFAULT false
);
CREATE INDEX alerts_account_idx ON alerts (account_id, kind, at);

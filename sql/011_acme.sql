-- 011_acme.sql - ACME (RFC 8555) certificates: the account key per CA
-- directory (sealed like every private key) and one row per order with its
-- progress and the CA's error, read by `posternctl cert acme-status`.

CREATE TABLE acme_accounts (
	directory_url	text PRIMARY KEY,
	key_pem_sealed	text NOT NULL,
	account_url	text NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE acme_orders (
	id		bigserial PRIMARY KEY,
	hostname	text NOT NULL,
	challenge	text NOT NULL CHECK (challenge IN ('http-01', 'tls-alpn-01')),
	state		text NOT NULL DEFAULT 'requested'
			CHECK (state IN ('requested', 'running', 'valid', 'failed')),
	step		text NOT NULL DEFAULT '',
	error		text NOT NULL DEFAULT '',
	renewal		boolean NOT NULL DEFAULT false,
	certificate_id	bigint REFERENCES certificates (id) ON DELETE SET NULL,
	not_after	timestamptz,
	requested_at	timestamptz NOT NULL DEFAULT now(),
	updated_at	timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX acme_orders_hostname ON acme_orders (hostname, id DESC);
CREATE INDEX acme_orders_requested ON acme_orders (id) WHERE state = 'requested';

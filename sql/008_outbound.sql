-- 008_outbound.sql - outbound delivery (core/queue/).
-- Queue rows gain the destination domain (runners claim one domain's due
-- rows together so one connection carries them), a lease (a row being
-- delivered belongs to one runner until lease_until, or until the database
-- session that claimed it is gone: a node killed mid-delivery hands its
-- rows back at once, so they are delivered again, never dropped), and
-- whether the 4-hour delay notice went out. state: queued | delivering | held.
-- A trigger wakes the runners of every node (NOTIFY queue_changed).
-- outbound_settings holds the smarthost (posternctl relay set|show|clear);
-- mta_sts_policies caches RFC 8461 policies (mx patterns space-separated).
ALTER TABLE queue
	ADD COLUMN domain text GENERATED ALWAYS AS
		(lower(substring(recipient from '@([^@]*)$'))) STORED,
	ADD COLUMN lease_until timestamptz,
	ADD COLUMN owner_pid integer,
	ADD COLUMN owner_start timestamptz,
	ADD COLUMN delay_notified boolean NOT NULL DEFAULT false;

CREATE INDEX queue_lease_idx ON queue (lease_until) WHERE state = 'delivering';

CREATE FUNCTION postern_queue_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('queue_changed', '');
	RETURN NULL;
END
$$;

CREATE TRIGGER queue_notify AFTER INSERT ON queue
	FOR EACH STATEMENT EXECUTE FUNCTION postern_queue_notify();

CREATE TABLE outbound_settings (
	name		text PRIMARY KEY,
	value		text NOT NULL,
	updated_at	timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE mta_sts_policies (
	domain		text PRIMARY KEY,
	policy_id	text NOT NULL,
	mode		text NOT NULL,
	mx		text NOT NULL,
	max_age		integer NOT NULL,
	fetched_at	timestamptz NOT NULL DEFAULT now()
);

-- 006_search.sql - the IMAP search index: one row per stored message body
-- (blob), however many mailboxes hold it, with the decoded header lines
-- ("name: value", RFC 2047 decoded) and the decoded text of its text parts
-- (UTF-8, truncated at LIMIT_SEARCH_*), searched with ILIKE on pg_trgm GIN
-- indexes; plus the SORT / THREAD keys (RFC 5256). Rows are written lazily
-- by the search path (core/imap/cmd_search.c) for blobs that have none, so
-- SMTP delivery does no extra work. Rows go with their blob.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE search_text (
	blob_id		bigint PRIMARY KEY REFERENCES blobs(id) ON DELETE CASCADE,
	header		text NOT NULL,
	body		text NOT NULL,
	sent_at		bigint,			-- Date: as unix time (SORT DATE)
	sent_day	integer,		-- Date: as written, days since 1970 (SENTON)
	subject		text NOT NULL DEFAULT '',	-- base subject, ASCII folded
	reply		boolean NOT NULL DEFAULT false,	-- "re:"/"fwd:" removed from it
	from_key	text NOT NULL DEFAULT '',	-- addr-mailbox of the first From
	to_key		text NOT NULL DEFAULT '',
	cc_key		text NOT NULL DEFAULT '',
	display_from	text NOT NULL DEFAULT '',	-- RFC 5957
	display_to	text NOT NULL DEFAULT '',
	message_id	text NOT NULL DEFAULT '',
	refs		text NOT NULL DEFAULT ''	-- References (or In-Reply-To) ids
);
CREATE INDEX search_text_header_trgm ON search_text USING gin (header gin_trgm_ops);
CREATE INDEX search_text_body_trgm ON search_text USING gin (body gin_trgm_ops);

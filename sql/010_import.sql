-- 010_import.sql - what `posternctl import` has copied already, so a run can
-- be interrupted and repeated without duplicates (core/ops/import.c). One
-- row per imported message, written in the same transaction as the message.
-- source: "imap://user@host", "maildir:/abs/path" or "mbox:/abs/path";
-- folder: the source folder's name as the source spells it;
-- uidvalidity: the IMAP folder's UIDVALIDITY (0 for maildir and mbox): a new
-- UIDVALIDITY on the source means new UIDs, so its messages are copied again;
-- item: the IMAP UID, the maildir file's unique name, or for mbox
-- "<ordinal>:<sha256 prefix>".
CREATE TABLE import_seen (
	account_id	bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	source		text NOT NULL,
	folder		text NOT NULL,
	uidvalidity	bigint NOT NULL,
	item		text NOT NULL,
	imported_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (account_id, source, folder, uidvalidity, item)
);

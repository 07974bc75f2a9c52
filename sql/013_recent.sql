-- 013_recent.sql - the IMAP \Recent flag (RFC 3501 2.3.2) kept the way
-- Dovecot keeps it: one "first recent UID" per mailbox. recent_uid is the
-- lowest UID that no session has claimed yet; a read-write SELECT (or a sync
-- of a selected mailbox that found new messages) moves it to uidnext in one
-- UPDATE under the row lock, and the UIDs it passed are \Recent in that
-- session only. Messages stored before this migration are not recent.
ALTER TABLE mailboxes ADD COLUMN recent_uid bigint NOT NULL DEFAULT 1;
UPDATE mailboxes SET recent_uid = uidnext;

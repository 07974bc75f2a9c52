-- 004_imap.sql - what the IMAP server stores beside each message.
-- ENVELOPE / BODYSTRUCTURE (columns of 001) are joined by the non-extended
-- BODY and the serialised MIME part table (core/mail/mime.h mime_serialize),
-- all computed once (at APPEND, or on the first FETCH of a message stored
-- before this migration) and copied with the message by COPY/MOVE.
-- Every account gets an Archive mailbox (RFC 6154 \Archive), new ones
-- through a trigger so the account code needs no change.
ALTER TABLE messages ADD COLUMN body_simple text, ADD COLUMN parts text;

INSERT INTO mailboxes (account_id, name, special_use)
	SELECT id, 'Archive', '\Archive' FROM accounts
	ON CONFLICT (account_id, name) DO NOTHING;

CREATE FUNCTION postern_account_archive() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO mailboxes (account_id, name, special_use)
		VALUES (NEW.id, 'Archive', '\Archive')
		ON CONFLICT (account_id, name) DO NOTHING;
	RETURN NEW;
END
$$;
CREATE TRIGGER accounts_archive AFTER INSERT ON accounts
	FOR EACH ROW EXECUTE FUNCTION postern_account_archive();

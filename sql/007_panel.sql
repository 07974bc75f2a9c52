-- 007_panel.sql - the panel (issue #4): certificate management and admin TOTP.
-- certificates.is_default marks the certificate served to clients that send
-- no SNI name or one no certificate lists; at most one row has it (the panel
-- sets it in one statement).
ALTER TABLE certificates ADD COLUMN is_default boolean NOT NULL DEFAULT false;

-- Optional TOTP second factor of panel admins (RFC 6238): the secret sealed
-- like private keys; a pending one while enrolment awaits its first code;
-- the last accepted time step, so each code works once.
ALTER TABLE admins ADD COLUMN totp_secret_sealed text,
	ADD COLUMN totp_pending_sealed text,
	ADD COLUMN totp_last_step bigint NOT NULL DEFAULT 0;

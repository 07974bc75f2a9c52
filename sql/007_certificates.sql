-- 007: the panel's certificate management (issue #4). is_default marks the
-- certificate served to clients that send no SNI name or one no certificate
-- lists; at most one row has it (the panel sets it in one statement).
ALTER TABLE certificates ADD COLUMN is_default boolean NOT NULL DEFAULT false;

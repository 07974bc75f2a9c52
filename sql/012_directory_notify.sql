-- 012_directory_notify.sql - NOTIFY directory_changed whenever what RCPT
-- resolution reads changes (domains, accounts, aliases), from posternctl,
-- the panel or plain SQL alike, so that every node drops its recipient
-- cache (core/smtp/rcpt_cache.c). Statement triggers: one notification per
-- statement, and PostgreSQL folds repeats within a transaction. Updates of
-- used_bytes (every delivery) do not fire.
CREATE FUNCTION postern_directory_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('directory_changed', TG_TABLE_NAME);
	RETURN NULL;
END
$$;

CREATE TRIGGER domains_directory AFTER INSERT OR DELETE OR UPDATE OF name, active
	ON domains FOR EACH STATEMENT EXECUTE FUNCTION postern_directory_changed();
CREATE TRIGGER accounts_directory AFTER INSERT OR DELETE OR UPDATE OF domain_id, local_part, active
	ON accounts FOR EACH STATEMENT EXECUTE FUNCTION postern_directory_changed();
CREATE TRIGGER aliases_directory AFTER INSERT OR DELETE OR UPDATE OR TRUNCATE
	ON aliases FOR EACH STATEMENT EXECUTE FUNCTION postern_directory_changed();
CREATE TRIGGER domains_directory_truncate AFTER TRUNCATE
	ON domains FOR EACH STATEMENT EXECUTE FUNCTION postern_directory_changed();
CREATE TRIGGER accounts_directory_truncate AFTER TRUNCATE
	ON accounts FOR EACH STATEMENT EXECUTE FUNCTION postern_directory_changed();

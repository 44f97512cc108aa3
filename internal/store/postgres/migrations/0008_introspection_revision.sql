-- 0008_introspection_revision: a revision that changes with every change of a token or a
-- credential, so the service can keep introspection reads between requests (issue 17), as
-- the SQLite store's 0007.
--
-- introspection_revision holds one row. The triggers below give it a new random value in
-- the transaction of every statement that inserts, deletes or truncates tokens or
-- credentials, or updates any of their columns but tokens.last_used_at (which the
-- verification log moves on every use; introspection does not read it). They run once per
-- statement, and fire even in a session with session_replication_role = replica (ENABLE
-- ALWAYS). The service reads the revision with every introspection read, in the same
-- statement, and again (once for all the requests waiting) after each request arrives: a
-- kept read is used only while the revision is unchanged, so a change committed before a
-- request, by any instance, is always seen by it.
--
-- The value is random rather than a counter: a database restored from a backup, then
-- changed, never shows again a revision a service kept a read under. The function names the
-- table in the schema of the table that fired it, whatever the session's search_path.
CREATE TABLE introspection_revision (
    id       integer NOT NULL PRIMARY KEY CHECK (id = 1),
    revision uuid    NOT NULL
);

INSERT INTO introspection_revision (id, revision) VALUES (1, gen_random_uuid());

CREATE FUNCTION introspection_revision_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('UPDATE %I.introspection_revision SET revision = gen_random_uuid()', TG_TABLE_SCHEMA);
    RETURN NULL;
END
$$;

CREATE TRIGGER tokens_revision_write AFTER INSERT OR DELETE OR TRUNCATE ON tokens
    FOR EACH STATEMENT EXECUTE FUNCTION introspection_revision_bump();

CREATE TRIGGER tokens_revision_update AFTER UPDATE OF
    id, name, owner_index, owner_cipher, purpose, scopes, data_categories, audiences, labels,
    subject_indexes, subjects_cipher, env, rotation_interval, rotation_overlap, status,
    created_at, updated_at, expires_at, rotated_at, revoked_at, secret_version, secret_hash,
    hash_key_id, fingerprint, prev_secret_hash, prev_hash_key_id, prev_fingerprint,
    prev_valid_until
ON tokens
    FOR EACH STATEMENT EXECUTE FUNCTION introspection_revision_bump();

CREATE TRIGGER credentials_revision_write AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE ON credentials
    FOR EACH STATEMENT EXECUTE FUNCTION introspection_revision_bump();

ALTER TABLE tokens ENABLE ALWAYS TRIGGER tokens_revision_write;
ALTER TABLE tokens ENABLE ALWAYS TRIGGER tokens_revision_update;
ALTER TABLE credentials ENABLE ALWAYS TRIGGER credentials_revision_write;

-- 0007_introspection_revision: a revision that changes with every change of a token or a
-- credential, so the service can keep introspection reads between requests (issue 17).
--
-- introspection_revision holds one row. The triggers below give it a new random value in
-- the transaction of every insert and delete of a token or a credential, and of every update
-- of any of their columns but tokens.last_used_at (which the verification log moves on every
-- use; introspection does not read it). The service reads the revision with every
-- introspection read, in the same statement, and again (once for all the requests waiting)
-- after each request arrives: a kept read is used only while the revision is unchanged, so a
-- change committed before a request, by any process, is always seen by it.
--
-- The value is random rather than a counter: a database restored from a backup, then
-- changed, never shows again a revision a service kept a read under.
CREATE TABLE introspection_revision (
    id       INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    revision BLOB    NOT NULL
) STRICT;

INSERT INTO introspection_revision (id, revision) VALUES (1, randomblob(16));

CREATE TRIGGER tokens_revision_insert AFTER INSERT ON tokens
BEGIN
    UPDATE introspection_revision SET revision = randomblob(16);
END;

CREATE TRIGGER tokens_revision_delete AFTER DELETE ON tokens
BEGIN
    UPDATE introspection_revision SET revision = randomblob(16);
END;

CREATE TRIGGER tokens_revision_update AFTER UPDATE OF
    id, name, owner_index, owner_cipher, purpose, scopes, data_categories, audiences, labels,
    subject_indexes, subjects_cipher, env, rotation_interval, rotation_overlap, status,
    created_at, updated_at, expires_at, rotated_at, revoked_at, secret_version, secret_hash,
    hash_key_id, fingerprint, prev_secret_hash, prev_hash_key_id, prev_fingerprint,
    prev_valid_until
ON tokens
BEGIN
    UPDATE introspection_revision SET revision = randomblob(16);
END;

CREATE TRIGGER credentials_revision_insert AFTER INSERT ON credentials
BEGIN
    UPDATE introspection_revision SET revision = randomblob(16);
END;

CREATE TRIGGER credentials_revision_delete AFTER DELETE ON credentials
BEGIN
    UPDATE introspection_revision SET revision = randomblob(16);
END;

CREATE TRIGGER credentials_revision_update AFTER UPDATE ON credentials
BEGIN
    UPDATE introspection_revision SET revision = randomblob(16);
END;

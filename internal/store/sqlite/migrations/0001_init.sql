-- 0001_init: tokens, their data-subject blind index, API credentials, idempotency records
-- and the hash-chained audit log.
--
-- Conventions:
--   * instants are TEXT, UTC, fixed width "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ", so that text
--     order is time order and comparisons in SQL are correct;
--   * durations are INTEGER nanoseconds;
--   * string sets and maps are JSON text ("null" for a nil slice or map, so nil and empty
--     round-trip as they were written).

CREATE TABLE tokens (
    id                TEXT    NOT NULL PRIMARY KEY,
    name              TEXT    NOT NULL,
    owner_index       TEXT    NOT NULL,
    owner_cipher      BLOB,
    purpose           TEXT    NOT NULL,
    scopes            TEXT    NOT NULL,
    data_categories   TEXT    NOT NULL,
    audiences         TEXT    NOT NULL,
    labels            TEXT    NOT NULL,
    subject_indexes   TEXT    NOT NULL, -- as written; token_subjects mirrors it for filtering
    subjects_cipher   BLOB,
    env               TEXT    NOT NULL,
    rotation_interval INTEGER NOT NULL,
    rotation_overlap  INTEGER NOT NULL,
    status            TEXT    NOT NULL,
    created_at        TEXT    NOT NULL,
    updated_at        TEXT    NOT NULL,
    expires_at        TEXT    NOT NULL,
    rotated_at        TEXT,
    revoked_at        TEXT,
    last_used_at      TEXT,
    secret_version    INTEGER NOT NULL,
    secret_hash       BLOB,
    hash_key_id       TEXT    NOT NULL,
    fingerprint       TEXT    NOT NULL,
    prev_secret_hash  BLOB,
    prev_hash_key_id  TEXT    NOT NULL,
    prev_fingerprint  TEXT    NOT NULL,
    prev_valid_until  TEXT
) STRICT;

-- A name is unique per owner among tokens that are not revoked: replacing a token (revoke,
-- then create under the same name) must work, and revoked tokens stay as evidence.
CREATE UNIQUE INDEX tokens_live_name ON tokens (owner_index, name) WHERE status <> 'revoked';

CREATE INDEX tokens_secret_hash ON tokens (secret_hash);
CREATE INDEX tokens_prev_secret_hash ON tokens (prev_secret_hash);
CREATE INDEX tokens_status ON tokens (status, id);

CREATE TABLE token_subjects (
    subject_index TEXT NOT NULL,
    token_id      TEXT NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    PRIMARY KEY (subject_index, token_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX token_subjects_token ON token_subjects (token_id);

CREATE TABLE credentials (
    id          TEXT NOT NULL PRIMARY KEY,
    name        TEXT NOT NULL,
    secret_hash BLOB NOT NULL UNIQUE,
    rights      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
) STRICT;

CREATE TABLE idempotency (
    key          TEXT    NOT NULL PRIMARY KEY,
    request_hash BLOB,
    status       INTEGER NOT NULL,
    response     BLOB,
    created_at   TEXT    NOT NULL
) STRICT;

-- seq is assigned by AppendAudit inside the write transaction. prev_hash is UNIQUE: two
-- records chained to the same predecessor would be a fork, and the database refuses it.
CREATE TABLE audit (
    seq         INTEGER NOT NULL PRIMARY KEY,
    prev_hash   TEXT    NOT NULL UNIQUE,
    hash        TEXT    NOT NULL,
    time        TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    token_id    TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    outcome     TEXT    NOT NULL,
    details     TEXT -- JSON object, NULL when the event has no details
) STRICT;

CREATE INDEX audit_token ON audit (token_id, seq);

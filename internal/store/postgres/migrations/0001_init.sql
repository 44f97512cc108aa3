-- 0001_init: tokens, API credentials, idempotency records and the hash-chained audit log.
--
-- Conventions:
--   * instants are timestamptz (microsecond precision; the store truncates finer instants);
--   * durations are bigint nanoseconds;
--   * string sets are text[] and string maps jsonb; SQL NULL stands for a nil slice or map
--     and an empty array or object for an empty one, so the two stay distinct;
--   * token ids use COLLATE "C", so ORDER BY id and id > $cursor follow byte order whatever
--     the database's default collation is.

CREATE TABLE tokens (
    id                text COLLATE "C" NOT NULL PRIMARY KEY,
    name              text        NOT NULL,
    owner_index       text        NOT NULL,
    owner_cipher      bytea,
    purpose           text        NOT NULL,
    scopes            text[],
    data_categories   text[],
    audiences         text[],
    labels            jsonb,
    subject_indexes   text[],
    subjects_cipher   bytea,
    env               text        NOT NULL,
    rotation_interval bigint      NOT NULL,
    rotation_overlap  bigint      NOT NULL,
    status            text        NOT NULL,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    expires_at        timestamptz NOT NULL,
    rotated_at        timestamptz,
    revoked_at        timestamptz,
    last_used_at      timestamptz,
    secret_version    bigint      NOT NULL,
    secret_hash       bytea,
    hash_key_id       text        NOT NULL,
    fingerprint       text        NOT NULL,
    prev_secret_hash  bytea,
    prev_hash_key_id  text        NOT NULL,
    prev_fingerprint  text        NOT NULL,
    prev_valid_until  timestamptz
);

-- A name is unique per owner among tokens that are not revoked: replacing a token (revoke,
-- then create under the same name) must work, and revoked tokens stay as evidence.
CREATE UNIQUE INDEX tokens_live_name ON tokens (owner_index, name) WHERE status <> 'revoked';

CREATE INDEX tokens_secret_hash ON tokens (secret_hash);
CREATE INDEX tokens_prev_secret_hash ON tokens (prev_secret_hash) WHERE prev_secret_hash IS NOT NULL;
CREATE INDEX tokens_status ON tokens (status, id);
-- Set membership filters (data_categories @> ARRAY[$1], subject_indexes @> ARRAY[$1]).
CREATE INDEX tokens_data_categories ON tokens USING gin (data_categories);
CREATE INDEX tokens_subject_indexes ON tokens USING gin (subject_indexes);

CREATE TABLE credentials (
    id          text        NOT NULL PRIMARY KEY,
    name        text        NOT NULL,
    secret_hash bytea       NOT NULL UNIQUE,
    rights      text[],
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);

CREATE TABLE idempotency (
    key          text        NOT NULL PRIMARY KEY,
    request_hash bytea,
    status       integer     NOT NULL,
    response     bytea,
    created_at   timestamptz NOT NULL
);

-- seq is assigned by AppendAudit. prev_hash is UNIQUE: two records chained to the same
-- predecessor would be a fork, and the database refuses it.
CREATE TABLE audit (
    seq         bigint      NOT NULL PRIMARY KEY,
    prev_hash   text        NOT NULL UNIQUE,
    hash        text        NOT NULL,
    time        timestamptz NOT NULL,
    actor       text        NOT NULL,
    action      text        NOT NULL,
    token_id    text        NOT NULL,
    fingerprint text        NOT NULL,
    outcome     text        NOT NULL,
    details     jsonb -- NULL when the event has no details
);

CREATE INDEX audit_token ON audit (token_id, seq);

-- audit_head is the write lock and the chain head in one row. Every write transaction
-- locks this row (SELECT ... FOR UPDATE) before anything else, so write transactions are
-- serialised across every process on the database: the chain cannot fork, one
-- transaction's records are contiguous, and writers cannot deadlock with each other.
-- seq 0 and a NULL hash mean the log is empty (the first record chains to the genesis hash).
CREATE TABLE audit_head (
    id   boolean NOT NULL PRIMARY KEY DEFAULT true CHECK (id),
    seq  bigint  NOT NULL,
    hash text,
    CHECK ((seq = 0) = (hash IS NULL))
);

INSERT INTO audit_head (id, seq, hash) VALUES (true, 0, NULL);

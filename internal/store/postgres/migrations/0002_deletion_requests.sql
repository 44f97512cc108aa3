-- 0002_deletion_requests: evidence records of consumers' deletion requests (Cal. Civ. Code
-- 1798.105). The subject is held only as its keyed blind index and encrypted; conventions as
-- in 0001_init (text[] with NULL for a nil list, ids in byte order with COLLATE "C").

CREATE TABLE deletion_requests (
    id                 text COLLATE "C" NOT NULL PRIMARY KEY,
    subject_index      text        NOT NULL,
    subject_cipher     bytea,
    categories         text[],
    requested_by       text        NOT NULL,
    requested_at       timestamptz NOT NULL,
    completed_at       timestamptz,
    retain_until       timestamptz NOT NULL,
    revoked_token_ids  text[],
    notified_token_ids text[],
    reference          text        NOT NULL
);

-- IsSubjectErased looks subjects up by blind index; PurgeDeletionRequests by retention.
CREATE INDEX deletion_requests_subject ON deletion_requests (subject_index);
CREATE INDEX deletion_requests_retain_until ON deletion_requests (retain_until);

-- 0002_deletion_requests: evidence records of consumers' deletion requests (Cal. Civ. Code
-- 1798.105). The subject is held only as its keyed blind index and encrypted; token id lists
-- and categories are JSON text, instants fixed-width UTC text (see 0001_init).

CREATE TABLE deletion_requests (
    id                 TEXT NOT NULL PRIMARY KEY,
    subject_index      TEXT NOT NULL,
    subject_cipher     BLOB,
    categories         TEXT NOT NULL,
    requested_by       TEXT NOT NULL,
    requested_at       TEXT NOT NULL,
    completed_at       TEXT,
    retain_until       TEXT NOT NULL,
    revoked_token_ids  TEXT NOT NULL,
    notified_token_ids TEXT NOT NULL,
    reference          TEXT NOT NULL
) STRICT;

-- IsSubjectErased looks subjects up by blind index; PurgeDeletionRequests by retention.
CREATE INDEX deletion_requests_subject ON deletion_requests (subject_index);
CREATE INDEX deletion_requests_retain_until ON deletion_requests (retain_until);

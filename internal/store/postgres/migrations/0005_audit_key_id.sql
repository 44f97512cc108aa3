-- 0005_audit_key_id: each audit record names the audit key its hash is an HMAC under (as in
-- the SQLite store's 0004), and audit_head the key of the head record.
--
-- Records written before this migration keep their plain SHA-256 hashes and get the empty
-- key id (unkeyed); nothing is rewritten, so every hash anyone copied before still matches.
-- The service chains every later record under the audit key of its key file. A verifier
-- accepts unkeyed records only before the first keyed one, and the first keyed record's
-- HMAC covers the hash of the last unkeyed one (see internal/audit).
ALTER TABLE audit ADD COLUMN key_id text NOT NULL DEFAULT '';

ALTER TABLE audit_head ADD COLUMN key_id text NOT NULL DEFAULT '';

-- 0003_audit_chain_trigger: the audit log's fork guard becomes a linkage check, and the
-- unused audit_token index goes.
--
-- Every verification appends an audit record (group-committed by the verification log), so
-- the cost of an append is the cost of the service. The UNIQUE index on prev_hash (a random
-- hash) and the (token_id, seq) index made each append write into random pages of two large
-- indexes: a batch of 256 records dirtied hundreds of pages, and that WAL traffic was most
-- of the cost of the batch (14 ms against 4 ms without both indexes, on a log of 100k
-- records). No query reads audit by token_id or by prev_hash.
--
-- The trigger keeps the guarantee in the database, and a stronger one: a record must chain
-- to the record just before it (seq - 1), or to the genesis hash when it is the first. With
-- seq the primary key, two records chained to the same predecessor would need two
-- predecessors with the same hash: a fork is still refused. The check is a primary-key
-- lookup of the page the previous append just wrote.

CREATE TABLE audit_linked (
    seq         INTEGER NOT NULL PRIMARY KEY,
    prev_hash   TEXT    NOT NULL,
    hash        TEXT    NOT NULL,
    time        TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    token_id    TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    outcome     TEXT    NOT NULL,
    details     TEXT -- JSON object, NULL when the event has no details
) STRICT;

INSERT INTO audit_linked (seq, prev_hash, hash, time, actor, action, token_id, fingerprint, outcome, details)
    SELECT seq, prev_hash, hash, time, actor, action, token_id, fingerprint, outcome, details FROM audit ORDER BY seq;

DROP TABLE audit;

ALTER TABLE audit_linked RENAME TO audit;

CREATE TRIGGER audit_chain_linked BEFORE INSERT ON audit
WHEN NEW.prev_hash IS NOT coalesce(
    (SELECT hash FROM audit WHERE seq = NEW.seq - 1),
    CASE WHEN NEW.seq = 1 THEN '0000000000000000000000000000000000000000000000000000000000000000' END)
BEGIN
    SELECT RAISE(ABORT, 'audit record does not chain to the record before it: the chain would fork');
END;

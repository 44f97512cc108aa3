-- 0004_audit_chain_trigger: the audit log's fork guard becomes a linkage check, and the
-- unused audit_token index goes (as in the SQLite store's 0003).
--
-- Every verification appends an audit record (group-committed by the verification log), so
-- the cost of an append is the cost of the service. The UNIQUE index on prev_hash (a random
-- hash, compared under the database collation) and the (token_id, seq) index made each
-- append descend and write two more b-trees at random places; no query reads audit by
-- token_id or by prev_hash.
--
-- The trigger keeps the guarantee in the database, and a stronger one: a record must chain
-- to the record just before it (seq - 1), or to the genesis hash when it is the first. With
-- seq the primary key, two records chained to the same predecessor would need two
-- predecessors with the same hash: a fork is still refused. It runs once per INSERT
-- statement over the rows the statement added (AppendAudits adds a whole batch in one), so
-- its cost is one join per batch, not one lookup per record.

ALTER TABLE audit DROP CONSTRAINT audit_prev_hash_key;

DROP INDEX audit_token;

CREATE FUNCTION audit_chain_linked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT 1
        FROM appended AS n
        LEFT JOIN audit AS p ON p.seq = n.seq - 1
        WHERE n.prev_hash IS DISTINCT FROM
            CASE WHEN n.seq = 1 THEN '0000000000000000000000000000000000000000000000000000000000000000' ELSE p.hash END
    ) THEN
        RAISE EXCEPTION 'audit record does not chain to the record before it: the chain would fork'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER audit_chain_linked AFTER INSERT ON audit
    REFERENCING NEW TABLE AS appended
    FOR EACH STATEMENT EXECUTE FUNCTION audit_chain_linked();

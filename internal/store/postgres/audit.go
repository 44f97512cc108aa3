package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// auditColumns lists the audit columns in the order scanAudit reads them.
const auditColumns = "seq, prev_hash, hash, time, actor, action, token_id, fingerprint, outcome, details, key_id"

func scanAudit(row pgx.Row) (audit.Record, error) {
	var (
		rec     audit.Record
		details []byte
	)
	if err := row.Scan(&rec.Seq, &rec.PrevHash, &rec.Hash, &rec.Time, &rec.Actor, &rec.Action,
		&rec.TokenID, &rec.Fingerprint, &rec.Outcome, &details, &rec.KeyID); err != nil {
		return audit.Record{}, err
	}
	rec.Time = rec.Time.UTC()
	var err error
	if rec.Details, err = parseJSONMap(details); err != nil {
		return audit.Record{}, fmt.Errorf("audit record %d: decoding details: %w", rec.Seq, err)
	}
	return rec, nil
}

// ListAudit returns the records with Seq > afterSeq in sequence order, at most
// store.ClampLimit(limit) of them.
func (x *tx) ListAudit(ctx context.Context, afterSeq int64, limit int) ([]audit.Record, error) {
	rows, err := x.q.Query(ctx,
		"SELECT "+auditColumns+" FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2", afterSeq, store.ClampLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("postgres: listing audit records: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (audit.Record, error) { return scanAudit(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: listing audit records: %w", err)
	}
	return out, nil
}

// AuditHead returns the last audit record and the sequence number of the first keyed one
// (store.Reader). Keyed records follow every unkeyed one, so the second query walks the
// primary key only over the unkeyed prefix the chain had when it became keyed.
func (x *tx) AuditHead(ctx context.Context) (audit.Record, int64, error) {
	head, err := scanAudit(x.q.QueryRow(ctx, "SELECT "+auditColumns+" FROM audit ORDER BY seq DESC LIMIT 1"))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return audit.Record{}, 0, nil
	case err != nil:
		return audit.Record{}, 0, fmt.Errorf("postgres: reading the audit head: %w", err)
	}
	var keyedFrom int64
	err = x.q.QueryRow(ctx, "SELECT seq FROM audit WHERE key_id <> '' ORDER BY seq LIMIT 1").Scan(&keyedFrom)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return audit.Record{}, 0, fmt.Errorf("postgres: reading the first keyed audit record: %w", err)
	}
	return head, keyedFrom, nil
}

// AppendAudit chains event after the current head and stores it (AppendAudits of one
// event).
func (x *tx) AppendAudit(ctx context.Context, event audit.Event) (audit.Record, error) {
	recs, err := x.AppendAudits(ctx, []audit.Event{event})
	if err != nil {
		return audit.Record{}, err
	}
	return recs[0], nil
}

// appendAuditsQuery inserts the records given as one array per column ($1 to $10, details
// as JSON text or NULL) under the key id $11 and moves audit_head to the last of them ($12,
// $13), in one statement. The arrays are unnested in the select list, in lockstep: a
// set-returning function there hands its rows on one at a time, where unnest in FROM would
// first copy each array into a tuplestore of its own (a sixth of the writer's CPU in
// PostgreSQL). The head is moved to the record AppendAudits computed as the last; the insert
// runs to completion whatever reads it, and the chain trigger checks every record it adds.
const appendAuditsQuery = `WITH appended AS (
		INSERT INTO audit (` + auditColumns + `)
		SELECT unnest($1::bigint[]), unnest($2::text[]), unnest($3::text[]), unnest($4::timestamptz[]),
			unnest($5::text[]), unnest($6::text[]), unnest($7::text[]), unnest($8::text[]), unnest($9::text[]),
			unnest($10::text[])::jsonb, $11::text)
	UPDATE audit_head SET seq = $12, hash = $13, key_id = $11
	WHERE audit_head.id`

// AppendAudits chains events after the current head, in order, and stores them with one
// statement that also moves audit_head: two round trips whatever the number of events. The
// head row is locked (FOR UPDATE; Update has locked it already, so this only reads it) until
// the transaction ends, so no other writer, in this process or another, can append in
// between; the UNIQUE prev_hash makes a fork impossible even so.
func (x *tx) AppendAudits(ctx context.Context, events []audit.Event) ([]audit.Record, error) {
	if len(events) == 0 {
		return nil, nil
	}
	var (
		headSeq   int64
		headHash  *string
		headKeyID string
	)
	if err := x.q.QueryRow(ctx, "SELECT seq, hash, key_id FROM audit_head WHERE id FOR UPDATE").Scan(&headSeq, &headHash, &headKeyID); err != nil {
		return nil, fmt.Errorf("postgres: reading audit head: %w", err)
	}
	if x.auditKey == nil && headKeyID != "" {
		return nil, fmt.Errorf("postgres: appending audit records: %w", store.ErrAuditKeyNeeded)
	}
	keyID := ""
	if x.auditKey != nil {
		keyID = x.auditKey.ID()
	}
	var prev *audit.Record
	if headSeq > 0 && headHash != nil {
		prev = &audit.Record{Seq: headSeq, Hash: *headHash} // Chain needs only the hash
	}
	n := len(events)
	var (
		recs                                = make([]audit.Record, 0, n)
		seqs                                = make([]int64, 0, n)
		times                               = make([]time.Time, 0, n)
		prevHashes, hashes, actors, actions = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		tokenIDs, fingerprints, outcomes    = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		details                             = make([]*string, 0, n)
	)
	for _, event := range events {
		rec := audit.ChainKeyed(prev, headSeq+int64(len(recs))+1, event, x.auditKey)
		var d *string
		if len(rec.Details) > 0 { // nil and empty hash alike (omitempty); store both as NULL
			b, err := json.Marshal(rec.Details)
			if err != nil {
				return nil, fmt.Errorf("postgres: encoding audit details: %w", err)
			}
			v := string(b)
			d = &v
		}
		recs = append(recs, rec)
		prev = &recs[len(recs)-1]
		seqs, prevHashes, hashes, times = append(seqs, rec.Seq), append(prevHashes, rec.PrevHash), append(hashes, rec.Hash), append(times, rec.Time)
		actors, actions, tokenIDs = append(actors, rec.Actor), append(actions, rec.Action), append(tokenIDs, rec.TokenID)
		fingerprints, outcomes, details = append(fingerprints, rec.Fingerprint), append(outcomes, rec.Outcome), append(details, d)
	}
	first, last := recs[0].Seq, recs[n-1].Seq
	tag, err := x.q.Exec(ctx, appendAuditsQuery,
		seqs, prevHashes, hashes, times, actors, actions, tokenIDs, fingerprints, outcomes, details, keyID, last, recs[n-1].Hash)
	if err != nil {
		if state := sqlState(err); state == uniqueViolation || state == integrityConstraintViolation {
			return nil, fmt.Errorf("postgres: appending audit records %d to %d: the chain would fork: %w", first, last, store.ErrConflict)
		}
		return nil, fmt.Errorf("postgres: appending audit records %d to %d: %w", first, last, err)
	}
	if tag.RowsAffected() != 1 {
		return nil, fmt.Errorf("postgres: appending audit records %d to %d: audit_head was not updated (the row is missing: the schema is damaged)", first, last)
	}
	return recs, nil
}

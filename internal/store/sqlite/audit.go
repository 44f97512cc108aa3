package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// auditColumns lists the audit columns in the order scanAudit reads them.
const auditColumns = "seq, prev_hash, hash, time, actor, action, token_id, fingerprint, outcome, details, key_id"

func scanAudit(r rowScanner) (audit.Record, error) {
	var (
		rec     audit.Record
		ts      string
		details sql.NullString
	)
	if err := r.Scan(&rec.Seq, &rec.PrevHash, &rec.Hash, &ts, &rec.Actor, &rec.Action,
		&rec.TokenID, &rec.Fingerprint, &rec.Outcome, &details, &rec.KeyID); err != nil {
		return audit.Record{}, err
	}
	var d decoder
	rec.Time = d.time("time", ts)
	if details.Valid {
		rec.Details = d.stringMap("details", details.String)
	}
	if d.err != nil {
		return audit.Record{}, fmt.Errorf("audit record %d: %w", rec.Seq, d.err)
	}
	return rec, nil
}

// ListAudit returns the records with Seq > afterSeq in sequence order, at most
// store.ClampLimit(limit) of them.
func (x *tx) ListAudit(ctx context.Context, afterSeq int64, limit int) ([]audit.Record, error) {
	return listRows(ctx, x, "listing audit records", scanAudit,
		"SELECT "+auditColumns+" FROM audit WHERE seq > ? ORDER BY seq LIMIT ?", afterSeq, store.ClampLimit(limit))
}

// AuditHead returns the last audit record and the sequence number of the first keyed one
// (store.Reader). Keyed records follow every unkeyed one, so the second query walks the
// primary key only over the unkeyed prefix the chain had when it became keyed.
func (x *tx) AuditHead(ctx context.Context) (audit.Record, int64, error) {
	head, err := scanAudit(x.q.QueryRowContext(ctx, "SELECT "+auditColumns+" FROM audit ORDER BY seq DESC LIMIT 1"))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return audit.Record{}, 0, nil
	case err != nil:
		return audit.Record{}, 0, fmt.Errorf("sqlite: reading the audit head: %w", err)
	}
	var keyedFrom int64
	err = x.q.QueryRowContext(ctx, "SELECT seq FROM audit WHERE key_id <> '' ORDER BY seq LIMIT 1").Scan(&keyedFrom)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return audit.Record{}, 0, fmt.Errorf("sqlite: reading the first keyed audit record: %w", err)
	}
	return head, keyedFrom, nil
}

// AppendAudit chains event after the current head and stores it. The head is read inside
// this write transaction, which holds the database write lock, so no other writer can
// append in between.
func (x *tx) AppendAudit(ctx context.Context, event audit.Event) (audit.Record, error) {
	recs, err := x.AppendAudits(ctx, []audit.Event{event})
	if err != nil {
		return audit.Record{}, err
	}
	return recs[0], nil
}

// auditHeadQuery reads what chaining needs of the last audit record.
const auditHeadQuery = "SELECT seq, hash, key_id FROM audit ORDER BY seq DESC LIMIT 1"

// insertAuditQuery inserts one audit record.
const insertAuditQuery = "INSERT INTO audit (" + auditColumns + ") VALUES " + auditRowPlaceholders

// auditRowColumns is the number of audit columns (auditColumns).
const auditRowColumns = 11

// auditRowPlaceholders are the placeholders of one audit row (auditColumns).
const auditRowPlaceholders = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

// auditInsertRows is how many records insertAuditsQuery inserts: one statement per
// auditInsertRows records of a batch (the rest one by one) costs far less than a statement
// per record.
const auditInsertRows = 32

// insertAuditsQuery inserts auditInsertRows audit records, in order.
var insertAuditsQuery = "INSERT INTO audit (" + auditColumns + ") VALUES " +
	strings.TrimSuffix(strings.Repeat(auditRowPlaceholders+", ", auditInsertRows), ", ")

// AppendAudits chains events after the current head, in order, and stores them: the head is
// read once, inside this write transaction (which holds the database write lock), and the
// records are inserted auditInsertRows at a time with the write connection's prepared
// statements (the audit_chain_linked trigger checks each row against the one before it).
func (x *tx) AppendAudits(ctx context.Context, events []audit.Event) ([]audit.Record, error) {
	if len(events) == 0 {
		return nil, nil
	}
	var (
		prev     *audit.Record
		head     audit.Record
		headStmt = x.prepared(ctx, x.hot.auditHead)
		row      *sql.Row
	)
	if headStmt != nil {
		row = headStmt.QueryRowContext(ctx)
	} else {
		row = x.q.QueryRowContext(ctx, auditHeadQuery)
	}
	switch err := row.Scan(&head.Seq, &head.Hash, &head.KeyID); {
	case errors.Is(err, sql.ErrNoRows):
		// empty log: the first record chains to audit.GenesisHash
	case err != nil:
		return nil, fmt.Errorf("sqlite: reading audit head: %w", err)
	default:
		prev = &head
	}
	if x.auditKey == nil && prev != nil && prev.KeyID != "" {
		return nil, fmt.Errorf("sqlite: appending audit records: %w", store.ErrAuditKeyNeeded)
	}
	recs := make([]audit.Record, 0, len(events))
	args := make([]any, 0, auditRowColumns*min(len(events), auditInsertRows))
	for _, event := range events {
		seq := int64(1)
		if prev != nil {
			seq = prev.Seq + 1
		}
		rec := audit.ChainKeyed(prev, seq, event, x.auditKey)
		var e encoder
		ts := e.time("time", rec.Time)
		var details any
		if len(rec.Details) > 0 {
			b, err := json.Marshal(rec.Details)
			if err != nil {
				return nil, fmt.Errorf("sqlite: encoding audit details: %w", err)
			}
			details = string(b)
		}
		if e.err != nil {
			return nil, fmt.Errorf("sqlite: appending audit record: %w", e.err)
		}
		recs = append(recs, rec)
		prev = &recs[len(recs)-1]
		args = append(args, rec.Seq, rec.PrevHash, rec.Hash, ts, rec.Actor, rec.Action, rec.TokenID, rec.Fingerprint, rec.Outcome, details, rec.KeyID)
		if len(args) == auditRowColumns*auditInsertRows {
			if err := x.insertAudits(ctx, recs[len(recs)-auditInsertRows:], args); err != nil {
				return nil, err
			}
			args = args[:0]
		}
	}
	for i := 0; i < len(args); i += auditRowColumns { // the rest, one by one
		if err := x.insertAudits(ctx, recs[len(recs)-len(args)/auditRowColumns+i/auditRowColumns:][:1], args[i:i+auditRowColumns]); err != nil {
			return nil, err
		}
	}
	return recs, nil
}

// insertAudits inserts recs, whose column values are args (auditRowColumns per record): with
// insertAuditsQuery when there are auditInsertRows of them, else one record with
// insertAuditQuery.
func (x *tx) insertAudits(ctx context.Context, recs []audit.Record, args []any) error {
	query, st := insertAuditQuery, x.hot.insertAudit
	if len(recs) == auditInsertRows {
		query, st = insertAuditsQuery, x.hot.insertAudits
	}
	var err error
	if st := x.prepared(ctx, st); st != nil {
		_, err = st.ExecContext(ctx, args...)
	} else {
		_, err = x.q.ExecContext(ctx, query, args...)
	}
	if err != nil {
		first, last := recs[0].Seq, recs[len(recs)-1].Seq
		if isChainViolation(err) {
			return fmt.Errorf("sqlite: appending audit records %d to %d: the chain would fork: %w", first, last, store.ErrConflict)
		}
		return fmt.Errorf("sqlite: appending audit records %d to %d: %w", first, last, err)
	}
	return nil
}

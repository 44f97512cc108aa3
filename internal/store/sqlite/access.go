package sqlite

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// Reads of a data subject's access request: its deletion requests, and the audit history and
// daily verification counts of its tokens. The audit log has no token_id index (see
// migration 0003), so the token ids go in as one JSON array and each query reads the log in
// one sequential pass.

// ListSubjectDeletionRequests returns the deletion requests of the subject with this blind
// index, oldest first.
func (x *tx) ListSubjectDeletionRequests(ctx context.Context, subjectIndex string) ([]store.DeletionRequest, error) {
	rows, err := x.q.QueryContext(ctx,
		"SELECT "+deletionColumns+" FROM deletion_requests WHERE subject_index = ? ORDER BY requested_at, id", subjectIndex)
	if err != nil {
		return nil, fmt.Errorf("sqlite: listing the deletion requests of a subject: %w", err)
	}
	// rows.Err below reports any failure of the read; Close only releases the cursor.
	defer func() { _ = rows.Close() }()
	var out []store.DeletionRequest
	for rows.Next() {
		d, err := scanDeletion(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: listing the deletion requests of a subject: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: listing the deletion requests of a subject: %w", err)
	}
	return out, nil
}

// tokenIDsArg is ids as the JSON array the queries read with json_each.
func tokenIDsArg(ids []string) (string, error) {
	if len(ids) > store.MaxHistoryTokens {
		return "", fmt.Errorf("%d token ids: at most %d per call", len(ids), store.MaxHistoryTokens)
	}
	if ids == nil {
		ids = []string{}
	}
	b, err := json.Marshal(ids)
	return string(b), err
}

// ListTokenHistory returns the records of the tokens ids other than verifications, with Seq >
// afterSeq, in sequence order, at most store.ClampLimit(limit) of them.
func (x *tx) ListTokenHistory(ctx context.Context, tokenIDs []string, afterSeq int64, limit int) ([]audit.Record, error) {
	ids, err := tokenIDsArg(tokenIDs)
	if err != nil {
		return nil, fmt.Errorf("sqlite: listing token history: %w", err)
	}
	rows, err := x.q.QueryContext(ctx,
		"SELECT "+auditColumns+" FROM audit WHERE seq > ? AND action <> ? AND token_id IN (SELECT value FROM json_each(?)) ORDER BY seq LIMIT ?",
		afterSeq, audit.ActionIntrospect, ids, store.ClampLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: listing token history: %w", err)
	}
	// rows.Err below reports any failure of the read; Close only releases the cursor.
	defer func() { _ = rows.Close() }()
	var out []audit.Record
	for rows.Next() {
		rec, err := scanAudit(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: listing token history: %w", err)
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: listing token history: %w", err)
	}
	return out, nil
}

// CountTokenVerifications counts the verification records of the tokens ids per token, UTC
// day (the first ten characters of the fixed-width UTC time text) and outcome.
func (x *tx) CountTokenVerifications(ctx context.Context, tokenIDs []string) ([]store.VerificationCount, error) {
	ids, err := tokenIDsArg(tokenIDs)
	if err != nil {
		return nil, fmt.Errorf("sqlite: counting verifications: %w", err)
	}
	rows, err := x.q.QueryContext(ctx,
		`SELECT token_id, substr(time, 1, 10) AS day, outcome, count(*) FROM audit
		WHERE action = ? AND token_id IN (SELECT value FROM json_each(?))
		GROUP BY token_id, day, outcome ORDER BY token_id, day, outcome`,
		audit.ActionIntrospect, ids)
	if err != nil {
		return nil, fmt.Errorf("sqlite: counting verifications: %w", err)
	}
	// rows.Err below reports any failure of the read; Close only releases the cursor.
	defer func() { _ = rows.Close() }()
	var out []store.VerificationCount
	for rows.Next() {
		var v store.VerificationCount
		if err := rows.Scan(&v.TokenID, &v.Day, &v.Outcome, &v.Count); err != nil {
			return nil, fmt.Errorf("sqlite: counting verifications: %w", err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: counting verifications: %w", err)
	}
	return out, nil
}

package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// Reads of a data subject's access request: its deletion requests, and the audit history and
// daily verification counts of its tokens. The audit log has no token_id index (see
// migration 0004), so each query reads the log in one sequential pass.

// ListSubjectDeletionRequests returns the deletion requests of the subject with this blind
// index, oldest first.
func (x *tx) ListSubjectDeletionRequests(ctx context.Context, subjectIndex string) ([]store.DeletionRequest, error) {
	rows, err := x.q.Query(ctx,
		"SELECT "+deletionColumns+" FROM deletion_requests WHERE subject_index = $1 ORDER BY requested_at, id", subjectIndex)
	if err != nil {
		return nil, fmt.Errorf("postgres: listing the deletion requests of a subject: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.DeletionRequest, error) { return scanDeletion(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: listing the deletion requests of a subject: %w", err)
	}
	return out, nil
}

func checkHistoryIDs(ids []string) ([]string, error) {
	if len(ids) > store.MaxHistoryTokens {
		return nil, fmt.Errorf("%d token ids: at most %d per call", len(ids), store.MaxHistoryTokens)
	}
	if ids == nil {
		ids = []string{}
	}
	return ids, nil
}

// ListTokenHistory returns the records of the tokens ids other than verifications, with Seq >
// afterSeq, in sequence order, at most store.ClampLimit(limit) of them.
func (x *tx) ListTokenHistory(ctx context.Context, tokenIDs []string, afterSeq int64, limit int) ([]audit.Record, error) {
	ids, err := checkHistoryIDs(tokenIDs)
	if err != nil {
		return nil, fmt.Errorf("postgres: listing token history: %w", err)
	}
	rows, err := x.q.Query(ctx,
		"SELECT "+auditColumns+" FROM audit WHERE seq > $1 AND action <> $2 AND token_id = ANY($3) ORDER BY seq LIMIT $4",
		afterSeq, audit.ActionIntrospect, ids, store.ClampLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("postgres: listing token history: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (audit.Record, error) { return scanAudit(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: listing token history: %w", err)
	}
	return out, nil
}

// CountTokenVerifications counts the verification records of the tokens ids per token, UTC
// day and outcome.
func (x *tx) CountTokenVerifications(ctx context.Context, tokenIDs []string) ([]store.VerificationCount, error) {
	ids, err := checkHistoryIDs(tokenIDs)
	if err != nil {
		return nil, fmt.Errorf("postgres: counting verifications: %w", err)
	}
	rows, err := x.q.Query(ctx,
		`SELECT token_id COLLATE "C" AS tid, to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, outcome, count(*) FROM audit
		WHERE action = $1 AND token_id = ANY($2)
		GROUP BY tid, day, outcome ORDER BY tid, day, outcome COLLATE "C"`,
		audit.ActionIntrospect, ids)
	if err != nil {
		return nil, fmt.Errorf("postgres: counting verifications: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.VerificationCount, error) {
		var v store.VerificationCount
		err := r.Scan(&v.TokenID, &v.Day, &v.Outcome, &v.Count)
		return v, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: counting verifications: %w", err)
	}
	return out, nil
}

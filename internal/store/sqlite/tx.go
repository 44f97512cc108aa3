package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// tx implements store.Tx on a database/sql transaction. View hands it out as a store.Reader
// on a query_only connection, so even a type assertion to store.Tx cannot write through it.
type tx struct {
	q        *sql.Tx
	hot      hotStmts   // zero in Update: the statements are prepared on the read pool only
	auditKey *audit.Key // what AppendAudits chains under (nil: unkeyed)
}

// prepared returns st bound to this transaction, or nil when st is nil (not prepared).
func (x *tx) prepared(ctx context.Context, st *sql.Stmt) *sql.Stmt {
	if st == nil {
		return nil
	}
	return x.q.StmtContext(ctx, st)
}

var _ store.Tx = (*tx)(nil)

type rowScanner interface{ Scan(dest ...any) error }

// expectOneRow turns "no row changed" into store.ErrNotFound.
func expectOneRow(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("token %w", store.ErrNotFound)
	}
	return nil
}

// listRows runs query and scans each row with scan. what names the rows in errors, for
// example "listing tokens".
func listRows[T any](ctx context.Context, x *tx, what string, scan func(rowScanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := x.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	// rows.Err below reports any failure of the read; Close only releases the cursor.
	defer func() { _ = rows.Close() }()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	return out, nil
}

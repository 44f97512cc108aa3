package postgres

import (
	"github.com/jackc/pgx/v5"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// tx implements store.Tx on a pgx transaction. View hands it out as a store.Reader on a READ
// ONLY transaction, so even a type assertion to store.Tx cannot write through it.
type tx struct {
	q        pgx.Tx
	auditKey *audit.Key // what AppendAudits chains under (nil: unkeyed)
}

var _ store.Tx = (*tx)(nil)

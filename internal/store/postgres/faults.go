package postgres

import (
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// classify marks err with the store fault it means (store.Fault): disk_full (53100) is
// storage full; lock_not_available (55P03, lock_timeout passed) and query_canceled (57014,
// statement_timeout passed) are busy; the other insufficient-resources errors (53xxx: too many
// connections, out of memory), connection exceptions (08xxx), the operator-intervention
// shutdowns (57P01-57P03, 57P05) and errors of the connection itself (refused, reset, closed)
// are unavailable. Other errors are returned as they are.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		code := pgErr.Code
		switch {
		case code == "53100":
			return store.Fault(store.ErrStorageFull, err)
		case code == "55P03" || code == "57014":
			return store.Fault(store.ErrBusy, err)
		case strings.HasPrefix(code, "53"), strings.HasPrefix(code, "08"),
			code == "57P01", code == "57P02", code == "57P03", code == "57P05":
			return store.Fault(store.ErrUnavailable, err)
		}
		return err
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	if errors.As(err, &connectErr) || errors.As(err, &netErr) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || pgconn.SafeToRetry(err) {
		return store.Fault(store.ErrUnavailable, err)
	}
	return err
}

package sqlite

import (
	"errors"

	moderncsqlite "modernc.org/sqlite"
	sqlitelib "modernc.org/sqlite/lib"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// classify marks err with the store fault its SQLite result code means (store.Fault):
// SQLITE_FULL is storage full; SQLITE_BUSY and SQLITE_LOCKED (busy_timeout passed) are busy;
// SQLITE_IOERR, SQLITE_CANTOPEN and SQLITE_READONLY (the file went away or became read-only)
// are unavailable. Other errors are returned as they are.
func classify(err error) error {
	var se *moderncsqlite.Error
	if err == nil || !errors.As(err, &se) {
		return err
	}
	switch se.Code() & 0xff { // the primary result code of an extended one
	case sqlitelib.SQLITE_FULL:
		return store.Fault(store.ErrStorageFull, err)
	case sqlitelib.SQLITE_BUSY, sqlitelib.SQLITE_LOCKED:
		return store.Fault(store.ErrBusy, err)
	case sqlitelib.SQLITE_IOERR, sqlitelib.SQLITE_CANTOPEN, sqlitelib.SQLITE_READONLY:
		return store.Fault(store.ErrUnavailable, err)
	}
	return err
}

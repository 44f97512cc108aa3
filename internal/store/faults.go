package store

import "errors"

// Faults of the database, as each implementation classifies its driver's errors, so that the
// service can say what happened instead of "internal error". A classified error keeps its
// message and its chain (errors.Is and errors.As still find the driver's error).
var (
	// ErrUnavailable: the database cannot be reached or refuses work for now (connection
	// refused or lost, server shutting down or starting, too many connections).
	ErrUnavailable = errors.New("database unavailable")
	// ErrStorageFull: the database has no room for the write (SQLITE_FULL, PostgreSQL
	// disk_full 53100).
	ErrStorageFull = errors.New("database storage full")
	// ErrBusy: a lock could not be had in time or a statement ran past its timeout
	// (SQLITE_BUSY, SQLITE_LOCKED, PostgreSQL lock_not_available 55P03, query_canceled 57014).
	ErrBusy = errors.New("database busy: lock or statement timeout")
)

// faultError is an error classified as one of the faults above.
type faultError struct {
	kind error
	err  error
}

func (e *faultError) Error() string   { return e.err.Error() }
func (e *faultError) Unwrap() []error { return []error{e.err, e.kind} }

// Fault returns err classified as kind (ErrUnavailable, ErrStorageFull or ErrBusy), with
// err's message; nil when err is nil, err itself when kind is nil or err is already of kind.
func Fault(kind, err error) error {
	if err == nil || kind == nil || errors.Is(err, kind) {
		return err
	}
	return &faultError{kind: kind, err: err}
}

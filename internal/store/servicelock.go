package store

import "errors"

// ErrServiceRunning means that a maintenance command that changes what running services rely
// on (admin rekey) found a running service holding the database. Each implementation says how a
// service holds it: SQLite with a shared lock on the file <db>.lock, PostgreSQL with a shared
// advisory lock on a session of its own. Both are released by the operating system or the
// server when the process dies, SIGKILL included, so a crashed service never blocks a rekey.
var ErrServiceRunning = errors.New("a running service holds the database")

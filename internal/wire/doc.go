// Package wire is the contract of the token API: the request and answer bodies, the policy
// finding shape and the error codes that the service (internal/server) answers and its
// callers (internal/client, the provider, the CLI and the report formats) read. It holds
// types only, no I/O, so that nobody imports the HTTP client to get a struct.
package wire

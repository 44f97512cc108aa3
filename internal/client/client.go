// Package client is the Go client of the tokenguard token API, built on go-retryablehttp.
// Every request that mints or changes a secret carries an Idempotency-Key, so a retry after
// a lost response returns the first result instead of issuing a second token.
package client

// The API surface, implemented in this package (see the service issue):
//
//	func New(cfg Config) (*Client, error)
//	type Config struct { Endpoint, Token string; HTTPClient *http.Client; CACertPEM string; InsecureHTTP bool; RetryMax int; Logger ... }
//	func (c *Client) CreateToken(ctx, req CreateTokenRequest, idempotencyKey string) (Token, error)
//	func (c *Client) GetToken(ctx, id string) (Token, error)               // ErrNotFound
//	func (c *Client) ListTokens(ctx, opts ListTokensOptions) (TokenList, error)
//	func (c *Client) UpdateToken(ctx, id string, req UpdateTokenRequest) (Token, error)
//	func (c *Client) RotateToken(ctx, id string, req RotateRequest, idempotencyKey string) (Token, error)
//	func (c *Client) RenewToken(ctx, id string, req RenewRequest, idempotencyKey string) (Token, error)
//	func (c *Client) RevokeToken(ctx, id string) (Token, error)            // idempotent
//	func (c *Client) Introspect(ctx, secret string) (Introspection, error)
//	func (c *Client) ListAudit(ctx, after int64, limit int) (AuditPage, error)
//
// An empty idempotencyKey makes the client generate one per call (kept across its retries).
// Errors: ErrNotFound for 404, and *ResponseError{StatusCode, Code, Message, Field} for every
// other non-2xx answer; callers use errors.Is / errors.As, never the message text.

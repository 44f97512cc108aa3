// Roles of management credentials and what each may reach (issue 16).

package server

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// Roles a credential holds, one each (stored as its one-element rights set). An issuer or
// reader credential may be restricted to the tokens of one owner.
const (
	// RoleAdmin may do everything: credentials, deletion requests and every route below.
	RoleAdmin = "admin"
	// RoleIssuer creates, reads, changes, rotates, renews and revokes tokens, revokes by value
	// (POST /v1/revoke) and reads what the provider's policy gate needs (erased subjects, the
	// policy in force).
	RoleIssuer = "issuer"
	// RoleReader reads: tokens, the audit log and its checkpoint, access requests, deletion
	// evidence, renewals, erased subjects and the policy in force; and records the issue of
	// an evidence pack (an audit record, no change of tokens).
	RoleReader = "reader"
	// RoleIntrospect calls POST /v1/introspect and POST /v1/revoke only.
	RoleIntrospect = "introspect"
)

// Roles lists the roles in the order the API documents them.
var Roles = []string{RoleAdmin, RoleIssuer, RoleReader, RoleIntrospect}

// access is what a route needs of its caller's credential.
type access int

const (
	accessAdmin         access = iota // credentials, deletion requests
	accessTokenRead                   // GET /v1/tokens, GET /v1/tokens/{id}: owner-scoped
	accessTokenWrite                  // token mutations: owner-scoped
	accessIntrospect                  // POST /v1/introspect
	accessRevokeByValue               // POST /v1/revoke
	accessGateData                    // erased subjects and the policy in force: what the provider's gate reads
	accessRead                        // audit, access requests, evidence (and its issue): answers about every owner
)

// rolesFor lists the roles allowed each access, for the checks and the 403 messages.
var rolesFor = map[access][]string{
	accessAdmin:         {RoleAdmin},
	accessTokenRead:     {RoleAdmin, RoleIssuer, RoleReader},
	accessTokenWrite:    {RoleAdmin, RoleIssuer},
	accessIntrospect:    {RoleAdmin, RoleIntrospect},
	accessRevokeByValue: {RoleAdmin, RoleIssuer, RoleIntrospect},
	accessGateData:      {RoleAdmin, RoleIssuer, RoleReader},
	accessRead:          {RoleAdmin, RoleReader},
}

// roleOf is the role of a credential's stored rights: the most powerful role they hold
// (credentials of the first versions may hold several rights), "" when none is known.
func roleOf(rights []string) string {
	for _, role := range Roles {
		if slices.Contains(rights, role) {
			return role
		}
	}
	return ""
}

// ownerRestrictable reports whether a credential of role may be restricted to one owner.
func ownerRestrictable(role string) bool { return role == RoleIssuer || role == RoleReader }

// allow returns nil when c may make a request that needs need, else the 403 to answer.
func (c *caller) allow(need access) error {
	roles := rolesFor[need]
	if !slices.Contains(roles, c.role) {
		return &apiError{status: http.StatusForbidden, code: wire.CodeForbidden,
			message: fmt.Sprintf("this credential (role %q) may not call this route: it needs the role %s", c.role, strings.Join(quoteAll(roles), " or "))}
	}
	if need == accessRead && c.ownerIndex != "" {
		return &apiError{status: http.StatusForbidden, code: wire.CodeOwnerRestricted,
			message: "this credential is restricted to the tokens of one owner, and this route answers about every owner: use a reader or admin credential without an owner restriction"}
	}
	return nil
}

func quoteAll(v []string) []string {
	out := make([]string, len(v))
	for i, s := range v {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

// reaches reports whether c may see the token of ownerIdx: an unrestricted credential sees
// every token, a restricted one only its owner's (the same keyed blind index of the
// case-folded, trimmed owner that makes two tokens' owners the same).
func (c *caller) reaches(ownerIdx string) bool {
	return c == nil || c.ownerIndex == "" || c.ownerIndex == ownerIdx
}

// mayCreateFor refuses, with 403, a token for owner index ownerIdx that c does not reach.
func (c *caller) mayCreateFor(ownerIdx string) error {
	if c.reaches(ownerIdx) {
		return nil
	}
	return &apiError{status: http.StatusForbidden, code: wire.CodeOwnerRestricted, field: "owner",
		message: fmt.Sprintf("credential %s is restricted to the tokens of one owner and may not create a token for another: set owner to the owner the credential is restricted to (see tokenguard credential list), or use a credential without an owner restriction", c.id)}
}

// callerKey is the request context key of the authenticated caller.
type callerKey struct{}

// withCaller returns r with c in its context, for the handlers' shared readers (pathToken)
// to apply c's owner restriction.
func withCaller(r *http.Request, c *caller) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), callerKey{}, c))
}

// callerOf returns the caller withCaller stored in r, nil when none.
func callerOf(r *http.Request) *caller {
	c, _ := r.Context().Value(callerKey{}).(*caller)
	return c
}

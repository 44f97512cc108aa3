package client

import "github.com/tokenguard/terraform-provider-tokenguard/internal/wire"

// The request and answer types live in package wire, shared by the service, this client, the
// provider and the report formats. These aliases keep the client's callers (the CLI and its
// tests) compiling unchanged; new code names the wire types directly.
//
//nolint:revive // exported: each alias is documented where it is defined, in package wire
type (
	Token                   = wire.Token
	Rotation                = wire.Rotation
	CreateTokenRequest      = wire.CreateTokenRequest
	UpdateTokenRequest      = wire.UpdateTokenRequest
	RotateRequest           = wire.RotateRequest
	RenewRequest            = wire.RenewRequest
	ListTokensOptions       = wire.ListTokensOptions
	TokenList               = wire.TokenList
	Introspection           = wire.Introspection
	IntrospectRequest       = wire.IntrospectRequest
	AuditRecord             = wire.AuditRecord
	AuditPage               = wire.AuditPage
	ErrorBody               = wire.ErrorBody
	Finding                 = wire.Finding
	CreateCredentialRequest = wire.CreateCredentialRequest
	Credential              = wire.Credential
	RotateCredentialRequest = wire.RotateCredentialRequest
	CredentialList          = wire.CredentialList
	AccessRequest           = wire.AccessRequest
	AccessAnswer            = wire.AccessAnswer
	AccessErasure           = wire.AccessErasure
	AccessToken             = wire.AccessToken
	AccessEvent             = wire.AccessEvent
	AccessUsageDay          = wire.AccessUsageDay
	DeletionRequest         = wire.DeletionRequest
	DeletionRevoked         = wire.DeletionRevoked
	DeletionNotify          = wire.DeletionNotify
	DeletionResult          = wire.DeletionResult
	DeletionEvidence        = wire.DeletionEvidence
	DeletionEvidenceList    = wire.DeletionEvidenceList
	ErasedSubjects          = wire.ErasedSubjects
	Renewal                 = wire.Renewal
	RenewalPage             = wire.RenewalPage
	PolicyInForce           = wire.PolicyInForce
	PolicyBundle            = wire.PolicyBundle
	PolicyBundleFile        = wire.PolicyBundleFile
	PolicyRule              = wire.PolicyRule
	WaiverInForce           = wire.WaiverInForce
)

// Events of a token's history in an access answer, and deletion statuses (see package wire).
const (
	AccessCreated    = wire.AccessCreated
	AccessUpdated    = wire.AccessUpdated
	AccessRotated    = wire.AccessRotated
	AccessRenewed    = wire.AccessRenewed
	AccessRevoked    = wire.AccessRevoked
	DeletionComplete = wire.DeletionComplete
	DeletionDryRun   = wire.DeletionDryRun
)

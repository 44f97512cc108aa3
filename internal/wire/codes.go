package wire

// Error codes of the API's one error shape (ErrorBody.Error.Code). The service answers them
// and callers branch on them (errors.As to the client's ResponseError, then compare Code),
// never on the message. A code, once shipped, keeps its meaning.
const (
	// CodeInvalidRequest (400): a field is missing or malformed; Field names it.
	CodeInvalidRequest = "invalid_request"
	// CodeUnauthenticated (401): no credential, or one the service does not know.
	CodeUnauthenticated = "unauthenticated"
	// CodeForbidden (403): the credential lacks the right the call needs.
	CodeForbidden = "forbidden"
	// CodeOwnerRestricted (403): the credential is restricted to one owner's tokens, and the
	// call concerns another owner (a token created for it) or every owner (audit, evidence).
	CodeOwnerRestricted = "owner_restricted"
	// CodeNotFound (404): no such token, credential, deletion request or route.
	CodeNotFound = "not_found"
	// CodeMethodNotAllowed (405): the route exists for other methods.
	CodeMethodNotAllowed = "method_not_allowed"
	// CodeBodyTooLarge (413): the request body is over the service's limit.
	CodeBodyTooLarge = "body_too_large"
	// CodeUnsupportedMediaType (415): the body is not in a content type the route reads.
	CodeUnsupportedMediaType = "unsupported_media_type"
	// CodeTooManyFailedAttempts (429): the source address failed authentication too often;
	// retrying only pushes its Retry-After further out.
	CodeTooManyFailedAttempts = "too_many_failed_attempts"
	// CodeInternal (500): an unexpected failure; the server log has the details.
	CodeInternal = "internal"
	// CodeUnavailable (503): the database or the audit log cannot be reached now; retry later.
	CodeUnavailable = "unavailable"
	// CodeNotReady (503): the readiness probe's database check failed.
	CodeNotReady = "not_ready"
	// CodeStorageFull (507): the database has no room for the write; nothing was changed.
	CodeStorageFull = "storage_full"

	// CodeNameTaken (409): the owner already has a token of that name.
	CodeNameTaken = "name_taken"
	// CodeIdempotencyKeyReused (409): the Idempotency-Key was used for a different request.
	CodeIdempotencyKeyReused = "idempotency_key_reused"
	// CodeTokenExpired (409): the token has expired; it cannot be rotated or renewed.
	CodeTokenExpired = "token_expired"
	// CodeTokenRevoked (409): the token is revoked; it cannot be changed.
	CodeTokenRevoked = "token_revoked"
	// CodeCannotRevokeSelf (409): a credential may not revoke itself.
	CodeCannotRevokeSelf = "cannot_revoke_self"
	// CodeRotationOverlapRunning (409): the previous rotation's overlap has not ended.
	CodeRotationOverlapRunning = "rotation_overlap_running"
	// CodeCredentialRevoked (409): the credential is revoked; it cannot be rotated.
	CodeCredentialRevoked = "credential_revoked" //nolint:gosec // G101: an error code, not a credential
	// CodeCredentialOverlapRunning (409): the previous rotation's overlap of the credential
	// has not ended.
	CodeCredentialOverlapRunning = "credential_overlap_running" //nolint:gosec // G101: an error code, not a credential
	// CodeRenewalReviewUsed (409): the renewal's review already approved an earlier renewal
	// of the token.
	CodeRenewalReviewUsed = "renewal_review_used"
	// CodeAnswerErased (410): a replayed idempotent answer held a data subject that a
	// deletion request erased.
	CodeAnswerErased = "answer_erased"

	// CodeReviewerIsOwner (422): a renewal's reviewer is the token's owner.
	CodeReviewerIsOwner = "reviewer_is_owner"
	// CodeTTLExceedsMax (422): the ttl is above the service's maximum.
	CodeTTLExceedsMax = "ttl_exceeds_max"
	// CodePolicyViolation (422): the policy gate refused the request; ErrorBody.Findings
	// holds the findings.
	CodePolicyViolation = "policy_violation"
)

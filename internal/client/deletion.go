package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// CreateDeletionRequest sends a deletion request. It revokes every token bound to the
// subject and stores the evidence in one transaction (201), or with DryRun only reports what
// it would do (200). The Idempotency-Key makes a retry return the first result instead of
// recording the request twice.
func (c *Client) CreateDeletionRequest(ctx context.Context, req wire.DeletionRequest, idempotencyKey string) (wire.DeletionResult, error) {
	var out wire.DeletionResult
	err := c.do(ctx, http.MethodPost, "/v1/deletion-requests", nil, req, &out, keyOrNew(idempotencyKey))
	return out, err
}

// GetDeletionRequest reads the evidence of a deletion request; ErrNotFound when there is
// none (never made, or purged after its retention).
func (c *Client) GetDeletionRequest(ctx context.Context, id string) (wire.DeletionEvidence, error) {
	var out wire.DeletionEvidence
	err := c.do(ctx, http.MethodGet, "/v1/deletion-requests/"+url.PathEscape(id), nil, nil, &out, "")
	return out, err
}

// ErasedSubjects returns every data subject with a pending or complete deletion request still
// within retention, sorted: the data.tokenguard.erased_subjects the policy gates need for
// CPRA-DEL-001. The answer is personal data: keep it out of logs and state.
func (c *Client) ErasedSubjects(ctx context.Context) ([]string, error) {
	var out wire.ErasedSubjects
	if err := c.do(ctx, http.MethodGet, "/v1/deletion-requests/erased-subjects", nil, nil, &out, ""); err != nil {
		return nil, err
	}
	if out.ErasedSubjects == nil {
		out.ErasedSubjects = []string{}
	}
	return out.ErasedSubjects, nil
}

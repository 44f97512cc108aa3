package client

import (
	"context"
	"net/http"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// CreateAccessRequest answers an access request for a data subject. It is audited; a retry
// records a second request and answers the same.
func (c *Client) CreateAccessRequest(ctx context.Context, req wire.AccessRequest) (wire.AccessAnswer, error) {
	var out wire.AccessAnswer
	err := c.do(ctx, http.MethodPost, "/v1/access-requests", nil, req, &out, "")
	return out, err
}

// IssueEvidence records the manifest digest of an evidence pack in the audit chain (POST
// /v1/evidence-packs) and returns the evidence.issued record. A retry records it again: two
// records of one digest are harmless, the pack cites one.
func (c *Client) IssueEvidence(ctx context.Context, req wire.EvidenceIssueRequest) (wire.EvidenceIssued, error) {
	var out wire.EvidenceIssued
	err := c.do(ctx, http.MethodPost, "/v1/evidence-packs", nil, req, &out, "")
	return out, err
}

package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// ListDeletionEvidence reads a page of deletion-request evidence records (limit 0: 100).
func (c *Client) ListDeletionEvidence(ctx context.Context, pageToken string, limit int) (wire.DeletionEvidenceList, error) {
	q := url.Values{}
	if pageToken != "" {
		q.Set("page_token", pageToken)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out wire.DeletionEvidenceList
	err := c.do(ctx, http.MethodGet, "/v1/deletion-requests", q, nil, &out, "")
	return out, err
}

// ListRenewals reads the renewals recorded after the audit record after.
func (c *Client) ListRenewals(ctx context.Context, after int64) (wire.RenewalPage, error) {
	q := url.Values{}
	if after > 0 {
		q.Set("after", strconv.FormatInt(after, 10))
	}
	var out wire.RenewalPage
	err := c.do(ctx, http.MethodGet, "/v1/renewals", q, nil, &out, "")
	return out, err
}

// Policy reads the policy gate in force.
func (c *Client) Policy(ctx context.Context) (wire.PolicyInForce, error) {
	var out wire.PolicyInForce
	err := c.do(ctx, http.MethodGet, "/v1/policy", nil, nil, &out, "")
	return out, err
}

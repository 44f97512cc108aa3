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

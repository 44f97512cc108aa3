package provider

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
)

// This file holds the diagnostics that every Terraform type of the provider reports for
// errors of the token service.

// isNameTaken reports whether err is the service's refusal of a name the owner's token that
// is not revoked already holds.
func isNameTaken(err error) bool {
	var re *client.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusConflict && re.Code == "name_taken"
}

// addClientError reports a client error without its request body (no secret ever reaches a
// diagnostic): the service's status, code, field and message, and what to do next.
func addClientError(diags *diag.Diagnostics, summary, doing string, err error) {
	var re *client.ResponseError
	if errors.As(err, &re) {
		detail := fmt.Sprintf("The token service refused %s: HTTP %d", doing, re.StatusCode)
		if re.Code != "" {
			detail += " (" + re.Code + ")"
		}
		if re.Message != "" {
			detail += ": " + re.Message
		}
		if p, ok := attributePath(re.Field); ok {
			diags.AddAttributeError(p, summary, detail+". Fix the "+re.Field+" attribute and apply again.")
			return
		}
		diags.AddError(summary, detail+". Correct the configuration or the credential and apply again.")
		return
	}
	diags.AddError(summary, "Error "+doing+": "+err.Error()+". Check that the token service is reachable at the provider's endpoint and apply again.")
}

// attributePath maps a field named by the service ("ttl", "rotation.interval") to the
// resource attribute it comes from; ok is false for fields the resource does not have.
func attributePath(field string) (path.Path, bool) {
	parts := strings.Split(field, ".")
	switch parts[0] {
	case "name", "owner", "purpose", "scopes", "data_categories", "data_subjects", "audiences", "labels", "ttl":
		if len(parts) == 1 {
			return path.Root(parts[0]), true
		}
	case "rotation":
		if len(parts) == 2 && (parts[1] == "interval" || parts[1] == "overlap") {
			return path.Root("rotation").AtName(parts[1]), true
		}
	case "reason", "reviewed_by":
		if len(parts) == 1 {
			return path.Root("renewal").AtName(parts[0]), true
		}
	}
	return path.Empty(), false
}

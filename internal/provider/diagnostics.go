package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// This file holds the diagnostics that every Terraform type of the provider reports for
// errors of the token service.

// isNameTaken reports whether err is the service's refusal of a name the owner's token that
// is not revoked already holds.
func isNameTaken(err error) bool {
	var re *client.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusConflict && re.Code == wire.CodeNameTaken
}

// addClientError reports a client error without its request body (no secret ever reaches a
// diagnostic): the service's status, code, field and message, and what to do next.
func addClientError(diags *diag.Diagnostics, summary, doing string, err error) {
	var re *client.ResponseError
	if errors.As(err, &re) && !re.Transient() && re.StatusCode != http.StatusUnauthorized && re.StatusCode != http.StatusForbidden {
		if p, ok := attributePath(re.Field); ok {
			diags.AddAttributeError(p, summary, refusal(doing, re)+". Fix the "+re.Field+" attribute and apply again.")
			return
		}
	}
	diags.AddError(summary, clientErrorDetail(doing, err))
}

// clientErrorDetail says what went wrong in a call of the token service and what to do next,
// by kind: the credential refused (naming where it comes from), a transient failure (with how
// many attempts were made), or a refusal of the request itself.
func clientErrorDetail(doing string, err error) string {
	var re *client.ResponseError
	var te *client.TransportError
	switch {
	case errors.As(err, &re) && re.StatusCode == http.StatusUnauthorized:
		return statusText(re) + ": authentication failed " + doing + ". The token service did not accept the provider's " +
			"credential: it is wrong, revoked or rotated. Set " + envToken + " (or the provider's token attribute) to a valid " +
			"admin or issuer credential of the service at the provider's endpoint, and run Terraform again."
	case errors.As(err, &re) && re.StatusCode == http.StatusForbidden:
		return "Permission denied " + doing + ": the provider's credential (" + envToken + " or the provider's token attribute) " +
			"is valid but may not do this (" + statusText(re) + "). Use an admin credential, or one whose owner restriction " +
			"covers this token's owner, and run Terraform again."
	case errors.As(err, &re) && re.Transient():
		return fmt.Sprintf("Transient failure %s: the token service answered %s on each of %s. This is usually temporary: "+
			"run Terraform again later. The provider's retries and request_timeout settings control how long it keeps trying.",
			doing, statusText(re), attemptsText(re.Attempts))
	case errors.As(err, &re):
		return refusal(doing, re) + ". Correct the configuration and apply again."
	case errors.As(err, &te):
		what := "could not reach the token service"
		if te.Timeout {
			what = "got no answer from the token service within request_timeout"
		}
		return fmt.Sprintf("Transient failure %s: the provider %s at its endpoint on each of %s (%s). Check that the "+
			"service is reachable and running, then run Terraform again; raise request_timeout or retries for a slow service.",
			doing, what, attemptsText(te.Attempts), err.Error())
	}
	return "Error " + doing + ": " + err.Error() + ". Check that the token service is reachable at the provider's endpoint and apply again."
}

// refusal is "The token service refused <doing>: HTTP <status> (<code>): <message>".
func refusal(doing string, re *client.ResponseError) string {
	return "The token service refused " + doing + ": " + statusText(re)
}

// statusText is "HTTP <status> (<code>): <message>" of an API error, without its body.
func statusText(re *client.ResponseError) string {
	s := fmt.Sprintf("HTTP %d", re.StatusCode)
	if re.Code != "" {
		s += " (" + re.Code + ")"
	}
	if re.Message != "" {
		s += ": " + strings.TrimSuffix(re.Message, ".")
	}
	return s
}

func attemptsText(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return fmt.Sprintf("%d attempts", n)
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

// timeoutNote adds, to an operation that failed because its time limit ran out, an error that
// says so and what the service may still have done. Deferred by each lifecycle method.
func timeoutNote(ctx context.Context, diags *diag.Diagnostics, op string, limit time.Duration) {
	if !diags.HasError() || !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return
	}
	diags.AddError("Token "+strings.ToUpper(op[:1])+op[1:]+" Timed Out",
		"The "+op+" did not finish within timeouts."+op+" ("+limit.String()+"). The token service may still complete "+
			"it: run Terraform again, which refreshes the token (and takes over a token that an unfinished create issued), "+
			"or raise timeouts."+op+" for a slow service.")
}

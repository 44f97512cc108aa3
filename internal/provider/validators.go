package provider

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/token"
)

// purposeValidator rejects an empty, generic or too short purpose.
type purposeValidator struct{}

func (purposeValidator) Description(context.Context) string {
	return "purpose must be a specific sentence, not a generic word"
}
func (v purposeValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }
func (purposeValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if problem := token.PurposeProblem(req.ConfigValue.ValueString()); problem != "" {
		resp.Diagnostics.AddAttributeError(req.Path, "Purpose Not Specific",
			problem+" (CPRA-MIN-001). Example: \"Nightly export of invoice totals to the finance data warehouse\".")
	}
}

// durationValidator accepts a Go duration or whole days, optionally at most max.
type durationValidator struct {
	max time.Duration
}

func (v durationValidator) Description(context.Context) string {
	if v.max > 0 {
		return "a Go duration or whole days (\"30d\"), at most " + token.FormatDuration(v.max)
	}
	return "a Go duration or whole days (\"30d\")"
}
func (v durationValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }
func (v durationValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	d, err := token.ParseDuration(req.ConfigValue.ValueString())
	if err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Duration",
			err.Error()+". Use a Go duration such as \"12h\" or whole days such as \"30d\".")
		return
	}
	if v.max > 0 && d > v.max {
		resp.Diagnostics.AddAttributeError(req.Path, "Duration Above Maximum",
			req.Path.String()+" is "+req.ConfigValue.ValueString()+", longer than the maximum of "+token.FormatDuration(v.max)+
				". Choose a shorter value; a longer lifetime comes from a reviewed renewal, not from a longer ttl.")
	}
}

// categoryValidator accepts a category of the CPRA vocabulary.
type categoryValidator struct{}

func (categoryValidator) Description(context.Context) string {
	return "a CPRA data category: " + categoryList()
}
func (v categoryValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }
func (categoryValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if c := req.ConfigValue.ValueString(); !token.IsCategory(c) {
		resp.Diagnostics.AddAttributeError(req.Path, "Unknown Data Category",
			strconv.Quote(c)+" is not a CPRA data category. Use one of: "+categoryList()+".")
	}
}

// categoryList is the CPRA vocabulary as "`identifiers`, `customer_records`, …", built once:
// the framework asks the validator for its description at every validation of every element.
var categoryList = sync.OnceValue(func() string {
	all := append(slices.Clone(token.PersonalCategories), token.SensitiveCategories...)
	return "`" + strings.Join(all, "`, `") + "`"
})

// textValidator refuses at plan what the token service would change or refuse at apply:
// surrounding white space (the service trims it, so the stored value would differ from the
// configuration and every apply would plan again), control characters, bidirectional
// controls and U+FFFD (the service refuses them, see textProblem in internal/server). With
// noSpace, white space anywhere is refused (scopes are single words). With keepSpace,
// surrounding white space is allowed (label values are stored as given).
type textValidator struct {
	noSpace, keepSpace bool
}

func (v textValidator) Description(context.Context) string {
	switch {
	case v.noSpace:
		return "a single word without white space or control characters"
	case v.keepSpace:
		return "text without control or bidirectional-control characters"
	}
	return "text without surrounding white space, control or bidirectional-control characters"
}
func (v textValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }
func (v textValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	s := req.ConfigValue.ValueString()
	if problem := textProblem(s, v.noSpace, v.keepSpace); problem != "" {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Text", strconv.Quote(s)+": "+problem)
	}
}

// textProblem says what the token service would change or refuse in s, with what to do, or "".
func textProblem(s string, noSpace, keepSpace bool) string {
	switch {
	case strings.ContainsFunc(s, unicode.IsControl):
		return "it contains control characters (line breaks, tabs, escape sequences), which the token service refuses. Remove them."
	case strings.ContainsFunc(s, func(r rune) bool { return r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069 }):
		return "it contains bidirectional control characters (U+202A-U+202E, U+2066-U+2069), which make text display " +
			"differently from what it is; the token service refuses them. Remove them."
	case strings.ContainsRune(s, unicode.ReplacementChar):
		return "it contains U+FFFD, the mark of invalid UTF-8; the token service refuses it. Write the intended character."
	case noSpace && strings.ContainsFunc(s, unicode.IsSpace):
		return "it contains white space; scopes are single words such as \"invoices:read\". Remove the spaces."
	case !keepSpace && strings.TrimSpace(s) != s && strings.TrimSpace(s) != "":
		// A blank value is left to the rules that require one (CPRA-MIN-001, CPRA-MIN-004),
		// which say what it must hold.
		return "it has white space at its start or end, which the token service removes, so the stored value would never " +
			"match the configuration. Write it as " + strconv.Quote(strings.TrimSpace(s)) + "."
	}
	return ""
}

// recipientValidator accepts an age X25519 public key (age1…), parsed as the service parses it.
type recipientValidator struct{}

func (recipientValidator) Description(context.Context) string {
	return "an age X25519 public key (age1…), as printed by age-keygen"
}
func (v recipientValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}
func (recipientValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := token.ParseRecipient(req.ConfigValue.ValueString()); err != nil {
		// The error never repeats the value: it may be a pasted private key.
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Recipient", err.Error()+".")
	}
}

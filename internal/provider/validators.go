package provider

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

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

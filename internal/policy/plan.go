package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// ErrInvalidPlan is wrapped by every error that ReadPlan returns because the input is not a
// Terraform plan it can read (empty, not JSON, truncated, a state file, an unsupported format).
var ErrInvalidPlan = errors.New("invalid plan")

// planError is an input error: its message is one line that names the problem.
type planError struct{ msg string }

func (e *planError) Error() string { return e.msg }
func (e *planError) Unwrap() error { return ErrInvalidPlan }

func invalidf(format string, args ...any) error {
	return &planError{msg: fmt.Sprintf(format, args...)}
}

// Plan is the part of a Terraform plan (the JSON of `terraform show -json PLAN`) that the
// checker needs: token-like resource changes, root module outputs, the plan timestamp and the
// tokenguard provider configuration. Everything else is skipped while reading.
type Plan struct {
	FormatVersion    string
	TerraformVersion string
	// Timestamp is when Terraform produced the plan; nil for plans older than Terraform 1.5.
	Timestamp *time.Time
	// Changes are the token-like managed resource changes, in plan order.
	Changes []ResourceChange
	// Outputs are the root module outputs with the references of their expressions.
	Outputs []Output
	// ProviderEndpoints are the tokenguard provider configurations.
	ProviderEndpoints []ProviderEndpoint
	// ResourceChanges counts every resource change in the plan, token-like or not.
	ResourceChanges int
}

// ResourceChange is one token-like entry of resource_changes, exactly as Terraform wrote it.
// Before and After still hold sensitive values; Normalize strips them.
type ResourceChange struct {
	Address       string
	ModuleAddress string
	Mode          string
	Type          string
	Name          string
	ProviderName  string
	Actions       []string
	Before        any
	After         any
	AfterUnknown  any
	// BeforeSensitive and AfterSensitive mirror Before and After with true at sensitive values.
	BeforeSensitive any
	AfterSensitive  any

	// raw is the undecoded "change" object when the plan was read lazily (readPlan with
	// lazy set): decodeChange fills the fields above from it. Raw bytes hold no pointers,
	// so a large plan waiting to be evaluated costs the garbage collector almost nothing.
	raw json.RawMessage
}

// Output is a root module output and what its expression refers to.
type Output struct {
	Name       string   `json:"name"`
	Sensitive  bool     `json:"sensitive"`
	References []string `json:"references"`
}

// ProviderEndpoint is one configuration (default or aliased) of the tokenguard provider.
type ProviderEndpoint struct {
	Provider string `json:"provider"`
	Alias    string `json:"alias"`
	// Endpoint is the configured endpoint when it is a constant; nil when unset or computed.
	Endpoint *string `json:"endpoint"`
	// InsecureHTTP is the provider's insecure_http setting (an explicit opt-in to plain HTTP)
	// when it is a constant; policies decide from Endpoint whether plain HTTP is acceptable.
	InsecureHTTP bool `json:"insecure_http"`
}

// ReadPlan reads plan JSON from r with a streaming decoder. Only token-like resource changes
// are decoded in full; every other resource change is decoded one at a time and dropped, and
// sections the checker does not need (planned_values, prior_state, variables, ...) are
// skipped without being decoded into values. Errors caused by the input wrap ErrInvalidPlan.
func ReadPlan(r io.Reader) (*Plan, error) { return readPlan(r, false) }

// readPlan is ReadPlan; with lazy set, the change objects of token-like resource changes are
// kept as raw JSON, to be decoded with decodeChange (in parallel, by EvaluatePlan's workers).
func readPlan(r io.Reader, lazy bool) (*Plan, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, invalidf("input is empty: expected the JSON output of `terraform show -json PLAN`")
		}
		return nil, decodeError(dec, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, invalidf("input is not a Terraform plan: expected a JSON object, found %s", describeToken(tok))
	}
	p := &Plan{}
	var (
		hasFormat, hasPlanned, hasChanges, hasValues bool
		hasStateVersion, hasResources                bool
		cfg                                          configuration
	)
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, decodeError(dec, err)
		}
		key, _ := kt.(string)
		switch key {
		case "format_version":
			hasFormat = true
			if err := decodeString(dec, key, &p.FormatVersion); err != nil {
				return nil, err
			}
		case "terraform_version":
			if err := decodeString(dec, key, &p.TerraformVersion); err != nil {
				return nil, err
			}
		case "timestamp":
			var s string
			if err := decodeString(dec, key, &s); err != nil {
				return nil, err
			}
			if s != "" {
				t, err := time.Parse(time.RFC3339, s)
				if err != nil {
					return nil, invalidf("plan timestamp %q is not an RFC 3339 time", s)
				}
				p.Timestamp = &t
			}
		case "resource_changes":
			hasChanges = true
			if err := readResourceChanges(dec, p, lazy); err != nil {
				return nil, err
			}
		case "configuration":
			if err := dec.Decode(&cfg); err != nil {
				return nil, decodeError(dec, err)
			}
		case "planned_values":
			hasPlanned = true
			if err := skipValue(dec); err != nil {
				return nil, err
			}
		case "values":
			hasValues = true
			if err := skipValue(dec); err != nil {
				return nil, err
			}
		case "version":
			// A raw terraform.tfstate has a numeric top-level "version" (the state format).
			isNumber, err := skipNumber(dec)
			if err != nil {
				return nil, err
			}
			hasStateVersion = hasStateVersion || isNumber
		case "resources":
			hasResources = true
			if err := skipValue(dec); err != nil {
				return nil, err
			}
		default:
			if err := skipValue(dec); err != nil {
				return nil, err
			}
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, decodeError(dec, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, invalidf("input is not valid JSON: unexpected data after the plan object at byte %d", dec.InputOffset())
	}

	switch {
	case !hasPlanned && !hasChanges && (hasValues || hasStateVersion && hasResources):
		return nil, invalidf("input is a Terraform state file, not a plan: run `terraform plan -out=tfplan` and `terraform show -json tfplan`")
	case !hasPlanned && !hasChanges:
		return nil, invalidf("input is JSON but not a Terraform plan: it has no planned_values or resource_changes")
	case !hasFormat:
		return nil, invalidf("input is not a Terraform plan: format_version is missing")
	}
	major, _, _ := strings.Cut(p.FormatVersion, ".")
	if major != "0" && major != "1" {
		return nil, invalidf("unsupported plan format_version %q: tokenguard reads plan JSON format 1.x (and the 0.x format of Terraform 0.12 to 0.15)", p.FormatVersion)
	}
	p.Outputs = cfg.outputs()
	p.ProviderEndpoints = cfg.providerEndpoints()
	return p, nil
}

// rawResourceChange is one resource_changes element; change stays raw until the type is known
// to be token-like.
type rawResourceChange struct {
	Address       string          `json:"address"`
	ModuleAddress string          `json:"module_address"`
	Mode          string          `json:"mode"`
	Type          string          `json:"type"`
	Name          string          `json:"name"`
	ProviderName  string          `json:"provider_name"`
	Deposed       string          `json:"deposed"`
	Change        json.RawMessage `json:"change"`
}

type rawChange struct {
	Actions         []string `json:"actions"`
	Before          any      `json:"before"`
	After           any      `json:"after"`
	AfterUnknown    any      `json:"after_unknown"`
	BeforeSensitive any      `json:"before_sensitive"`
	AfterSensitive  any      `json:"after_sensitive"`
}

func readResourceChanges(dec *json.Decoder, p *Plan, lazy bool) error {
	tok, err := dec.Token()
	if err != nil {
		return decodeError(dec, err)
	}
	if tok == nil {
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return invalidf("plan resource_changes is %s, expected an array", describeToken(tok))
	}
	for dec.More() {
		var rc rawResourceChange
		if err := dec.Decode(&rc); err != nil {
			return decodeError(dec, err)
		}
		p.ResourceChanges++
		if rc.Mode != "" && rc.Mode != "managed" || rc.Deposed != "" || !IsTokenType(rc.Type) {
			continue
		}
		c := ResourceChange{
			Address: rc.Address, ModuleAddress: rc.ModuleAddress, Mode: rc.Mode, Type: rc.Type,
			Name: rc.Name, ProviderName: rc.ProviderName, raw: rc.Change,
		}
		if !lazy {
			if err := c.decodeChange(); err != nil {
				return err
			}
		}
		p.Changes = append(p.Changes, c)
	}
	if _, err := dec.Token(); err != nil { // closing bracket
		return decodeError(dec, err)
	}
	return nil
}

// decodeChange decodes the raw change object into Actions, Before, After and the unknown and
// sensitive marks, and drops the raw bytes. It does nothing when there are none.
func (rc *ResourceChange) decodeChange() error {
	if len(rc.raw) == 0 {
		return nil
	}
	var c rawChange
	d := json.NewDecoder(bytes.NewReader(rc.raw))
	d.UseNumber()
	if err := d.Decode(&c); err != nil {
		return invalidf("plan resource change %s: change is not an object: %v", rc.Address, err)
	}
	rc.Actions, rc.Before, rc.After, rc.AfterUnknown = c.Actions, c.Before, c.After, c.AfterUnknown
	rc.BeforeSensitive, rc.AfterSensitive = c.BeforeSensitive, c.AfterSensitive
	rc.raw = nil
	return nil
}

// skipValue consumes one JSON value. The decoder reads the value into its buffer and checks
// it without building anything: several times faster than walking it token by token, at the
// cost of holding the largest skipped section (planned_values, prior_state) in memory for a
// moment.
func skipValue(dec *json.Decoder) error {
	var skip struct{}
	if err := dec.Decode(&skip); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			return nil // a scalar or an array where the empty struct expected an object: consumed
		}
		return decodeError(dec, err)
	}
	return nil
}

// skipNumber consumes one JSON value and reports whether it was a number.
func skipNumber(dec *json.Decoder) (bool, error) {
	tok, err := dec.Token()
	if err != nil {
		return false, decodeError(dec, err)
	}
	if _, ok := tok.(json.Delim); ok {
		return false, skipRest(dec)
	}
	_, isNumber := tok.(json.Number)
	return isNumber, nil
}

func decodeString(dec *json.Decoder, key string, dst *string) error {
	tok, err := dec.Token()
	if err != nil {
		return decodeError(dec, err)
	}
	switch v := tok.(type) {
	case string:
		*dst = v
		return nil
	case nil:
		return nil
	case json.Delim:
		if err := skipRest(dec); err != nil {
			return err
		}
	}
	return invalidf("plan %s is %s, expected a string", key, describeToken(tok))
}

// skipRest consumes the remainder of an object or array whose opening token was already read.
func skipRest(dec *json.Decoder) error {
	depth := 1
	for depth > 0 {
		tok, err := dec.Token()
		if err != nil {
			return decodeError(dec, err)
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
	}
	return nil
}

func decodeError(dec *json.Decoder, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return invalidf("input is truncated: the JSON ends at byte %d before the plan is complete", dec.InputOffset())
	case errors.As(err, &syn):
		if syn.Offset <= 1 {
			return invalidf("input is not JSON: %v", syn)
		}
		return invalidf("input is not valid JSON: %v at byte %d", syn, syn.Offset)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "a value"
		}
		return invalidf("input is not a Terraform plan: %s is a JSON %s where a %s was expected", field, typ.Value, typ.Type)
	}
	return err
}

func describeToken(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		if v == '[' {
			return "an array"
		}
		return "an object"
	case string:
		return "a string"
	case json.Number, float64:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return "an unexpected value"
}

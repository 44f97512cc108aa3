package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"
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

	// moduleValues maps module outputs to their references (see moduleOutputs).
	moduleValues map[string][]string
	// rawOutputs are the root outputs with the references their expressions list.
	rawOutputs []Output
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

	// offset is where the change object starts in the plan (bytes from 0), for errors.
	offset int64

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

// ReadPlan reads plan JSON from r in one streaming pass. Only token-like resource changes are
// decoded; every other resource change, and every section the checker does not need
// (planned_values, prior_state, most of configuration, ...), is checked to be valid JSON and
// skipped without building any value. Errors caused by the input wrap ErrInvalidPlan.
func ReadPlan(r io.Reader) (*Plan, error) { return readPlan(r, false) }

// readPlan is ReadPlan; with lazy set, the change objects of token-like resource changes are
// kept as raw JSON, to be decoded with decodeChange (in parallel, by EvaluatePlan's workers).
func readPlan(r io.Reader, lazy bool) (*Plan, error) {
	r, err := checkEncoding(r)
	if err != nil {
		return nil, err
	}
	dec := newPlanDecoder(r)
	switch k := dec.PeekKind(); k {
	case '{':
	case kindInvalid:
		_, err := dec.ReadToken()
		if errors.Is(err, io.EOF) {
			return nil, invalidf("input is empty: expected the JSON output of `terraform show -json PLAN`")
		}
		return nil, jsonError(dec, err)
	default:
		return nil, invalidf("input is not a Terraform plan: expected a JSON object, found %s", describeKind(k))
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, jsonError(dec, err)
	}
	p := &Plan{}
	var (
		hasFormat, hasPlanned, hasChanges, hasValues bool
		hasStateVersion, hasResources                bool
		cfg                                          configuration
	)
	for {
		kt, err := dec.ReadToken()
		if err != nil {
			return nil, jsonError(dec, err)
		}
		if kt.Kind() == '}' {
			break
		}
		switch key := kt.String(); key {
		case "format_version":
			hasFormat = true
			err = named(readString(dec, &p.FormatVersion), "plan %s", key)
		case "terraform_version":
			err = named(readString(dec, &p.TerraformVersion), "plan %s", key)
		case "timestamp":
			var s string
			if err := readString(dec, &s); err != nil {
				return nil, named(err, "plan %s", key)
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
			err = readResourceChanges(dec, p, lazy)
		case "configuration":
			err = readConfiguration(dec, &cfg)
		case "planned_values":
			hasPlanned = true
			err = skipValue(dec)
		case "values":
			hasValues = true
			err = skipValue(dec)
		case "version":
			// A raw terraform.tfstate has a numeric top-level "version" (the state format).
			hasStateVersion = hasStateVersion || dec.PeekKind() == '0'
			err = skipValue(dec)
		case "resources":
			hasResources = true
			err = skipValue(dec)
		default:
			err = skipValue(dec)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := expectEnd(dec); err != nil {
		return nil, err
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
	p.moduleValues = map[string][]string{}
	moduleOutputs(cfg.RootModule.ModuleCalls, "", p.moduleValues, 0)
	p.rawOutputs = cfg.rawOutputs()
	p.ProviderEndpoints = cfg.providerEndpoints()
	return p, nil
}

// expectEnd checks that nothing but whitespace follows the plan object.
func expectEnd(dec *jsontext.Decoder) error {
	k := dec.PeekKind()
	if k == kindInvalid {
		if _, err := dec.ReadToken(); errors.Is(err, io.EOF) {
			return nil
		}
	}
	rest := dec.UnreadBuffer()
	ws := len(rest) - len(bytes.TrimLeft(rest, " \t\r\n"))
	return invalidf("input is not valid JSON: unexpected data after the plan object at byte %d", dec.InputOffset()+int64(ws))
}

// readResourceChanges reads the resource_changes array. The scalar members of each element
// (address, type, mode, ...) are read as they come; its change object is skipped as soon as
// the element is known not to be token-like, and otherwise kept as raw bytes until the whole
// element has been read (Terraform writes type before change, other writers may not).
func readResourceChanges(dec *jsontext.Decoder, p *Plan, lazy bool) error {
	switch k := dec.PeekKind(); k {
	case 'n':
		_, err := dec.ReadToken()
		return jsonErrorIf(dec, err)
	case '[':
	case kindInvalid:
		_, err := dec.ReadToken()
		return jsonError(dec, err)
	default:
		if err := skipValue(dec); err != nil {
			return err
		}
		return invalidf("plan resource_changes is %s, expected an array", describeKind(k))
	}
	if _, err := dec.ReadToken(); err != nil {
		return jsonError(dec, err)
	}
	var change []byte // the current element's change object, reused across elements
	for i := 0; ; i++ {
		switch k := dec.PeekKind(); k {
		case ']':
			_, err := dec.ReadToken()
			return jsonErrorIf(dec, err)
		case '{':
		case 'n': // a null element is an empty one: counted, never token-like
			if _, err := dec.ReadToken(); err != nil {
				return jsonError(dec, err)
			}
			p.ResourceChanges++
			continue
		case kindInvalid:
			_, err := dec.ReadToken()
			return jsonError(dec, err)
		default:
			if err := skipValue(dec); err != nil {
				return err
			}
			return invalidf("plan resource_changes[%d] is %s, expected an object", i, describeKind(k))
		}
		if _, err := dec.ReadToken(); err != nil {
			return jsonError(dec, err)
		}
		var (
			c         ResourceChange
			deposed   string
			hasChange bool
		)
		change = change[:0]
		for {
			kt, err := dec.ReadToken()
			if err != nil {
				return jsonError(dec, err)
			}
			if kt.Kind() == '}' {
				break
			}
			key := kt.String()
			switch key {
			case "address":
				err = readString(dec, &c.Address)
			case "module_address":
				err = readString(dec, &c.ModuleAddress)
			case "mode":
				err = readString(dec, &c.Mode)
			case "type":
				err = readString(dec, &c.Type)
			case "name":
				err = readString(dec, &c.Name)
			case "provider_name":
				err = readString(dec, &c.ProviderName)
			case "deposed":
				err = readString(dec, &deposed)
			case "change":
				if c.Type != "" && !tokenLike(c.Mode, c.Type, deposed) {
					hasChange = false
					err = skipValue(dec)
					break
				}
				var v jsontext.Value
				start := dec.InputOffset()
				if v, err = dec.ReadValue(); err != nil {
					return jsonError(dec, err)
				}
				// The value may follow white space: its first byte is len(v) before the end.
				c.offset = max(start, dec.InputOffset()-int64(len(v)))
				change, hasChange = append(change[:0], v...), true
			default:
				err = skipValue(dec)
			}
			if err != nil {
				return named(err, "plan resource_changes[%d].%s", i, key)
			}
		}
		p.ResourceChanges++
		if !tokenLike(c.Mode, c.Type, deposed) {
			continue
		}
		if hasChange {
			c.raw = bytes.Clone(change)
		}
		if !lazy {
			if err := c.decodeChange(); err != nil {
				return err
			}
		}
		p.Changes = append(p.Changes, c)
	}
}

// regenerateAdvice ends the errors about a plan whose structure Terraform never writes.
const regenerateAdvice = "Terraform never writes this: regenerate the plan with terraform show -json tfplan, or fix the tool that wrote it"

// tokenLike reports whether a resource change with this mode, type and deposed key is one the
// checker evaluates: a current (not deposed) managed resource of a token-like type.
func tokenLike(mode, typ, deposed string) bool {
	return (mode == "" || mode == "managed") && deposed == "" && IsTokenType(typ)
}

// readConfiguration reads the provider configurations and the root module outputs of the
// configuration section and skips the rest (resources, module calls, variables), which can
// be as large as resource_changes.
func readConfiguration(dec *jsontext.Decoder, cfg *configuration) error {
	return readMembers(dec, "plan configuration", func(name string) error {
		switch name {
		case "provider_config":
			return unmarshalSection(dec, "configuration.provider_config", &cfg.ProviderConfig)
		case "root_module":
			return readRootModule(dec, cfg)
		default:
			return skipValue(dec)
		}
	})
}

// readMembers reads an object (null: a missing section), calling member with each member's
// name while the decoder stands before its value; member must read or skip that value.
func readMembers(dec *jsontext.Decoder, what string, member func(name string) error) error {
	if ok, err := enterObject(dec, what); !ok {
		return err
	}
	for {
		kt, err := dec.ReadToken()
		if err != nil {
			return jsonError(dec, err)
		}
		if kt.Kind() == '}' {
			return nil
		}
		if err := member(kt.String()); err != nil {
			return err
		}
	}
}

// enterObject reads the opening brace of an object and reports true. For null it reports
// false and no error: a missing section. For any other value it reports false and an input
// error naming what.
func enterObject(dec *jsontext.Decoder, what string) (bool, error) {
	switch k := dec.PeekKind(); k {
	case '{':
		_, err := dec.ReadToken()
		return err == nil, jsonErrorIf(dec, err)
	case 'n':
		_, err := dec.ReadToken()
		return false, jsonErrorIf(dec, err)
	case kindInvalid:
		_, err := dec.ReadToken()
		return false, jsonError(dec, err)
	default:
		if err := skipValue(dec); err != nil {
			return false, err
		}
		return false, invalidf("%s is %s, expected an object", what, describeKind(k))
	}
}

func readRootModule(dec *jsontext.Decoder, cfg *configuration) error {
	return readMembers(dec, "plan configuration.root_module", func(name string) error {
		switch name {
		case "outputs":
			return unmarshalSection(dec, "configuration.root_module.outputs", &cfg.RootModule.Outputs)
		case "module_calls":
			return unmarshalSection(dec, "configuration.root_module.module_calls", &cfg.RootModule.ModuleCalls)
		}
		return skipValue(dec)
	})
}

// unmarshalSection reads the next value and decodes it into dst with encoding/json: used for
// the small parts of the plan that are read into structs.
func unmarshalSection(dec *jsontext.Decoder, section string, dst any) error {
	v, err := dec.ReadValue()
	if err != nil {
		return jsonError(dec, err)
	}
	if err := json.Unmarshal(v, dst); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			field := section
			if typ.Field != "" {
				field += "." + typ.Field
			}
			return invalidf("input is not a Terraform plan: %s is a JSON %s where %s was expected", field, typ.Value, describeGoType(typ.Type))
		}
		return invalidf("input is not a Terraform plan: %s: %v", section, err)
	}
	return nil
}

// describeGoType names the JSON that decodes into t.
func describeGoType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a " + t.String()
}

// decodeChange decodes the raw change object into Actions, Before, After and the unknown and
// sensitive marks, and drops the raw bytes. It does nothing when there are none.
func (rc *ResourceChange) decodeChange() error {
	if len(rc.raw) == 0 {
		return nil
	}
	d := changeDecoders.Get().(*changeDecoder)
	d.reset(rc.raw)
	defer func() {
		d.reset(nil)
		changeDecoders.Put(d)
	}()
	var c changeValues
	if err := c.decode(d); err != nil {
		var ce *changeError
		if errors.As(err, &ce) {
			return invalidf("plan resource change %s: %s at byte %d; %s", rc.Address, ce.msg, rc.offset+ce.at+1, regenerateAdvice)
		}
		var le *limitError
		if errors.As(err, &le) {
			return invalidf("plan resource change %s: %s, at byte %d: no token needs that many; if the plan is genuine, split the resource or report the case", rc.Address, le.msg, rc.offset+le.at+1)
		}
		return invalidf("plan resource change %s: change is not valid JSON: %v", rc.Address, describeSyntax(err))
	}
	rc.Actions, rc.Before, rc.After, rc.AfterUnknown = c.actions, c.before, c.after, c.afterUnknown
	rc.BeforeSensitive, rc.AfterSensitive = c.beforeSensitive, c.afterSensitive
	rc.raw = nil
	return nil
}

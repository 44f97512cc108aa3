package policy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// planDecoderOptions: a repeated member name is an error, as the token API refuses it (with
// the last value winning, "ttl":"30d","ttl":"400d" and the reverse got opposite verdicts);
// invalid UTF-8 in a string becomes U+FFFD, as in encoding/json, which Terraform's own
// tooling uses.
var planDecoderOptions = []jsontext.Options{jsontext.AllowDuplicateNames(false), jsontext.AllowInvalidUTF8(true)}

// kindInvalid is the kind jsontext.Decoder.PeekKind reports when the next token is an error
// (or the end of the input); ReadToken then returns that error.
const kindInvalid jsontext.Kind = 0

// readBufferSize is the size of the reads from a plan file or pipe. jsontext reads at most
// 4 KiB at a time; a plan of 150 MB would take 36,000 system calls at that size.
const readBufferSize = 1 << 20

func newPlanDecoder(r io.Reader) *jsontext.Decoder {
	switch r.(type) {
	case *bytes.Buffer, *bytes.Reader, *strings.Reader: // in memory already
	default:
		r = bufio.NewReaderSize(r, readBufferSize)
	}
	return jsontext.NewDecoder(r, planDecoderOptions...)
}

// changeDecoders reuses change decoders (and their buffers) across decodeChange calls.
var changeDecoders = sync.Pool{New: func() any {
	return &changeDecoder{dec: jsontext.NewDecoder(emptyReader, planDecoderOptions...)}
}}

// changeDecoder decodes change objects into Go values. members and elements are stacks of the
// values of the objects and arrays being decoded, so that each map and slice is made once at
// its final size.
type changeDecoder struct {
	dec      *jsontext.Decoder
	members  []member
	elements []any
	// names holds the member names seen so far, so that the same attribute name in thousands
	// of changes is one string, not one allocation each.
	names map[string]string
	// values counts the values decoded from the current change object (MaxChangeValues).
	values int
}

// Limits of one resource change, so that a plan cannot make the checker build values far
// larger than the plan (a token with three million scopes took 826 MB for a plan of 51 MB
// before; each decoded value costs tens of bytes more than its JSON, again as a policy
// value, and rules iterate over them). Real tokens hold a few dozen values; a change over a
// limit is an input error (exit 2) that names the limit. docs/security.md lists them.
const (
	// MaxListValues is the most elements one JSON array of a token-like resource change may
	// hold (a token's scopes, audiences, data categories, ...).
	MaxListValues = 10_000
	// MaxChangeValues is the most values (every string, number, boolean, null, object and
	// array, at any depth) one token-like resource change may hold, over its before, after,
	// after_unknown and sensitivity values together.
	MaxChangeValues = 25_000
)

// limitError is a change over MaxListValues or MaxChangeValues; at is where the offending
// value starts in the change object (bytes from 0).
type limitError struct {
	msg string
	at  int64
}

func (e *limitError) Error() string { return e.msg }

// Bounds of changeDecoder.names: names are attribute names, a few hundred in a plan.
const (
	maxInternedNames    = 4096
	maxInternedNameSize = 64
)

// name returns the member name of a raw JSON string the decoder has already checked.
func (d *changeDecoder) name(raw jsontext.Value) string {
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') >= 0 || !utf8.Valid(inner) {
		// Escapes to resolve, or invalid UTF-8 to replace with U+FFFD (the only error
		// AppendUnquote can report on a checked string; the result is complete regardless).
		b, _ := jsontext.AppendUnquote(nil, raw)
		return string(b)
	}
	if s, ok := d.names[string(inner)]; ok {
		return s
	}
	s := string(inner)
	if len(s) <= maxInternedNameSize && len(d.names) < maxInternedNames {
		if d.names == nil {
			d.names = map[string]string{}
		}
		d.names[s] = s
	}
	return s
}

type member struct {
	name  string
	value any
}

// reset points the decoder at raw (nil to drop the previous input).
func (d *changeDecoder) reset(raw []byte) {
	clear(d.members) // left over by a failed decode; they must not keep values alive
	clear(d.elements)
	d.members, d.elements = d.members[:0], d.elements[:0]
	d.values = 0
	if raw == nil {
		d.dec.Reset(emptyReader, planDecoderOptions...)
		return
	}
	d.dec.Reset(bytes.NewBuffer(raw), planDecoderOptions...)
}

// emptyReader is what a pooled decoder reads between uses.
var emptyReader = strings.NewReader("")

// skipValue consumes one JSON value, checking it is valid JSON without building anything. It
// reads token by token, so a large skipped section (planned_values, prior_state) is never held
// in memory as a whole.
func skipValue(dec *jsontext.Decoder) error {
	return jsonErrorIf(dec, dec.SkipValue())
}

// readString reads a string or null (which leaves dst unchanged). For any other value it
// skips the value and returns a *notStringError.
func readString(dec *jsontext.Decoder, dst *string) error {
	switch k := dec.PeekKind(); k {
	case '"':
		tok, err := dec.ReadToken()
		if err != nil {
			return jsonError(dec, err)
		}
		*dst = tok.String()
		return nil
	case 'n':
		_, err := dec.ReadToken()
		return jsonErrorIf(dec, err)
	case kindInvalid:
		_, err := dec.ReadToken()
		return jsonError(dec, err)
	default:
		if err := skipValue(dec); err != nil {
			return err
		}
		return &notStringError{kind: k}
	}
}

// notStringError is a value that should be a string and is not; the caller names the value
// with named.
type notStringError struct{ kind jsontext.Kind }

func (e *notStringError) Error() string { return describeKind(e.kind) + ", expected a string" }

// named turns a *notStringError into an input error naming the value (formatted lazily:
// readString is called for every member of every resource change); other errors pass.
func named(err error, format string, args ...any) error {
	var ns *notStringError
	if !errors.As(err, &ns) {
		return err
	}
	return invalidf("%s is %s", fmt.Sprintf(format, args...), ns.Error())
}

func jsonErrorIf(dec *jsontext.Decoder, err error) error {
	if err == nil {
		return nil
	}
	return jsonError(dec, err)
}

// jsonError turns an error of the plan decoder into an input error naming the problem and the
// byte where it is (counted from 1, like encoding/json's offsets). Errors of the reader itself
// are returned as the reader returned them.
func jsonError(dec *jsontext.Decoder, err error) error {
	var syn *jsontext.SyntacticError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return invalidf("input is truncated: the JSON ends at byte %d before the plan is complete", dec.InputOffset())
	case errors.As(err, &syn) && isDuplicateName(syn):
		name := syn.JSONPointer.LastToken()
		return invalidf("input is not a plan tokenguard accepts: duplicate object member name %q at byte %d (%s); a member name may appear once per object (the token API refuses repeats too): remove the repeated member, or regenerate the plan with terraform show -json", name, syn.ByteOffset+1, syn.JSONPointer)
	case errors.As(err, &syn):
		if syn.ByteOffset == 0 {
			return invalidf("input is not JSON: %s", describeSyntax(syn.Err))
		}
		return invalidf("input is not valid JSON: %s at byte %d", describeSyntax(syn.Err), syn.ByteOffset+1)
	}
	// An error of the reader, which jsontext wraps in "jsontext: read error: ...".
	if inner := errors.Unwrap(err); inner != nil {
		return inner
	}
	return err
}

// isDuplicateName reports whether a syntax error is a repeated member name.
func isDuplicateName(syn *jsontext.SyntacticError) bool {
	return errors.Is(syn.Err, jsontext.ErrDuplicateName)
}

// syntaxWording rewords jsontext's descriptions of where a character is wrong in the words of
// encoding/json, which earlier versions of the checker printed.
var syntaxWording = strings.NewReplacer(
	"in string (expecting non-control character)", "in string literal",
	"at start of value", "looking for beginning of value",
	"after object name (expecting ':')", "after object key",
	"after object value (expecting ',' or '}')", "after object key:value pair",
	"after array element (expecting ',' or ']')", "after array element",
	`at start of string (expecting '"')`, "looking for beginning of object key string",
	"in number (expecting digit)", "in numeric literal",
)

// describeSyntax is the one-line description of a syntax error, without jsontext's prefix,
// JSON pointer and offset (jsonError adds the offset).
func describeSyntax(err error) string {
	var syn *jsontext.SyntacticError
	if errors.As(err, &syn) {
		err = syn.Err
	}
	if err == nil {
		return "syntax error"
	}
	return syntaxWording.Replace(err.Error())
}

func describeKind(k jsontext.Kind) string {
	switch k {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case '0':
		return "a number"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "an unexpected value"
}

// changeError is a change object that is valid JSON but not the shape Terraform writes; at
// is where in the change object (bytes from 0).
type changeError struct {
	msg string
	at  int64
}

func (e *changeError) Error() string { return e.msg }

// changeValues are the members of a resource change's change object that the checker reads.
type changeValues struct {
	actions                         []string
	before, after, afterUnknown     any
	beforeSensitive, afterSensitive any
}

// decode reads one change object. Values are decoded as encoding/json decodes into any, with
// numbers as json.Number: objects are map[string]any, arrays []any.
func (c *changeValues) decode(d *changeDecoder) error {
	dec := d.dec
	switch k := dec.PeekKind(); k {
	case 'n':
		_, err := dec.ReadToken()
		return err
	case '{':
	case kindInvalid:
		_, err := dec.ReadToken()
		return err
	default:
		return &changeError{msg: "change is not an object: it is " + describeKind(k)}
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	hasActions := false
	for {
		kt, err := dec.ReadToken()
		if err != nil {
			return err
		}
		if kt.Kind() == '}' {
			if !hasActions {
				return &changeError{msg: "change has no actions", at: 0}
			}
			return nil
		}
		switch name := kt.String(); name {
		case "actions":
			hasActions = true
			err = c.decodeActions(dec)
		case "before":
			if err = expectObject(dec, name); err == nil {
				c.before, err = d.decodeAny()
			}
		case "after":
			if err = expectObject(dec, name); err == nil {
				c.after, err = d.decodeAny()
			}
		case "after_unknown":
			c.afterUnknown, err = d.decodeAny()
		case "before_sensitive":
			c.beforeSensitive, err = d.decodeAny()
		case "after_sensitive":
			c.afterSensitive, err = d.decodeAny()
		default:
			err = dec.SkipValue()
		}
		if err != nil {
			return err
		}
	}
}

// terraformActions are the change actions Terraform writes (plan JSON format 1.x; "forget"
// since Terraform 1.7).
var terraformActions = map[string]bool{"no-op": true, "create": true, "read": true, "update": true, "delete": true, "forget": true}

// decodeActions reads the actions list: a non-empty list of the actions Terraform writes.
// Anything else would leave the change unjudged, so it is an input error.
func (c *changeValues) decodeActions(dec *jsontext.Decoder) error {
	switch k := dec.PeekKind(); k {
	case '[':
	case kindInvalid:
		_, err := dec.ReadToken()
		return err
	default:
		return &changeError{msg: fmt.Sprintf("change actions is %s, expected a list of actions such as [\"create\"]", describeKind(k)), at: nextOffset(dec)}
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	c.actions = []string{}
	for {
		dec.PeekKind()
		at := nextOffset(dec)
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		switch tok.Kind() {
		case ']':
			if len(c.actions) == 0 {
				return &changeError{msg: "change actions is empty, expected at least one action", at: at}
			}
			return nil
		case '"':
			a := tok.String()
			if !terraformActions[a] {
				return &changeError{msg: fmt.Sprintf("change actions holds %q, which is not a Terraform action (no-op, create, read, update, delete, forget)", a), at: at}
			}
			c.actions = append(c.actions, a)
		default:
			return &changeError{msg: fmt.Sprintf("change actions holds %s, expected strings", describeKind(tok.Kind())), at: at}
		}
	}
}

// expectObject checks that the next value, the change's before or after, is an object or
// null: a resource's value is always an object.
func expectObject(dec *jsontext.Decoder, name string) error {
	switch k := dec.PeekKind(); k {
	case '{', 'n', kindInvalid:
		return nil
	default:
		return &changeError{msg: fmt.Sprintf("change %s is %s, expected an object (or null)", name, describeKind(k)), at: nextOffset(dec)}
	}
}

// decodeAny reads the next value as encoding/json decodes into any with UseNumber: objects
// are map[string]any, arrays []any, numbers json.Number. The decoder limits nesting, so the
// recursion is bounded.
func (d *changeDecoder) decodeAny() (any, error) {
	dec := d.dec
	if d.values++; d.values > MaxChangeValues {
		dec.PeekKind()
		return nil, &limitError{at: nextOffset(dec), msg: fmt.Sprintf(
			"the change holds more than %d values (the most tokenguard check reads of one resource change, so that a plan cannot exhaust its memory)", MaxChangeValues)}
	}
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, err
	}
	switch tok.Kind() {
	case 'n':
		return nil, nil
	case 'f':
		return false, nil
	case 't':
		return true, nil
	case '"':
		return tok.String(), nil
	case '0':
		return json.Number(tok.String()), nil
	case '{':
		start := len(d.members)
		for dec.PeekKind() != '}' {
			raw, err := dec.ReadValue()
			if err != nil {
				return nil, err
			}
			name := d.name(raw)
			v, err := d.decodeAny()
			if err != nil {
				return nil, err
			}
			d.members = append(d.members, member{name, v})
		}
		if _, err := dec.ReadToken(); err != nil {
			return nil, err
		}
		m := make(map[string]any, len(d.members)-start)
		for _, e := range d.members[start:] {
			m[e.name] = e.value
		}
		clear(d.members[start:]) // the stack must not keep values (secrets among them) alive
		d.members = d.members[:start]
		return m, nil
	case '[':
		start, at := len(d.elements), dec.InputOffset()-1 // where the '[' is
		for dec.PeekKind() != ']' {
			if len(d.elements)-start == MaxListValues {
				return nil, &limitError{at: at, msg: fmt.Sprintf(
					"a list holds more than %d values (the most tokenguard check reads in one list of a resource change, so that a plan cannot exhaust its memory)", MaxListValues)}
			}
			v, err := d.decodeAny()
			if err != nil {
				return nil, err
			}
			d.elements = append(d.elements, v)
		}
		if _, err := dec.ReadToken(); err != nil {
			return nil, err
		}
		l := make([]any, len(d.elements)-start)
		copy(l, d.elements[start:])
		clear(d.elements[start:])
		d.elements = d.elements[:start]
		return l, nil
	}
	return nil, fmt.Errorf("unexpected %v", tok.Kind())
}

// nextOffset is the offset of the next token, after PeekKind: InputOffset stands before the
// white space and separator (':' or ',') that precede it.
func nextOffset(dec *jsontext.Decoder) int64 {
	rest := dec.UnreadBuffer()
	return dec.InputOffset() + int64(len(rest)-len(bytes.TrimLeft(rest, " \t\r\n:,")))
}

// checkEncoding looks at the first bytes of the input and refuses UTF-16, UTF-32 and a UTF-8
// byte order mark with a message that says how to re-encode (Windows PowerShell 5 writes
// `terraform show -json tfplan > plan.json` as UTF-16). It returns a reader that still
// yields those bytes.
func checkEncoding(r io.Reader) (io.Reader, error) {
	var head []byte
	switch x := r.(type) {
	case *bytes.Buffer:
		head = x.Bytes()
	case io.ReadSeeker:
		buf := make([]byte, 4)
		n, _ := io.ReadFull(x, buf)
		if _, err := x.Seek(int64(-n), io.SeekCurrent); err != nil {
			return nil, err
		}
		head = buf[:n]
	default:
		br, ok := r.(*bufio.Reader)
		if !ok {
			br = bufio.NewReaderSize(r, readBufferSize)
		}
		var err error
		if head, err = br.Peek(4); err != nil && !errors.Is(err, io.EOF) {
			return nil, err // the reader's own failure (terraform show), as the decoder would report it
		}
		r = br
	}
	if enc := encodingOf(head); enc != "" {
		if enc == "UTF-8 with a byte order mark" {
			return nil, invalidf("input starts with a UTF-8 byte order mark, which JSON does not allow: save it as UTF-8 without one (PowerShell 7: terraform show -json tfplan | Out-File -Encoding utf8NoBOM plan.json)")
		}
		return nil, invalidf("input is %s, not UTF-8: re-encode it as UTF-8 (iconv -f UTF-16 -t UTF-8 plan.json > plan-utf8.json; PowerShell 7: terraform show -json tfplan | Out-File -Encoding utf8NoBOM plan.json), or pass the binary plan file and tokenguard runs terraform show itself", enc)
	}
	return r, nil
}

// encodingOf names the encoding of JSON that starts with head when it is not plain UTF-8: by
// its byte order mark, else by the pattern of NUL bytes around the first ASCII character
// (RFC 4627 section 3). "" means UTF-8, or too little input to tell.
func encodingOf(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte{0x00, 0x00, 0xFE, 0xFF}):
		return "UTF-32 (big-endian, with a byte order mark)"
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE, 0x00, 0x00}):
		return "UTF-32 (little-endian, with a byte order mark)"
	case bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		return "UTF-16 (big-endian, with a byte order mark)"
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}):
		return "UTF-16 (little-endian, with a byte order mark)"
	case bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}):
		return "UTF-8 with a byte order mark"
	}
	if len(head) >= 4 {
		switch {
		case head[0] == 0 && head[1] == 0 && head[2] == 0 && head[3] != 0:
			return "UTF-32 (big-endian)"
		case head[0] != 0 && head[1] == 0 && head[2] == 0 && head[3] == 0:
			return "UTF-32 (little-endian)"
		}
	}
	if len(head) >= 2 {
		switch {
		case head[0] == 0 && head[1] != 0:
			return "UTF-16 (big-endian)"
		case head[0] != 0 && head[1] == 0:
			return "UTF-16 (little-endian)"
		}
	}
	return ""
}

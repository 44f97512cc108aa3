package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// apiError is an error answered to the caller in the API's one error shape.
type apiError struct {
	status  int
	code    string
	message string
	field   string
}

func (e *apiError) Error() string {
	if e.field != "" {
		return fmt.Sprintf("%d %s (%s): %s", e.status, e.code, e.field, e.message)
	}
	return fmt.Sprintf("%d %s: %s", e.status, e.code, e.message)
}

// errInternal is what the caller sees of any unexpected failure; details go to the log.
var errInternal = &apiError{status: http.StatusInternalServerError, code: wire.CodeInternal,
	message: "internal error; the server log has the details"}

func invalid(field, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: wire.CodeInvalidRequest, field: field, message: fmt.Sprintf(format, args...)}
}

func unprocessable(code, field, format string, args ...any) *apiError {
	return &apiError{status: http.StatusUnprocessableEntity, code: code, field: field, message: fmt.Sprintf(format, args...)}
}

func conflict(code, field, format string, args ...any) *apiError {
	return &apiError{status: http.StatusConflict, code: code, field: field, message: fmt.Sprintf(format, args...)}
}

func notFound(what string) *apiError {
	return &apiError{status: http.StatusNotFound, code: wire.CodeNotFound, message: what + " not found"}
}

// writeJSON writes v as the JSON body with status. Responses are never cached: some hold secrets.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeError(w, errInternal)
		return
	}
	writeRaw(w, status, body)
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// oauthError is the error body of the OAuth endpoints (RFC 6749 section 5.2, which RFC 7662
// and RFC 7009 refer to): error is a string code, error_description the message.
type oauthError struct {
	Error           string `json:"error"`
	Description     string `json:"error_description,omitempty"`
	TokenguardCode  string `json:"tokenguard_code,omitempty"`
	TokenguardField string `json:"tokenguard_field,omitempty"`
}

// oauthErrorCode is the registered OAuth error code of an answer with status.
func oauthErrorCode(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "invalid_client"
	case http.StatusForbidden:
		return "insufficient_scope"
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return "temporarily_unavailable"
	case http.StatusInternalServerError:
		return "server_error"
	}
	return "invalid_request"
}

// writeErrorFor answers e in the shape r's route uses: the OAuth shape on the OAuth
// endpoints (clientAuthPatterns), whose clients expect error to be a string, the API's one
// error shape elsewhere. The OAuth shape keeps the API's code and field as extra members.
func writeErrorFor(w http.ResponseWriter, r *http.Request, e *apiError) {
	if !clientAuthPatterns[r.Pattern] {
		writeError(w, e)
		return
	}
	writeJSON(w, e.status, oauthError{Error: oauthErrorCode(e.status), Description: e.message, TokenguardCode: e.code, TokenguardField: e.field})
}

func writeError(w http.ResponseWriter, e *apiError) {
	var body wire.ErrorBody
	body.Error.Code = e.code
	body.Error.Message = e.message
	body.Error.Field = e.field
	writeJSON(w, e.status, body)
}

// readBody reads the whole request body, enforcing the size limit and the JSON content type.
// An empty body is allowed only when allowEmpty is set (it then reads as "{}").
func (s *Server) readBody(w http.ResponseWriter, r *http.Request, allowEmpty bool) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &apiError{status: http.StatusRequestEntityTooLarge, code: wire.CodeBodyTooLarge,
				message: fmt.Sprintf("request body is larger than %d bytes", s.maxBody)}
		}
		return nil, invalid("", "reading request body: connection error")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if allowEmpty {
			return []byte("{}"), nil
		}
		return nil, invalid("", "request body is empty: send a JSON object")
	}
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return nil, &apiError{status: http.StatusUnsupportedMediaType, code: wire.CodeUnsupportedMediaType,
			message: fmt.Sprintf("Content-Type %q is not supported: send application/json", ct)}
	}
	return body, nil
}

// decodeStrict decodes one JSON object from body into dst, rejecting unknown fields, wrong
// types and trailing data, with an error naming the field at fault.
func decodeStrict(body []byte, dst any) error {
	if !utf8.Valid(body) {
		return invalid("", "request body is not valid UTF-8")
	}
	if err := checkJSONShape(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return invalid("", "request body is not valid JSON (at byte %d): %s", syn.Offset, syn.Error())
		case errors.As(err, &typ):
			if typ.Field == "" {
				return invalid("", "request body must be a JSON object")
			}
			return invalid(typ.Field, "%s must be a JSON %s, not %s", typ.Field, jsonKind(typ.Type.Kind().String()), typ.Value)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return invalid("", "request body is truncated JSON")
		}
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			name = strings.Trim(name, `"`)
			return invalid(name, "unknown field %q: check the spelling against the API documentation", name)
		}
		return invalid("", "request body is not a valid JSON object")
	}
	if dec.More() {
		return invalid("", "request body has data after the JSON object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return invalid("", "request body has data after the JSON object")
	}
	return checkExactNames(body, dst)
}

// checkExactNames refuses a member name that encoding/json accepted only by folding it:
// encoding/json matches names without regard to case and folds "ſ" (U+017F) to "s" and "K"
// (U+212A) to "k", so `"ſcopes"` would be read as scopes while a proxy or WAF in front of the
// service reads it as an unknown member. The strict JSON v2 decoder matches names exactly;
// decoding body once more with it into a new value of dst's type finds such a name. The
// first decoding has already refused everything else (syntax, types, unknown names).
func checkExactNames(body []byte, dst any) error {
	fresh := reflect.New(reflect.TypeOf(dst).Elem()).Interface()
	// Invalid UTF-8 and unpaired surrogate escapes are decoded to U+FFFD as the first decoding
	// did, for the field validation to refuse them naming the field.
	err := jsonv2.Unmarshal(body, fresh, jsonv2.RejectUnknownMembers(true), jsontext.AllowInvalidUTF8(true))
	if err == nil {
		return nil
	}
	var se *jsonv2.SemanticError
	if errors.As(err, &se) && errors.Is(err, jsonv2.ErrUnknownName) {
		name := se.JSONPointer.LastToken()
		return invalid(name, "unknown field %q: field names are matched exactly (case-sensitive, no look-alike letters): check the spelling against the API documentation", name)
	}
	return invalid("", "request body is not a valid JSON object")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "slice", "array":
		return "array"
	case "map", "struct", "ptr":
		return "object"
	case "int", "int64", "float64":
		return "number"
	case "bool":
		return "boolean"
	}
	return goKind
}

// maxJSONDepth is the deepest nesting of arrays and objects a request body may have. No
// request of the API nests more than three levels.
const maxJSONDepth = 32

// jsonFrame is one open array or object while checkJSONShape walks a body.
type jsonFrame struct {
	object    bool
	exact     bool // keys are data (labels): only exact repeats are refused
	expectKey bool
	path      string // field path of this container, e.g. "rotation."
	lastKey   string
	keys      map[string]bool
}

// checkJSONShape refuses what encoding/json would quietly accept: a key twice in one object
// (json keeps the last, other parsers the first, so two components could read different
// requests), two keys differing only in case (json matches field names without regard to
// case), and nesting deeper than maxJSONDepth. The keys of the labels map are data, so
// there only exact repeats are refused. Syntax errors are left to the decoder, which reports
// them with their offset.
func checkJSONShape(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var stack []*jsonFrame
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].expectKey = true
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil //nolint:nilerr // io.EOF, or a syntax error that the decoder run next reports with its offset
		}
		top := (*jsonFrame)(nil)
		if n := len(stack); n > 0 {
			top = stack[n-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if len(stack) >= maxJSONDepth {
					return invalid("", "request body is nested more than %d levels deep", maxJSONDepth)
				}
				f := &jsonFrame{object: v == '{', expectKey: v == '{'}
				if top != nil {
					f.path = top.path
					if top.object {
						f.path += top.lastKey + "."
						f.exact = len(stack) == 1 && top.lastKey == "labels"
					}
				}
				if f.object {
					f.keys = map[string]bool{}
				}
				stack = append(stack, f)
			default: // '}' or ']'
				stack = stack[:len(stack)-1]
				valueDone()
			}
		case string:
			if top != nil && top.object && top.expectKey {
				k := v
				if !top.exact {
					k = strings.ToLower(v)
				}
				if top.keys[k] {
					if top.exact {
						return invalid(strings.TrimSuffix(top.path, "."), "key %q appears twice in %s: send each key once", v, strings.TrimSuffix(top.path, "."))
					}
					return invalid(top.path+k, "field %q appears twice in one JSON object (field names are matched without regard to case): send each field once", top.path+v)
				}
				top.keys[k] = true
				top.lastKey, top.expectKey = k, false
				continue
			}
			valueDone()
		default:
			valueDone()
		}
	}
}

// Retry-After values (seconds) of the fault answers: how long a caller should wait before
// sending the request again.
const (
	retryAfterUnavailable = 2  // the database is down or refuses connections
	retryAfterBusy        = 1  // a lock or statement timeout, or the request's deadline
	retryAfterStorageFull = 30 // the disk must be freed by an operator
)

// faultAnswer is the answer to a request that failed for err, a fault of the database or the
// end of the request's deadline, with its Retry-After in seconds; nil for any other error.
//
//   - store.ErrStorageFull: 507 storage_full (the write did not happen; nothing changed)
//   - store.ErrUnavailable, errVerifyLogFailing: 503 unavailable
//   - store.ErrBusy, context.DeadlineExceeded: 503 unavailable ("timeout" in the message)
func faultAnswer(err error) (*apiError, int) {
	switch {
	case errors.Is(err, errVerifyLogFailing):
		return &apiError{status: http.StatusServiceUnavailable, code: wire.CodeUnavailable,
			message: "the audit log cannot be written now, and no answer is given without its audit record: retry later"}, retryAfterUnavailable
	case errors.Is(err, store.ErrStorageFull):
		return &apiError{status: http.StatusInsufficientStorage, code: wire.CodeStorageFull,
			message: "the database has no room left for this write; nothing was changed: retry once an operator has freed space"}, retryAfterStorageFull
	case errors.Is(err, store.ErrUnavailable):
		return &apiError{status: http.StatusServiceUnavailable, code: wire.CodeUnavailable,
			message: "the database is unavailable: retry later (a request with an Idempotency-Key is safe to repeat)"}, retryAfterUnavailable
	case errors.Is(err, store.ErrBusy):
		return &apiError{status: http.StatusServiceUnavailable, code: wire.CodeUnavailable,
			message: "the database did not answer in time (lock or statement timeout); retry later"}, retryAfterBusy
	case errors.Is(err, context.DeadlineExceeded):
		return &apiError{status: http.StatusServiceUnavailable, code: wire.CodeUnavailable,
			message: "the request did not complete within the server's request timeout; retry later"}, retryAfterBusy
	}
	return nil, 0
}

// writeFault answers err as faultAnswer classifies it, with Retry-After; as the 500 errInternal
// when it is no fault.
func writeFault(w http.ResponseWriter, r *http.Request, err error) {
	ae, retryAfter := faultAnswer(err)
	if ae == nil {
		writeErrorFor(w, r, errInternal)
		return
	}
	w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	writeErrorFor(w, r, ae)
}

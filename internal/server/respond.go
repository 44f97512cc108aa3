package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
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
var errInternal = &apiError{status: http.StatusInternalServerError, code: "internal",
	message: "internal error; the server log has the details"}

func invalid(field, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "invalid_request", field: field, message: fmt.Sprintf(format, args...)}
}

func unprocessable(code, field, format string, args ...any) *apiError {
	return &apiError{status: http.StatusUnprocessableEntity, code: code, field: field, message: fmt.Sprintf(format, args...)}
}

func conflict(code, field, format string, args ...any) *apiError {
	return &apiError{status: http.StatusConflict, code: code, field: field, message: fmt.Sprintf(format, args...)}
}

func notFound(what string) *apiError {
	return &apiError{status: http.StatusNotFound, code: "not_found", message: what + " not found"}
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

func writeError(w http.ResponseWriter, e *apiError) {
	var body client.ErrorBody
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
			return nil, &apiError{status: http.StatusRequestEntityTooLarge, code: "body_too_large",
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
		return nil, &apiError{status: http.StatusUnsupportedMediaType, code: "unsupported_media_type",
			message: fmt.Sprintf("Content-Type %q is not supported: send application/json", ct)}
	}
	return body, nil
}

// decodeStrict decodes one JSON object from body into dst, rejecting unknown fields, wrong
// types and trailing data, with an error naming the field at fault.
func decodeStrict(body []byte, dst any) error {
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
	return nil
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

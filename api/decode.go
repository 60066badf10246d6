package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"

	"github.com/faasplatform/faas/domain"
)

// MaxBodyBytes caps a JSON request body (contract §3: over 1 MiB → 413).
const MaxBodyBytes = 1 << 20

// errBodyTooLarge is the answer to a body over MaxBodyBytes.
var errBodyTooLarge = domain.Errorf(domain.ErrPayloadTooLarge, "request body exceeds 1 MiB")

// decodeJSON reads r's body, at most MaxBodyBytes, into dst strictly: the
// body must be exactly one JSON object whose fields dst knows, with values of
// the right types, and nothing after it. Every failure is an
// invalid_input PublicError that says what is wrong (naming the field when
// there is one), or payload_too_large.
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	if r.ContentLength > MaxBodyBytes {
		return errBodyTooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errBodyTooLarge
		}
		return fmt.Errorf("read request body: %w: %w", domain.Invalid("could not read the request body"), err)
	}
	return decodeBytes(body, dst)
}

// decodeBytes is decodeJSON on a body already read.
func decodeBytes(body []byte, dst any) error {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return domain.Invalid("request body is empty: expected a JSON object")
	}
	if trimmed[0] != '{' {
		if json.Valid(trimmed) {
			return domain.Invalid("request body must be a JSON object")
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if err := dec.Decode(&json.RawMessage{}); !errors.Is(err, io.EOF) {
		return domain.Invalid("request body must hold a single JSON object: unexpected data after it")
	}
	return nil
}

// decodeError turns an encoding/json error into a caller-facing one.
func decodeError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return domain.Invalid("request body is not valid JSON: %s (at byte %d)", syn.Error(), syn.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return domain.Invalid("request body is not valid JSON: it ends too early")
	case errors.As(err, &typ):
		if typ.Field == "" {
			return domain.Invalid("request body must be a JSON object")
		}
		return domain.Invalid("field %q: expected %s, got %s", typ.Field, jsonKind(typ.Type), typ.Value)
	case strings.Contains(err.Error(), "unknown field "):
		_, name, _ := strings.Cut(err.Error(), "unknown field ")
		return domain.Invalid("unknown field %s", name)
	default:
		return fmt.Errorf("decode request body: %w: %w", domain.Invalid("request body is not a valid JSON object"), err)
	}
}

// jsonKind names what JSON value a Go type takes, for error messages.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "a different type"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "a " + t.Kind().String()
}

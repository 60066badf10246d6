package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/faasplatform/faas/domain"
	"github.com/faasplatform/faas/wire"
)

// Error codes of contract §3, plus nothing else: every error answer carries
// one of these.
// They are the wire package's, named here for the handler's code.
const (
	CodeInvalidInput       = wire.CodeInvalidInput
	CodeUnauthorized       = wire.CodeUnauthorized
	CodeForbidden          = wire.CodeForbidden
	CodeFunctionNotFound   = wire.CodeFunctionNotFound
	CodeExecutionNotFound  = wire.CodeExecutionNotFound
	CodeUserNotFound       = wire.CodeUserNotFound
	CodeObjectNotFound     = wire.CodeObjectNotFound
	CodeConflict           = wire.CodeConflict
	CodePayloadTooLarge    = wire.CodePayloadTooLarge
	CodeRateLimited        = wire.CodeRateLimited
	CodeExecutionTimeout   = wire.CodeExecutionTimeout
	CodeInternalError      = wire.CodeInternalError
	CodeUnavailable        = wire.CodeUnavailable
	genericInternalMessage = "internal error"
)

// errorKind is one row of the mapping from a domain sentinel to the answer.
type errorKind struct {
	sentinel error
	status   int
	code     string
	message  string // shown when the error carries no PublicError
}

// errorKinds is the single table from domain sentinels to HTTP answers. It is
// searched in order with errors.Is, after the Kind of a PublicError (which
// decides first, so that an error wrapping several sentinels answers as its
// public part says).
var errorKinds = []errorKind{
	{domain.ErrInvalidInput, http.StatusBadRequest, CodeInvalidInput, "invalid input"},
	{domain.ErrUnauthorized, http.StatusUnauthorized, CodeUnauthorized, "authentication required"},
	{domain.ErrForbidden, http.StatusForbidden, CodeForbidden, "forbidden"},
	{domain.ErrFunctionNotFound, http.StatusNotFound, CodeFunctionNotFound, "function not found"},
	{domain.ErrExecutionNotFound, http.StatusNotFound, CodeExecutionNotFound, "execution not found"},
	{domain.ErrUserNotFound, http.StatusNotFound, CodeUserNotFound, "user not found"},
	{domain.ErrObjectNotFound, http.StatusNotFound, CodeObjectNotFound, "object not found"},
	{domain.ErrConflict, http.StatusConflict, CodeConflict, "conflict with the current state"},
	{domain.ErrPayloadTooLarge, http.StatusRequestEntityTooLarge, CodePayloadTooLarge, "payload too large"},
	// 416 has no code of its own in the contract: the request is what is wrong.
	{domain.ErrRangeNotSatisfiable, http.StatusRequestedRangeNotSatisfiable, CodeInvalidInput, "range not satisfiable"},
	{domain.ErrRateLimited, http.StatusTooManyRequests, CodeRateLimited, "too many requests"},
	{domain.ErrExecutionTimeout, http.StatusInternalServerError, CodeExecutionTimeout, "execution timed out"},
	{domain.ErrUnavailable, http.StatusServiceUnavailable, CodeUnavailable, "service unavailable, try again later"},
}

// ErrorBody is the contract's error envelope:
// {"error": {"code": "...", "message": "..."}}.
type ErrorBody = wire.ErrorBody

// ErrorDetail is the inside of ErrorBody.
type ErrorDetail = wire.ErrorDetail

// Classify maps err to its HTTP status, contract code and caller-facing
// message. The message is the PublicError's when err has one and a generic
// text otherwise, so internal details never reach a response. Errors that
// match no sentinel are 500 internal_error.
func Classify(err error) (status int, code, message string) {
	var pe *domain.PublicError
	if errors.As(err, &pe) {
		for _, k := range errorKinds {
			if errors.Is(pe.Kind, k.sentinel) {
				return k.status, k.code, pe.Message
			}
		}
	}
	for _, k := range errorKinds {
		if errors.Is(err, k.sentinel) {
			return k.status, k.code, k.message
		}
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge, CodePayloadTooLarge, "request body exceeds 1 MiB"
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return http.StatusServiceUnavailable, CodeUnavailable, "the request was cancelled or timed out"
	}
	return http.StatusInternalServerError, CodeInternalError, genericInternalMessage
}

// ErrorForStatus is an error whose answer (WriteError) has status, for an
// answer that came without a body (e.g. from a proxied or extra route): the
// first sentinel of that status, except that 404 and 405 without a body are
// a route's, hence invalid_input as the contract says; any other 5xx is
// internal_error.
func ErrorForStatus(status int) error {
	text := strings.ToLower(http.StatusText(status))
	if status == http.StatusNotFound || status == http.StatusMethodNotAllowed {
		return domain.Invalid("%s", text)
	}
	for _, k := range errorKinds {
		if k.status == status {
			return domain.Errorf(k.sentinel, "%s", text)
		}
	}
	if status >= 500 {
		return fmt.Errorf("answer %d without a body", status)
	}
	return domain.Invalid("%s", text)
}

// WriteError answers err with its status and the error envelope (see
// Classify). Inside this package's handler it also hands err to the request
// log line; routes added through Deps.Extra may call it for the same answer
// shape.
func WriteError(w http.ResponseWriter, err error) {
	status, code, msg := Classify(err)
	if rec, ok := w.(*recorder); ok {
		rec.err = err
	}
	if status == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="faas"`)
	}
	WriteJSON(w, status, ErrorBody{Error: ErrorDetail{Code: code, Message: msg}})
}

// WriteJSON answers v as JSON with status. v is encoded before anything is
// written, so an encoding failure still becomes a clean 500. '<', '>' and
// '&' are not escaped: answers are JSON with nosniff, never HTML, and
// function output reads better as sent.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(v) // ends with a newline
	data := buf.Bytes()
	if err != nil {
		if rec, ok := w.(*recorder); ok {
			rec.err = err
		}
		status = http.StatusInternalServerError
		data = []byte(`{"error":{"code":"internal_error","message":"internal error"}}` + "\n")
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

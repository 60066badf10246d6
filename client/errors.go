package client

import (
	"errors"
	"fmt"
	"time"

	"github.com/faasplatform/faas/wire"
)

// Sentinels of the contract's error codes, for errors.Is on an *Error.
var (
	ErrInvalidInput    = errors.New("invalid input")
	ErrUnauthorized    = errors.New("unauthorized")
	ErrForbidden       = errors.New("forbidden")
	ErrNotFound        = errors.New("not found")
	ErrConflict        = errors.New("conflict")
	ErrPayloadTooLarge = errors.New("payload too large")
	ErrRateLimited     = errors.New("rate limited")
	ErrUnavailable     = errors.New("unavailable")
	ErrInternal        = errors.New("internal error")
)

// codeSentinels maps each code of contract §3 to its sentinel.
var codeSentinels = map[string]error{
	wire.CodeInvalidInput:      ErrInvalidInput,
	wire.CodeUnauthorized:      ErrUnauthorized,
	wire.CodeForbidden:         ErrForbidden,
	wire.CodeFunctionNotFound:  ErrNotFound,
	wire.CodeExecutionNotFound: ErrNotFound,
	wire.CodeUserNotFound:      ErrNotFound,
	wire.CodeObjectNotFound:    ErrNotFound,
	wire.CodeConflict:          ErrConflict,
	wire.CodePayloadTooLarge:   ErrPayloadTooLarge,
	wire.CodeRateLimited:       ErrRateLimited,
	wire.CodeUnavailable:       ErrUnavailable,
	wire.CodeInternalError:     ErrInternal,
	wire.CodeExecutionTimeout:  ErrInternal,
}

// Error is an error answer of the API: its HTTP status, the contract's code
// and message, and Retry-After when the server sent one.
type Error struct {
	Status     int
	Code       string
	Message    string
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("HTTP %d: %s", e.Status, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Is matches the sentinel of the error's code (or, for an answer without
// the envelope, of its status).
func (e *Error) Is(target error) bool {
	if s, ok := codeSentinels[e.Code]; ok {
		return s == target
	}
	return statusSentinel(e.Status) == target
}

func statusSentinel(status int) error {
	switch status {
	case 400, 405:
		return ErrInvalidInput
	case 401:
		return ErrUnauthorized
	case 403:
		return ErrForbidden
	case 404:
		return ErrNotFound
	case 409:
		return ErrConflict
	case 413:
		return ErrPayloadTooLarge
	case 429:
		return ErrRateLimited
	case 503:
		return ErrUnavailable
	default:
		return ErrInternal
	}
}

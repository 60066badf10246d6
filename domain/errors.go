package domain

import (
	"errors"
	"fmt"
)

// Sentinel errors. Adapters and services wrap them with context
// (fmt.Errorf("...: %w", ErrX)); the HTTP edge maps each one to the
// contract's error code and status in a single place.
var (
	ErrInvalidInput      = errors.New("invalid input")
	ErrUnauthorized      = errors.New("unauthorized")
	ErrForbidden         = errors.New("forbidden")
	ErrUserNotFound      = errors.New("user not found")
	ErrFunctionNotFound  = errors.New("function not found")
	ErrExecutionNotFound = errors.New("execution not found")
	ErrObjectNotFound    = errors.New("object not found")
	ErrConflict          = errors.New("conflict")
	ErrPayloadTooLarge   = errors.New("payload too large")
	ErrRateLimited       = errors.New("rate limited")
	ErrExecutionTimeout  = errors.New("execution timeout")
	ErrUnavailable       = errors.New("unavailable")
	// ErrRangeNotSatisfiable is a Range request that no byte of the object
	// satisfies (HTTP 416).
	ErrRangeNotSatisfiable = errors.New("range not satisfiable")
	// ErrImageNotFound is returned by a Runtime when the function's image is
	// not present on the machine; the execution ends failed, naming the image.
	ErrImageNotFound = errors.New("image not found")
)

// PublicError is an error whose Message is safe to show to the caller. The
// HTTP edge shows Message for a PublicError and a generic text otherwise, so
// that internal details (paths, addresses, secrets) never reach a response.
type PublicError struct {
	Kind    error  // one of the sentinels above
	Message string // human text for the caller
}

func (e *PublicError) Error() string { return e.Message }

// Unwrap lets errors.Is match the sentinel.
func (e *PublicError) Unwrap() error { return e.Kind }

// Errorf builds a PublicError of the given kind with a formatted message.
func Errorf(kind error, format string, args ...any) error {
	return &PublicError{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Invalid is shorthand for Errorf(ErrInvalidInput, ...).
func Invalid(format string, args ...any) error {
	return Errorf(ErrInvalidInput, format, args...)
}

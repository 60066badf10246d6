// Package service is the platform's application logic: what registering,
// logging in, deploying a function or starting an execution means, written
// against the domain ports and independent of HTTP, NATS and Docker. The API
// handler (standalone gateway and APISIX plugin alike) calls it; so may
// command-line tools. Every error wraps a domain sentinel, and errors meant
// for the caller are domain.PublicError values.
package service

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/faasplatform/faas/domain"
)

// Clock returns the current time. Services store times in UTC.
type Clock func() time.Time

func (c Clock) now() time.Time {
	if c == nil {
		return time.Now().UTC()
	}
	return c().UTC()
}

// newID returns a fresh UUIDv7: ids sort by creation time, which keeps
// listings and KV keys in a natural order.
func newID() (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("new id: %w", err)
	}
	return id.String(), nil
}

// publicize gives err a caller-facing message when it matches kind but
// carries none of its own (a store's plain wrapped sentinel), keeping err in
// the chain for the log. An error with a PublicError already is returned as
// it is.
func publicize(err, kind error, format string, args ...any) error {
	if err == nil || !errors.Is(err, kind) {
		return err
	}
	var pe *domain.PublicError
	if errors.As(err, &pe) {
		return err
	}
	return fmt.Errorf("%w: %w", domain.Errorf(kind, format, args...), err)
}

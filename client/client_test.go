package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestErrorMapping: an error answer becomes an *Error matching the sentinel
// of its code, with Retry-After; one without the envelope matches by status.
func TestErrorMapping(t *testing.T) {
	tests := []struct {
		status int
		body   string
		want   error
	}{
		{404, `{"error":{"code":"function_not_found","message":"function not found"}}`, ErrNotFound},
		{409, `{"error":{"code":"conflict","message":"taken"}}`, ErrConflict},
		{429, `{"error":{"code":"rate_limited","message":"slow down"}}`, ErrRateLimited},
		{502, `bad gateway`, ErrInternal},
		{401, ``, ErrUnauthorized},
	}
	for _, tt := range tests {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(tt.status)
			_, _ = w.Write([]byte(tt.body))
		}))
		c, err := New(srv.URL, WithToken("t"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.GetFunction(context.Background(), "x")
		srv.Close()
		var e *Error
		if !errors.As(err, &e) || !errors.Is(err, tt.want) || e.Status != tt.status || e.RetryAfter.Seconds() != 7 {
			t.Errorf("%d %s: %v, want an *Error matching %v with Retry-After 7s", tt.status, tt.body, err, tt.want)
		}
	}
	if _, err := New("ftp://x"); err == nil {
		t.Error("New accepted a non-http URL")
	}
}

package auth

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/faasplatform/faas/domain"
)

func TestExecutionTokenRoundTrip(t *testing.T) {
	et := NewExecutionTokens(testSecret)
	before := time.Now()
	tok, err := et.Issue("owner-1", "fn-1", "ex-1", 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	c, err := et.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.OwnerID != "owner-1" || c.FunctionID != "fn-1" || c.ExecutionID != "ex-1" {
		t.Errorf("claims %+v", c)
	}
	if d := c.ExpiresAt.Sub(before); d < 10*time.Minute-2*time.Second || d > 10*time.Minute+time.Second {
		t.Errorf("expires %v, want about 10 minutes after %v", c.ExpiresAt, before)
	}
}

func TestExecutionTokenIssueRefuses(t *testing.T) {
	et := NewExecutionTokens(testSecret)
	cases := []struct {
		name          string
		owner, fn, ex string
		ttl           time.Duration
	}{
		{"no owner", "", "f", "e", time.Minute},
		{"no function", "o", "", "e", time.Minute},
		{"no execution", "o", "f", "", time.Minute},
		{"zero ttl", "o", "f", "e", 0},
		{"ttl too long", "o", "f", "e", MaxExecutionTokenTTL + time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := et.Issue(tc.owner, tc.fn, tc.ex, tc.ttl); err == nil {
				t.Fatal("Issue succeeded")
			}
		})
	}
}

// TestExecutionTokenVerify refuses every token that is not a live execution
// token signed with the derived key, user tokens of the same secret first.
func TestExecutionTokenVerify(t *testing.T) {
	et := NewExecutionTokens(testSecret)
	now := time.Now()
	valid := executionClaims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: "o1", IssuedAt: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))},
		Kind: executionKind, FunctionID: "f1", ExecutionID: "e1",
	}
	with := func(f func(*executionClaims)) executionClaims {
		c := valid
		f(&c)
		return c
	}
	userTok, _, err := NewTokens(testSecret, time.Hour).Issue("o1", 0)
	if err != nil {
		t.Fatal(err)
	}
	noneTok := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid)
	cases := []struct {
		name  string
		token string
		ok    bool
	}{
		{"valid", sign(t, jwt.SigningMethodHS256, et.key, valid), true},
		{"user token of the same secret", userTok, false},
		{"execution claims signed with the raw secret", sign(t, jwt.SigningMethodHS256, testSecret, valid), false},
		{"other key", sign(t, jwt.SigningMethodHS256, NewExecutionTokens([]byte("another-secret-of-32-bytes-length")).key, valid), false},
		{"wrong kind", sign(t, jwt.SigningMethodHS256, et.key, with(func(c *executionClaims) { c.Kind = "user" })), false},
		{"no kind", sign(t, jwt.SigningMethodHS256, et.key, with(func(c *executionClaims) { c.Kind = "" })), false},
		{"expired", sign(t, jwt.SigningMethodHS256, et.key, with(func(c *executionClaims) {
			c.IssuedAt = jwt.NewNumericDate(now.Add(-2 * time.Hour))
			c.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Hour))
		})), false},
		{"no exp", sign(t, jwt.SigningMethodHS256, et.key, with(func(c *executionClaims) { c.ExpiresAt = nil })), false},
		{"alg none", noneTok, false},
		{"HS512 with the derived key", sign(t, jwt.SigningMethodHS512, et.key, valid), false},
		{"no function", sign(t, jwt.SigningMethodHS256, et.key, with(func(c *executionClaims) { c.FunctionID = "" })), false},
		{"no execution", sign(t, jwt.SigningMethodHS256, et.key, with(func(c *executionClaims) { c.ExecutionID = "" })), false},
		{"no owner", sign(t, jwt.SigningMethodHS256, et.key, with(func(c *executionClaims) { c.Subject = "" })), false},
		{"tampered function", func() string {
			parts := strings.Split(sign(t, jwt.SigningMethodHS256, et.key, valid), ".")
			other := strings.Split(sign(t, jwt.SigningMethodHS256, et.key, with(func(c *executionClaims) { c.FunctionID = "f2" })), ".")
			return parts[0] + "." + other[1] + "." + parts[2]
		}(), false},
		{"malformed", "a.b.c", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := et.Verify(tc.token)
			if tc.ok {
				if err != nil || c.FunctionID != "f1" || c.ExecutionID != "e1" || c.OwnerID != "o1" {
					t.Fatalf("Verify = %+v, %v", c, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Verify accepted the token: %+v", c)
			}
			var pe *domain.PublicError
			if !errors.Is(err, domain.ErrUnauthorized) || !errors.As(err, &pe) || pe.Message != invalidToken {
				t.Errorf("error %v: want ErrUnauthorized with %q", err, invalidToken)
			}
		})
	}
}

// TestUserTokensRefuseExecutionTokens: the other direction.
func TestUserTokensRefuseExecutionTokens(t *testing.T) {
	tok, err := NewExecutionTokens(testSecret).Issue("o1", "f1", "e1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := NewTokens(testSecret, time.Hour).Verify(tok); !errors.Is(err, domain.ErrUnauthorized) {
		t.Fatalf("a user token check accepted an execution token: %v", err)
	}
}

func TestExecutionTokenUsesClock(t *testing.T) {
	et := NewExecutionTokens(testSecret)
	tok, err := et.Issue("o", "f", "e", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	et.Now = func() time.Time { return time.Now().Add(2 * time.Minute) }
	if _, err := et.Verify(tok); !errors.Is(err, domain.ErrUnauthorized) {
		t.Fatalf("Verify after expiry = %v", err)
	}
}

// TestExecutionKey: a worker holding only the derived key issues tokens the
// gateway (holding the JWT secret) accepts.
func TestExecutionKey(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	worker := NewExecutionTokensWithKey(ExecutionKey(secret))
	tok, err := worker.Issue("owner", "fn", "ex", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewExecutionTokens(secret).Verify(tok)
	if err != nil || c.FunctionID != "fn" || c.ExecutionID != "ex" || c.OwnerID != "owner" {
		t.Fatalf("Verify = %+v, %v", c, err)
	}
	if _, _, err := NewTokens(secret, time.Hour).Verify(tok); err == nil {
		t.Fatal("an execution token passed as a user token")
	}
}

// TestLoadSecretCreatesNothing: LoadSecret reads the generated secret and
// never makes one.
func TestLoadSecretCreatesNothing(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadSecret(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("LoadSecret of an empty dir = %v, want fs.ErrNotExist", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("LoadSecret made %v", entries)
	}
	made, err := LoadOrCreateSecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := LoadSecret(dir)
	if err != nil || string(got) != string(made) {
		t.Fatalf("LoadSecret = %q, %v; want the generated secret", got, err)
	}
}

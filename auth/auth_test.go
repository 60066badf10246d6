package auth

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/faasplatform/faas/domain"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.Claims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

func TestIssueThenVerify(t *testing.T) {
	tk := NewTokens(testSecret, time.Hour)
	before := time.Now()
	tok, exp, err := tk.Issue("user-1", 3)
	if err != nil {
		t.Fatal(err)
	}
	if d := exp.Sub(before); d < time.Hour-2*time.Second || d > time.Hour+time.Second {
		t.Errorf("expiresAt %v is not about an hour after %v", exp, before)
	}
	got, gen, err := tk.Verify(tok)
	if err != nil || got != "user-1" || gen != 3 {
		t.Fatalf("Verify = %q, %d, %v; want user-1, 3, nil", got, gen, err)
	}

	// Claims: sub, iat, exp, jti, HS256 header.
	var c jwt.RegisteredClaims
	parsed, _, err := jwt.NewParser().ParseUnverified(tok, &c)
	if err != nil {
		t.Fatal(err)
	}
	if parsed.Method.Alg() != "HS256" || c.Subject != "user-1" || c.IssuedAt == nil || c.ExpiresAt == nil || c.ID == "" {
		t.Errorf("claims %+v alg %s: want HS256 with sub, iat, exp, jti", c, parsed.Method.Alg())
	}
	if !c.ExpiresAt.Time.Equal(exp) {
		t.Errorf("exp claim %v != expiresAt %v", c.ExpiresAt.Time, exp)
	}

	// Two tokens differ by jti even within one second.
	tok2, _, _ := tk.Issue("user-1", 3)
	if tok2 == tok {
		t.Error("two issued tokens are identical: jti missing?")
	}
}

func TestVerify(t *testing.T) {
	tk := NewTokens(testSecret, time.Hour)
	now := time.Now()
	valid := jwt.RegisteredClaims{
		Subject:   "u1",
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
	}
	with := func(f func(*jwt.RegisteredClaims)) jwt.RegisteredClaims {
		c := valid
		f(&c)
		return c
	}
	noneToken := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid)

	cases := []struct {
		name  string
		token string
		ok    bool
	}{
		{"valid", sign(t, jwt.SigningMethodHS256, testSecret, valid), true},
		{"expired", sign(t, jwt.SigningMethodHS256, testSecret, with(func(c *jwt.RegisteredClaims) {
			c.IssuedAt = jwt.NewNumericDate(now.Add(-2 * time.Hour))
			c.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Hour))
		})), false},
		{"wrong key", sign(t, jwt.SigningMethodHS256, []byte("another-secret-of-32-bytes-length"), valid), false},
		{"alg none", noneToken, false},
		{"alg none without signature", strings.TrimSuffix(noneToken, "."), false},
		{"HS512 with the same key", sign(t, jwt.SigningMethodHS512, testSecret, valid), false},
		{"HS384 with the same key", sign(t, jwt.SigningMethodHS384, testSecret, valid), false},
		{"malformed", "not.a.jwt", false},
		{"empty", "", false},
		{"missing exp", sign(t, jwt.SigningMethodHS256, testSecret, with(func(c *jwt.RegisteredClaims) { c.ExpiresAt = nil })), false},
		{"empty sub", sign(t, jwt.SigningMethodHS256, testSecret, with(func(c *jwt.RegisteredClaims) { c.Subject = "" })), false},
		{"issued in the future", sign(t, jwt.SigningMethodHS256, testSecret, with(func(c *jwt.RegisteredClaims) {
			c.IssuedAt = jwt.NewNumericDate(now.Add(30 * time.Minute))
		})), false},
		{"tampered payload", func() string {
			parts := strings.Split(sign(t, jwt.SigningMethodHS256, testSecret, valid), ".")
			other := strings.Split(sign(t, jwt.SigningMethodHS256, testSecret, with(func(c *jwt.RegisteredClaims) { c.Subject = "admin" })), ".")
			return parts[0] + "." + other[1] + "." + parts[2]
		}(), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sub, _, err := tk.Verify(tc.token)
			if tc.ok {
				if err != nil || sub != "u1" {
					t.Fatalf("Verify = %q, %v; want u1, nil", sub, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Verify accepted the token (sub %q)", sub)
			}
			if !errors.Is(err, domain.ErrUnauthorized) {
				t.Errorf("error %v does not wrap ErrUnauthorized", err)
			}
			var pe *domain.PublicError
			if !errors.As(err, &pe) || pe.Message != invalidToken {
				t.Errorf("public message = %v; want %q", pe, invalidToken)
			}
		})
	}
}

func TestVerifyUsesClock(t *testing.T) {
	tk := NewTokens(testSecret, time.Minute)
	tok, _, err := tk.Issue("u1", 0)
	if err != nil {
		t.Fatal(err)
	}
	tk.Now = func() time.Time { return time.Now().Add(2 * time.Minute) }
	if _, _, err := tk.Verify(tok); !errors.Is(err, domain.ErrUnauthorized) {
		t.Fatalf("Verify after expiry = %v; want ErrUnauthorized", err)
	}
}

func TestNewTokensRejectsShortSecret(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("NewTokens accepted a 3-byte secret")
		}
	}()
	NewTokens([]byte("abc"), time.Hour)
}

func TestPasswords(t *testing.T) {
	p := &Passwords{Cost: bcrypt.MinCost}
	h, err := p.HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(h, "correct horse") {
		t.Fatal("hash contains the password")
	}
	if cost, _ := bcrypt.Cost([]byte(h)); cost != bcrypt.MinCost {
		t.Errorf("cost %d; want %d", cost, bcrypt.MinCost)
	}
	cases := []struct {
		name, hash, password string
		want                 error // nil: match
	}{
		{"match", h, "correct horse", nil},
		{"mismatch", h, "wrong horse", domain.ErrUnauthorized},
		{"empty", h, "", domain.ErrUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := p.CheckPassword(tc.hash, tc.password)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("CheckPassword = %v; want %v", err, tc.want)
			}
		})
	}
	if err := p.CheckPassword("not-a-hash", "x"); err == nil || errors.Is(err, domain.ErrUnauthorized) {
		t.Errorf("CheckPassword on a broken hash = %v; want a non-auth error", err)
	}
	if err := p.CheckAbsent("anything"); !errors.Is(err, domain.ErrUnauthorized) {
		t.Errorf("CheckAbsent = %v; want ErrUnauthorized", err)
	}
	if _, err := p.HashPassword(strings.Repeat("x", 73)); err == nil {
		t.Error("HashPassword accepted 73 bytes")
	}
	if (&Passwords{}).cost() != bcrypt.DefaultCost {
		t.Error("zero Passwords does not use DefaultCost")
	}
}

func TestLoadOrCreateSecret(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s1, err := LoadOrCreateSecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(s1) != 64 {
		t.Fatalf("secret is %d bytes; want 64 hex characters", len(s1))
	}
	st, err := os.Stat(filepath.Join(dir, SecretFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode %v; want 0600", st.Mode().Perm())
	}
	if dst, _ := os.Stat(dir); dst.Mode().Perm() != 0o700 {
		t.Errorf("data dir mode %v; want 0700", dst.Mode().Perm())
	}
	s2, err := LoadOrCreateSecret(dir)
	if err != nil || string(s2) != string(s1) {
		t.Fatalf("second load = %q, %v; want the same secret", s2, err)
	}

	// An operator's own secret is used as written, minus whitespace.
	own := t.TempDir()
	if err := os.WriteFile(filepath.Join(own, SecretFile), []byte("  my-own-secret-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := LoadOrCreateSecret(own); err != nil || string(s) != "my-own-secret-0123456789" {
		t.Errorf("own secret = %q, %v", s, err)
	}

	// A too-short secret file is an error, not a weak key.
	short := t.TempDir()
	if err := os.WriteFile(filepath.Join(short, SecretFile), []byte("abc"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateSecret(short); err == nil {
		t.Error("a 3-byte secret file was accepted")
	}
}

func TestLoadOrCreateSecretConcurrent(t *testing.T) {
	dir := t.TempDir()
	const n = 16
	got := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := LoadOrCreateSecret(dir)
			if err != nil {
				t.Error(err)
			}
			got[i] = string(s)
		}()
	}
	wg.Wait()
	for i := 1; i < n; i++ {
		if got[i] != got[0] {
			t.Fatalf("concurrent loads disagree: %q vs %q", got[i], got[0])
		}
	}
}

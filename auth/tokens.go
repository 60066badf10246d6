package auth

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/faasplatform/faas/domain"
)

// MinSecretBytes is the shortest HMAC secret Tokens accepts; config applies
// the same bound to JWT_SECRET.
const MinSecretBytes = 16

// invalidToken is the one message a caller sees for any bad token, so that a
// response never tells an attacker which check failed.
const invalidToken = "invalid or expired token"

// Tokens issues and verifies the platform's access tokens: HS256 JWTs whose
// "sub" is the user id. Verification accepts HS256 only (no "none", no other
// HMAC width, no asymmetric algorithm) and requires "exp" and "sub", so a
// token minted with a different algorithm or without an expiry never passes.
type Tokens struct {
	secret []byte
	ttl    time.Duration
	// Now is the clock; tests may replace it. It must return UTC or local
	// time consistently; JWT times are Unix seconds either way.
	Now func() time.Time
}

// NewTokens returns Tokens signing with secret, each token valid for ttl.
// It panics on a secret shorter than MinSecretBytes or a non-positive ttl:
// both are programming or configuration errors caught at start.
func NewTokens(secret []byte, ttl time.Duration) *Tokens {
	if len(secret) < MinSecretBytes {
		panic(fmt.Sprintf("auth: JWT secret must be at least %d bytes", MinSecretBytes))
	}
	if ttl <= 0 {
		panic("auth: token lifetime must be positive")
	}
	return &Tokens{secret: append([]byte(nil), secret...), ttl: ttl, Now: time.Now}
}

// TTL is the lifetime of an issued token.
func (t *Tokens) TTL() time.Duration { return t.ttl }

// claims are a token's claims: the registered ones and the user's token
// generation at issue ("gen", absent for generation 0). A password change or
// a logout moves the user to the next generation, which revokes every token
// issued before.
type claims struct {
	jwt.RegisteredClaims
	Generation int `json:"gen,omitempty"`
}

// Issue mints a token for userID of its token generation, with claims sub,
// iat, exp, gen and a random jti. expiresAt is the token's "exp", truncated
// to whole seconds as in the token.
func (t *Tokens) Issue(userID string, generation int) (token string, expiresAt time.Time, err error) {
	if userID == "" {
		return "", time.Time{}, errors.New("issue token: empty user id")
	}
	jti, err := randomHex(16)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issue token: %w", err)
	}
	now := t.Now().UTC().Truncate(time.Second)
	expiresAt = now.Add(t.ttl)
	c := claims{RegisteredClaims: jwt.RegisteredClaims{
		Subject:   userID,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(expiresAt),
		ID:        jti,
	}, Generation: generation}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.secret)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issue token: sign: %w", err)
	}
	return signed, expiresAt, nil
}

// Verify checks token's signature (HS256 only), expiry (required), issue
// time (not in the future) and subject (required), and returns the user id
// and the token generation it was issued for.
// Every failure wraps domain.ErrUnauthorized and carries the same public
// message; the wrapped detail is for logs only.
func (t *Tokens) Verify(token string) (userID string, generation int, err error) {
	var c claims
	parsed, err := parseHS256(token, &c, t.secret, t.Now)
	if err != nil {
		return "", 0, unauthorized(fmt.Errorf("verify token: %w", err))
	}
	if !parsed.Valid {
		return "", 0, unauthorized(errors.New("verify token: not valid"))
	}
	if c.Subject == "" {
		return "", 0, unauthorized(errors.New("verify token: empty subject"))
	}
	if c.Generation < 0 {
		return "", 0, unauthorized(errors.New("verify token: negative generation"))
	}
	return c.Subject, c.Generation, nil
}

// parseHS256 parses token into c, accepting HS256 with key only and
// requiring an expiry and an issue time not in the future (by now).
func parseHS256(token string, c jwt.Claims, key []byte, now func() time.Time) (*jwt.Token, error) {
	return jwt.ParseWithClaims(token, c,
		func(*jwt.Token) (any, error) { return key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(now),
	)
}

// unauthorized wraps detail under the public "invalid or expired token"
// error, so errors.Is(err, domain.ErrUnauthorized) holds, errors.As finds the
// PublicError first, and err.Error() still tells the log what went wrong.
func unauthorized(detail error) error {
	return fmt.Errorf("%w: %w", domain.Errorf(domain.ErrUnauthorized, invalidToken), detail)
}

// randomHex returns n random bytes, hex-encoded.
func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	return hex.EncodeToString(b), nil
}

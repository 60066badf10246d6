package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// executionKeyLabel is the label of the execution token key's derivation
// from the JWT secret. Changing it revokes every execution token.
const executionKeyLabel = "faas execution token v1"

// executionKind is the "kind" claim of an execution token. User tokens carry
// none, so even a key mix-up could not make one pass for the other.
const executionKind = "execution"

// MaxExecutionTokenTTL bounds an execution token's lifetime: longer than a
// function's longest timeout (300 s) plus its retries' waits, far shorter
// than a user token.
const MaxExecutionTokenTTL = 24 * time.Hour

// ExecutionClaims is what an execution token (a function's FAAS_TOKEN)
// grants: access to FunctionID's objects on behalf of OwnerID while
// ExecutionID lasts, and never after ExpiresAt.
type ExecutionClaims struct {
	OwnerID     string
	FunctionID  string
	ExecutionID string
	ExpiresAt   time.Time
}

// ExecutionTokens issues and verifies execution tokens: HS256 JWTs signed
// with a key derived from the JWT secret (HMAC-SHA256(secret, label)), so
// a user token never verifies as an execution token nor the other way
// round, although one secret is configured. Verify alone does not know
// whether the execution has ended; the objects service checks that.
type ExecutionTokens struct {
	key []byte
	// Now is the clock; tests may replace it.
	Now func() time.Time
}

// NewExecutionTokens derives the execution token key from the JWT secret.
// It panics on a secret shorter than MinSecretBytes (a configuration error
// caught at start, as NewTokens does).
func NewExecutionTokens(secret []byte) *ExecutionTokens {
	return NewExecutionTokensWithKey(ExecutionKey(secret))
}

// ExecutionKey derives the execution token key from the JWT secret. Workers
// get this key alone (EXECUTION_KEY), never the JWT secret: a worker can
// mint execution tokens but no user token. It panics on a secret shorter
// than MinSecretBytes.
func ExecutionKey(secret []byte) []byte {
	if len(secret) < MinSecretBytes {
		panic(fmt.Sprintf("auth: JWT secret must be at least %d bytes", MinSecretBytes))
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(executionKeyLabel))
	return mac.Sum(nil)
}

// ExecutionKeyBytes is the length of an execution token key.
const ExecutionKeyBytes = sha256.Size

// NewExecutionTokensWithKey issues and verifies with key (ExecutionKey's);
// it panics on a key of another length.
func NewExecutionTokensWithKey(key []byte) *ExecutionTokens {
	if len(key) != ExecutionKeyBytes {
		panic(fmt.Sprintf("auth: an execution token key has %d bytes", ExecutionKeyBytes))
	}
	return &ExecutionTokens{key: append([]byte(nil), key...), Now: time.Now}
}

// executionClaims are the JWT claims of an execution token: sub is the
// owner, fid the function, eid the execution.
type executionClaims struct {
	jwt.RegisteredClaims
	Kind        string `json:"kind"`
	FunctionID  string `json:"fid"`
	ExecutionID string `json:"eid"`
}

// Issue mints an execution token for ownerID's execution executionID of
// function functionID, valid for ttl (at most MaxExecutionTokenTTL).
func (t *ExecutionTokens) Issue(ownerID, functionID, executionID string, ttl time.Duration) (string, error) {
	if ownerID == "" || functionID == "" || executionID == "" {
		return "", errors.New("issue execution token: owner, function and execution ids are required")
	}
	if ttl <= 0 || ttl > MaxExecutionTokenTTL {
		return "", fmt.Errorf("issue execution token: lifetime %v outside (0, %v]", ttl, MaxExecutionTokenTTL)
	}
	jti, err := randomHex(16)
	if err != nil {
		return "", fmt.Errorf("issue execution token: %w", err)
	}
	now := t.Now().UTC().Truncate(time.Second)
	c := executionClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   ownerID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
			ID:        jti,
		},
		Kind: executionKind, FunctionID: functionID, ExecutionID: executionID,
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.key)
	if err != nil {
		return "", fmt.Errorf("issue execution token: sign: %w", err)
	}
	return signed, nil
}

// Verify checks an execution token's signature (HS256 with the derived key
// only), expiry (required), issue time, kind and ids. Every failure wraps
// domain.ErrUnauthorized with the same public message as a bad user token.
func (t *ExecutionTokens) Verify(token string) (ExecutionClaims, error) {
	var c executionClaims
	parsed, err := parseHS256(token, &c, t.key, t.Now)
	if err != nil {
		return ExecutionClaims{}, unauthorized(fmt.Errorf("verify execution token: %w", err))
	}
	switch {
	case !parsed.Valid:
		return ExecutionClaims{}, unauthorized(errors.New("verify execution token: not valid"))
	case c.Kind != executionKind:
		return ExecutionClaims{}, unauthorized(fmt.Errorf("verify execution token: kind %q", c.Kind))
	case c.Subject == "" || c.FunctionID == "" || c.ExecutionID == "":
		return ExecutionClaims{}, unauthorized(errors.New("verify execution token: missing ids"))
	}
	return ExecutionClaims{OwnerID: c.Subject, FunctionID: c.FunctionID, ExecutionID: c.ExecutionID,
		ExpiresAt: c.ExpiresAt.Time}, nil
}

package auth

import (
	"errors"
	"fmt"
	"sync"

	"golang.org/x/crypto/bcrypt"

	"github.com/faasplatform/faas/domain"
)

// Passwords hashes and checks passwords with bcrypt at Cost. The zero value
// uses bcrypt.DefaultCost; tests set Cost to bcrypt.MinCost, since each step
// of cost doubles the time of every hash and check.
type Passwords struct {
	Cost int

	dummyOnce sync.Once
	dummy     []byte
	dummyErr  error
}

func (p *Passwords) cost() int {
	if p.Cost == 0 {
		return bcrypt.DefaultCost
	}
	return p.Cost
}

// HashPassword returns the bcrypt hash of password.
func (p *Passwords) HashPassword(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), p.cost())
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// CheckPassword reports whether password matches hash: nil on a match, an
// error wrapping domain.ErrUnauthorized on a mismatch, another error when
// the hash itself is unusable.
func (p *Passwords) CheckPassword(hash, password string) error {
	err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return fmt.Errorf("check password: %w", domain.ErrUnauthorized)
	default:
		return fmt.Errorf("check password: %w", err)
	}
}

// CheckAbsent spends the time of one CheckPassword at this cost and always
// fails. A login for an unknown user calls it so that its answer takes as
// long as a wrong password for a known one: the timing does not reveal
// which usernames exist.
func (p *Passwords) CheckAbsent(password string) error {
	p.dummyOnce.Do(func() {
		p.dummy, p.dummyErr = bcrypt.GenerateFromPassword([]byte("absent-user-dummy-password"), p.cost())
	})
	if p.dummyErr != nil {
		return fmt.Errorf("check password: dummy hash: %w", p.dummyErr)
	}
	_ = bcrypt.CompareHashAndPassword(p.dummy, []byte(password))
	return fmt.Errorf("check password: no such user: %w", domain.ErrUnauthorized)
}

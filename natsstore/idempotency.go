package natsstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/faasplatform/faas/domain"
)

// IdempotencyStore remembers, for IdempotencyTTL, which execution a user's
// Idempotency-Key made. Keys are hashed: whatever the client sends, the KV
// key is `<owner>.<sha256 hex>`.
type IdempotencyStore struct {
	kv *Bucket
}

// NewIdempotencyStore returns an IdempotencyStore on kv, the idempotency
// bucket from Setup.
func NewIdempotencyStore(kv *Bucket) *IdempotencyStore { return &IdempotencyStore{kv: kv} }

func idempotencyKey(owner, key string) string {
	sum := sha256.Sum256([]byte(key))
	return owner + "." + hex.EncodeToString(sum[:])
}

// Claim binds owner's key to r unless it is bound already; it returns the
// binding in force (r itself when it won) and whether it was r.
func (s *IdempotencyStore) Claim(ctx context.Context, owner, key string, r domain.IdempotencyRecord) (domain.IdempotencyRecord, bool, error) {
	if !validToken(owner) {
		return domain.IdempotencyRecord{}, false, fmt.Errorf("idempotency key: %w", domain.Invalid("invalid owner"))
	}
	k := idempotencyKey(owner, key)
	data, err := json.Marshal(r)
	if err != nil {
		return domain.IdempotencyRecord{}, false, fmt.Errorf("idempotency key: encode: %w", err)
	}
	for range 3 {
		if _, err := s.kv.Create(ctx, k, data); err == nil {
			return r, true, nil
		} else if !errors.Is(err, jetstream.ErrKeyExists) {
			return domain.IdempotencyRecord{}, false, fmt.Errorf("idempotency key: %w", err)
		}
		e, err := s.kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // expired meanwhile
		}
		if err != nil {
			return domain.IdempotencyRecord{}, false, fmt.Errorf("idempotency key: %w", err)
		}
		var cur domain.IdempotencyRecord
		if err := json.Unmarshal(e.Value(), &cur); err != nil {
			return domain.IdempotencyRecord{}, false, fmt.Errorf("idempotency key: decode: %w", err)
		}
		return cur, false, nil
	}
	return domain.IdempotencyRecord{}, false, fmt.Errorf("idempotency key: %w", domain.ErrConflict)
}

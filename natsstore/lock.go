package natsstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// Lock is a lease on a name in the locks bucket, so that of several
// processes running the same loop (the sweeper, an autoscaler) one acts at a
// time. The bucket forgets a key LockTTL after its last write: a holder that
// dies loses the lock by itself, and another takes it.
type Lock struct {
	kv     *Bucket
	name   string
	holder string
	rev    uint64
}

// NewLock returns holder's handle on the lock name in kv, the locks bucket.
func NewLock(kv *Bucket, name, holder string) *Lock {
	return &Lock{kv: kv, name: name, holder: holder}
}

// Hold takes or renews the lock and reports whether holder has it. Call it
// more often than LockTTL.
func (l *Lock) Hold(ctx context.Context) (bool, error) {
	if l.rev != 0 {
		rev, err := l.kv.Update(ctx, l.name, []byte(l.holder), l.rev)
		if err == nil {
			l.rev = rev
			return true, nil
		}
		l.rev = 0
		if !isRevisionConflict(err) && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return false, fmt.Errorf("renew lock %s: %w", l.name, err)
		}
	}
	rev, err := l.kv.Create(ctx, l.name, []byte(l.holder))
	switch {
	case err == nil:
		l.rev = rev
		return true, nil
	case errors.Is(err, jetstream.ErrKeyExists):
		e, gerr := l.kv.Get(ctx, l.name)
		if gerr == nil && string(e.Value()) == l.holder {
			l.rev = e.Revision() // ours, from before a restart of this handle
			return true, nil
		}
		return false, nil
	default:
		return false, fmt.Errorf("take lock %s: %w", l.name, err)
	}
}

// Release gives the lock up if holder has it.
func (l *Lock) Release(ctx context.Context) error {
	if l.rev == 0 {
		return nil
	}
	err := l.kv.Delete(ctx, l.name, jetstream.LastRevision(l.rev))
	l.rev = 0
	if err != nil && !isRevisionConflict(err) {
		return fmt.Errorf("release lock %s: %w", l.name, err)
	}
	return nil
}

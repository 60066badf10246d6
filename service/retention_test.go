package service

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/faasplatform/faas/domain"
)

// fakeEndedLog is an in-memory ended log: entries in order, Oldest and
// Forget as natsstore.EndedLog answers them.
type fakeEndedLog struct{ entries []domain.Ended }

func (l *fakeEndedLog) Oldest(_ context.Context, before time.Time, max int) ([]domain.Ended, error) {
	var out []domain.Ended
	for _, e := range l.entries {
		if e.At.After(before) || len(out) == max {
			break
		}
		out = append(out, e)
	}
	return out, nil
}

func (l *fakeEndedLog) Forget(_ context.Context, seq uint64) error {
	l.entries = slices.DeleteFunc(l.entries, func(e domain.Ended) bool { return e.Seq <= seq })
	return nil
}

// fakeExpirer records what it expired; fail and notEnded name ids it
// refuses.
type fakeExpirer struct {
	expired        []string
	fail, notEnded map[string]bool
}

func (x *fakeExpirer) Expire(_ context.Context, _, id string) error {
	switch {
	case x.fail[id]:
		return errors.New("nats: timeout")
	case x.notEnded[id]:
		return domain.Errorf(domain.ErrConflict, "not ended")
	}
	x.expired = append(x.expired, id)
	return nil
}

func TestRetentionPass(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	keep := time.Hour
	entry := func(seq uint64, id string, age time.Duration) domain.Ended {
		return domain.Ended{Seq: seq, Owner: "alice", ID: id, At: now.Add(-age)}
	}
	tests := []struct {
		name        string
		entries     []domain.Ended
		fail        map[string]bool
		notEnded    map[string]bool
		wantExpired []string
		wantLeft    []string
		wantErr     bool
	}{
		{name: "nothing due", entries: []domain.Ended{entry(1, "a", 59*time.Minute)}, wantLeft: []string{"a"}},
		{name: "due ones go, the rest stay", entries: []domain.Ended{entry(1, "a", 3*time.Hour), entry(2, "b", time.Hour), entry(3, "c", time.Minute)},
			wantExpired: []string{"a", "b"}, wantLeft: []string{"c"}},
		{name: "a failure stops the pass there", entries: []domain.Ended{entry(1, "a", 3*time.Hour), entry(2, "b", 2*time.Hour), entry(3, "c", 2*time.Hour)},
			fail: map[string]bool{"b": true}, wantExpired: []string{"a"}, wantLeft: []string{"b", "c"}, wantErr: true},
		{name: "one not ended is skipped, not retried forever", entries: []domain.Ended{entry(1, "a", 3*time.Hour), entry(2, "b", 2*time.Hour)},
			notEnded: map[string]bool{"a": true}, wantExpired: []string{"b"}},
		{name: "an entry not ours is forgotten", entries: []domain.Ended{{Seq: 1, At: now.Add(-2 * time.Hour)}, entry(2, "b", 2*time.Hour)},
			wantExpired: []string{"b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := &fakeEndedLog{entries: tt.entries}
			x := &fakeExpirer{fail: tt.fail, notEnded: tt.notEnded}
			r := &Retention{Keep: keep, Log: log, Store: x, Now: func() time.Time { return now }}
			_, err := r.Pass(context.Background())
			if (err != nil) != tt.wantErr {
				t.Fatalf("Pass error = %v, want error %v", err, tt.wantErr)
			}
			if !slices.Equal(x.expired, tt.wantExpired) {
				t.Fatalf("expired %v, want %v", x.expired, tt.wantExpired)
			}
			var left []string
			for _, e := range log.entries {
				left = append(left, e.ID)
			}
			if !slices.Equal(left, tt.wantLeft) {
				t.Fatalf("left in the log %v, want %v", left, tt.wantLeft)
			}
		})
	}
}

// TestRetentionPassBatches: more due entries than one batch are all handled
// in one pass.
func TestRetentionPassBatches(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	log := &fakeEndedLog{}
	for i := range 3*retentionBatch + 5 {
		log.entries = append(log.entries, domain.Ended{Seq: uint64(i + 1), Owner: "o", ID: "x", At: now.Add(-2 * time.Hour)})
	}
	x := &fakeExpirer{}
	n, err := (&Retention{Keep: time.Hour, Log: log, Store: x, Now: func() time.Time { return now }}).Pass(context.Background())
	if err != nil || n != 3*retentionBatch+5 || len(log.entries) != 0 {
		t.Fatalf("Pass = %d, %v; %d left; want all %d handled", n, err, len(log.entries), 3*retentionBatch+5)
	}
}

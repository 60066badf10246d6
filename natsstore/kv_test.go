package natsstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/faasplatform/faas/internal/eventually"
)

// TestLatestValuesDuringWrites lists keys while each of them is being
// rewritten: every list holds every key (the watcher's own end marker
// missed one in 7 lists here), and deleted or unmatched keys are left out.
func TestLatestValuesDuringWrites(t *testing.T) {
	env := newTestEnv(t)
	ctx := testContext(t)
	kv := env.b.Executions
	const n = 5
	var want []string
	for i := range n {
		key := fmt.Sprintf("o.k%d", i)
		want = append(want, key)
		if _, err := kv.Put(ctx, key, []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	for _, key := range []string{"o.gone", "other.k0"} {
		if _, err := kv.Put(ctx, key, []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if err := kv.Delete(ctx, "o.gone"); err != nil {
		t.Fatal(err)
	}

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	writing := make(chan struct{})
	go func() {
		defer close(writing)
		for i := 0; wctx.Err() == nil; i++ {
			_, _ = kv.Put(wctx, fmt.Sprintf("o.k%d", i%n), []byte("w"))
		}
	}()
	for round := range 300 {
		entries, err := latestValues(ctx, kv, "o.*")
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		var got []string
		for _, e := range entries {
			got = append(got, e.Key())
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: listed %v, want %v", round, got, want)
		}
	}
	cancel()
	<-writing

	for _, filter := range []string{"nobody.*", "o.gone"} {
		entries, err := latestValues(ctx, kv, filter)
		if err != nil || len(entries) != 0 {
			t.Errorf("latestValues(%q) = %d entries, %v; want none", filter, len(entries), err)
		}
	}
}

// TestLatestValuesAfterExpiry lists a bucket whose keys expire, as the
// worker registry's do: expired keys are not listed and the read does not
// wait for messages that are gone.
func TestLatestValuesAfterExpiry(t *testing.T) {
	env := newTestEnv(t)
	ctx := testContext(t)
	kv, err := env.js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "expiring", History: kvHistory, TTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	b := newBucket(env.js, kv)
	for _, key := range []string{"a", "b"} {
		if _, err := b.Put(ctx, key, []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	stream, err := env.js.Stream(ctx, "KV_expiring")
	if err != nil {
		t.Fatal(err)
	}
	eventually.NoError(t, 15*time.Second, func() error {
		info, err := stream.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs != 0 {
			return fmt.Errorf("%d messages of a and b left, want them expired", info.State.Msgs)
		}
		return nil
	})
	if _, err := b.Put(ctx, "c", []byte("v")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	entries, err := latestValues(ctx, b, jetstream.AllKeys)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Key() != "c" {
		t.Errorf("listed %d entries, want only c", len(entries))
	}
	// Generous for a loaded machine: a listing that waits for the expired
	// messages waits until ctx ends.
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("listing took %s", d)
	}
}

// TestValidToken: a key token the stores accept has only key-safe
// characters and is short enough that no key reaches the server's
// control-line limit (a longer one closes the connection for good).
func TestValidToken(t *testing.T) {
	cases := []struct {
		s  string
		ok bool
	}{
		{"0190b7d2-7c4e-7000-8000-000000000000", true},
		{"a_b=c", true},
		{strings.Repeat("a", maxTokenBytes), true},
		{strings.Repeat("a", maxTokenBytes+1), false},
		{strings.Repeat("a", 5000), false},
		{"", false},
		{"a.b", false},
		{"a/b", false},
		{"a*", false},
		{">", false},
		{"a b", false},
		{"a\x00", false},
	}
	for _, tc := range cases {
		if got := validToken(tc.s); got != tc.ok {
			t.Errorf("validToken(%.20q) = %v, want %v", tc.s, got, tc.ok)
		}
	}
}

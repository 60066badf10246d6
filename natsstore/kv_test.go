package natsstore

import (
	"context"
	"fmt"
	"slices"
	"testing"
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

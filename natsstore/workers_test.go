package natsstore

import (
	"testing"
	"time"
)

func TestWorkerRegistry(t *testing.T) {
	env := newTestEnv(t)
	ctx := testContext(t)
	r := NewWorkerRegistry(env.b.Workers)

	beat := time.Now().UTC().Truncate(time.Millisecond)
	workers := []WorkerInfo{
		{ID: "w-2", Address: "10.0.0.2", Status: "busy", ActiveExecutions: 3, MaxConcurrent: 10, LastHeartbeat: beat},
		{ID: "w-1", Address: "10.0.0.1", Status: "idle", MaxConcurrent: 10},
	}
	for _, w := range workers {
		if err := r.Put(ctx, w); err != nil {
			t.Fatalf("Put: %v", err)
		}
	}
	// A later heartbeat replaces the earlier one.
	workers[0].ActiveExecutions = 4
	if err := r.Put(ctx, workers[0]); err != nil {
		t.Fatal(err)
	}

	got, err := r.List(ctx)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(got) != 2 || got[0].ID != "w-1" || got[1].ID != "w-2" {
		t.Fatalf("List = %+v", got)
	}
	if got[1].ActiveExecutions != 4 || !got[1].LastHeartbeat.Equal(beat) || got[1].Address != "10.0.0.2" {
		t.Errorf("w-2 = %+v", got[1])
	}
	if got[0].LastHeartbeat.IsZero() {
		t.Error("zero LastHeartbeat not set on Put")
	}

	if err := r.Delete(ctx, "w-2"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := r.Delete(ctx, "never-there"); err != nil {
		t.Errorf("Delete of an unknown worker: %v", err)
	}
	got, err = r.List(ctx)
	if err != nil || len(got) != 1 || got[0].ID != "w-1" {
		t.Errorf("List after Delete = %+v, %v", got, err)
	}
	if err := r.Put(ctx, WorkerInfo{ID: "bad.id"}); err == nil {
		t.Error("Put with a dotted id: no error")
	}
}

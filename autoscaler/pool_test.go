package autoscaler

import (
	"context"
	"fmt"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/faasplatform/faas/internal/eventually"
)

// The pool runs real processes: `sleep` stands in for `faas worker`.
func TestPoolScaleAndLogsDeadWorker(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	var n atomic.Int64
	var lastCmd atomic.Pointer[exec.Cmd]
	p := NewPool(func(id string) *exec.Cmd {
		c := exec.Command("sleep", "30")
		lastCmd.Store(c)
		return c
	}, func() string { return fmt.Sprintf("w%d", n.Add(1)) }, zap.New(core))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p.Stop(ctx)
	})

	if err := p.Scale(3); err != nil {
		t.Fatal(err)
	}
	if got := p.Size(); got != 3 {
		t.Fatalf("size %d, want 3", got)
	}
	if err := p.Scale(1); err != nil {
		t.Fatal(err)
	}
	if got := p.Size(); got != 1 {
		t.Fatalf("size %d after scale down, want 1", got)
	}
	// Kill the remaining worker from outside: logged, not restarted.
	if err := p.Scale(2); err != nil {
		t.Fatal(err)
	}
	victim := lastCmd.Load()
	if err := victim.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	// The pool logs the death after it forgot the worker: once the log is
	// there, the size is final.
	eventually.True(t, 30*time.Second, func() bool { return logs.FilterMessage("worker died; not restarted").Len() > 0 },
		"dead worker not logged")
	if got := p.Size(); got != 1 {
		t.Fatalf("size %d after a worker died, want 1 (no silent restart)", got)
	}
	if logs.FilterMessage("worker died; not restarted").Len() != 1 {
		t.Fatalf("dead worker not logged: %v", logs.All())
	}
}

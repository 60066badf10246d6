package eventually

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// recorder is a testing.TB that records a Fatalf instead of stopping.
type recorder struct {
	testing.TB
	msg string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
}

func TestWithinReturnsOnceTheConditionHolds(t *testing.T) {
	var n atomic.Int32
	if !Within(10*time.Second, func() bool { return n.Add(1) == 3 }) {
		t.Fatal("Within gave up on a condition that held at the third check")
	}
	if n.Load() != 3 {
		t.Errorf("%d checks, want 3", n.Load())
	}
}

func TestWithinChecksOnceMoreAtTheDeadline(t *testing.T) {
	var n atomic.Int32
	if Within(0, func() bool { n.Add(1); return false }) {
		t.Fatal("Within(0) of a false condition returned true")
	}
	if n.Load() != 1 {
		t.Errorf("%d checks with no time, want 1", n.Load())
	}
	start := time.Now()
	if Within(50*time.Millisecond, func() bool { return false }) {
		t.Fatal("Within of a false condition returned true")
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("gave up after %v, before the timeout", d)
	}
}

func TestTrueNamesTheCondition(t *testing.T) {
	r := &recorder{TB: t}
	True(r, 20*time.Millisecond, func() bool { return false }, "worker %s never reported", "w1")
	if !strings.Contains(r.msg, "worker w1 never reported") || !strings.Contains(r.msg, "20ms") {
		t.Errorf("message %q", r.msg)
	}
	r.msg = ""
	True(r, time.Second, func() bool { return true }, "unused")
	if r.msg != "" {
		t.Errorf("True of a holding condition failed: %q", r.msg)
	}
}

func TestNoErrorReportsTheLastError(t *testing.T) {
	r := &recorder{TB: t}
	var n int
	NoError(r, 30*time.Millisecond, func() error { n++; return fmt.Errorf("status %d", n) })
	if want := fmt.Sprintf("status %d", n); !strings.HasPrefix(r.msg, want+" ") {
		t.Errorf("message %q, want it to start with the last error %q", r.msg, want)
	}
	r.msg = ""
	n = 0
	NoError(r, 10*time.Second, func() error {
		if n++; n < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if r.msg != "" || n != 3 {
		t.Errorf("NoError: message %q after %d calls, want none after 3", r.msg, n)
	}
}

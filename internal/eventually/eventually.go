// Package eventually waits for a condition in tests by polling it, instead of
// sleeping for a fixed time and hoping the awaited thing happened meanwhile.
//
// Prefer a real signal (a channel the code under test closes) when there is
// one; poll with this package when the state can only be observed from
// outside (a record's status, a container list, a log line). It is the one
// polling loop of the tests: do not write another.
//
// A condition runs on the calling goroutine, so it may call t.Fatal itself
// when what it sees can never turn good. Every check runs at least once, and
// one last check runs at the deadline, so a timeout only fails a condition
// that is still false then. Timeouts are upper bounds, not expectations:
// choose them generous (seconds), since a passing test returns as soon as the
// condition holds and only a failing one waits them out.
package eventually

import (
	"fmt"
	"testing"
	"time"
)

// Interval is the pause between two checks of a condition.
const Interval = 10 * time.Millisecond

// Within reports whether cond returned true within timeout, checking it every
// Interval. It is the building block of True and NoError, for callers that
// report a timeout their own way (t.Errorf, or a bool of their own).
func Within(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		time.Sleep(min(Interval, left))
	}
}

// True fails t with t.Fatalf unless cond returns true within timeout. The
// message is format and args (evaluated once, when True is called) followed
// by how long it waited; use NoError to report the state seen last.
func True(t testing.TB, timeout time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	if !Within(timeout, cond) {
		t.Fatalf("%s (still not so after %s)", fmt.Sprintf(format, args...), timeout)
	}
}

// NoError fails t with t.Fatalf unless f returns nil within timeout. The
// message is the last error f returned, so f should say what it saw: e.g.
// fmt.Errorf("status %q, want complete", x.Status).
func NoError(t testing.TB, timeout time.Duration, f func() error) {
	t.Helper()
	var last error
	if !Within(timeout, func() bool { last = f(); return last == nil }) {
		t.Fatalf("%v (still so after %s)", last, timeout)
	}
}

package autoscaler

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// seed is the seed's policy: 2 to 10 workers, up above 3 pending per
// worker, down below 2, 30 s cooldown.
var seed = Policy{Min: 2, Max: 10, Up: 3, Down: 2, Cooldown: 30 * time.Second}

var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

// pool builds workers w0, w1, ... with the given statuses (i idle, b busy,
// d draining, s starting).
func pool(states string) []WorkerLoad {
	var ws []WorkerLoad
	for i, c := range states {
		w := WorkerLoad{ID: fmt.Sprintf("w%d", i), Slots: 1}
		switch c {
		case 'i':
			w.Status = StatusIdle
		case 'b':
			w.Status, w.Active = StatusBusy, 1
		case 'd':
			w.Status = StatusDraining
		case 's':
			w.Status = StatusStarting
		}
		ws = append(ws, w)
	}
	return ws
}

func TestDecide(t *testing.T) {
	long := t0.Add(-time.Hour) // a last change well out of the cooldown
	cases := []struct {
		name    string
		in      Input
		target  int
		retire  []string
		changed bool
		defer_  bool
		reason  string
	}{
		{name: "load within thresholds holds",
			in:     Input{Pending: 6, Workers: pool("bb"), Desired: 2, LastChange: long},
			target: 2, reason: "within"},
		{name: "exactly the up threshold holds",
			in:     Input{Pending: 6, Workers: pool("bb"), Desired: 2},
			target: 2},
		{name: "above the up threshold grows for the backlog",
			in:     Input{Pending: 7, Workers: pool("bb"), Desired: 2, LastChange: long},
			target: 3, changed: true, reason: "up to 3"},
		{name: "a burst reaches MAX_WORKERS in one step",
			in:     Input{Pending: 200, Workers: pool("bb"), Desired: 2, LastChange: long},
			target: 10, changed: true},
		{name: "a burst sizes the step for the backlog",
			in:     Input{Pending: 20, Workers: pool("bb"), Desired: 2, LastChange: long},
			target: 7, changed: true}, // ceil(20/3)
		{name: "a burst with no worker at all (MIN_WORKERS=0)",
			in:     Input{Pending: 1, Policy: Policy{Min: 0, Max: 4, Up: 3, Down: 2, Cooldown: time.Second}},
			target: 1, changed: true},
		{name: "scale up deferred by the cooldown",
			in:     Input{Pending: 50, Workers: pool("bb"), Desired: 2, LastChange: t0.Add(-10 * time.Second)},
			target: 2, defer_: true, reason: "cooldown"},
		{name: "scale up just after the cooldown",
			in:     Input{Pending: 50, Workers: pool("bb"), Desired: 2, LastChange: t0.Add(-30 * time.Second)},
			target: 10, changed: true},
		{name: "at MAX_WORKERS a backlog holds",
			in:     Input{Pending: 500, Workers: pool("bbbbbbbbbb"), Desired: 10, LastChange: long},
			target: 10},
		{name: "starting workers are counted: no second step for the same backlog",
			in:     Input{Pending: 20, Workers: pool("bbsssss"), Desired: 7, LastChange: t0.Add(-time.Second)},
			target: 7},
		{name: "below the down threshold retires idle workers to the floor",
			in:     Input{Pending: 0, Workers: pool("iiiii"), Desired: 5, LastChange: long},
			target: 2, retire: []string{"w0", "w1", "w2"}, changed: true, reason: "down to 2"},
		{name: "scale down keeps enough workers for the backlog",
			in:     Input{Pending: 9, Workers: pool("bbbbbiiii"), Desired: 9, LastChange: long},
			target: 5, retire: []string{"w5", "w6", "w7", "w8"}, changed: true}, // 9 < 2×9; ceil(9/3)=3 < 5 busy
		{name: "busy workers with an empty queue are not retired",
			in:     Input{Pending: 0, Workers: pool("bbbbbb"), Desired: 6, LastChange: long},
			target: 6, reason: "no worker is idle"},
		{name: "only idle workers go, never below what is busy",
			in:     Input{Pending: 0, Workers: pool("bibbib"), Desired: 6, LastChange: long},
			target: 4, retire: []string{"w1", "w4"}, changed: true},
		{name: "a starting worker is not retired",
			in:     Input{Pending: 0, Workers: pool("iiss"), Desired: 4, LastChange: long},
			target: 2, retire: []string{"w0", "w1"}, changed: true},
		{name: "scale down deferred by the cooldown",
			in:     Input{Pending: 0, Workers: pool("iiii"), Desired: 4, LastChange: t0.Add(-29 * time.Second)},
			target: 4, defer_: true, reason: "cooldown"},
		{name: "never below MIN_WORKERS",
			in:     Input{Pending: 0, Workers: pool("ii"), Desired: 2, LastChange: long},
			target: 2},
		{name: "draining workers are not counted",
			in:     Input{Pending: 0, Workers: pool("iidd"), Desired: 2, LastChange: long},
			target: 2},
		{name: "a trickle stays at the floor",
			in:     Input{Pending: 1, Workers: pool("bi"), Desired: 2, LastChange: long},
			target: 2},
		{name: "a trickle on a grown pool shrinks it",
			in:     Input{Pending: 1, Workers: pool("bii"), Desired: 3, LastChange: long},
			target: 2, retire: []string{"w1"}, changed: true},
		{name: "a dead worker is replaced (below MIN_WORKERS), cooldown or not",
			in:     Input{Pending: 0, Workers: pool("i"), Desired: 2, LastChange: t0.Add(-time.Second)},
			target: 2, reason: "below MIN_WORKERS"},
		{name: "a dead worker of a grown pool is replaced while the load holds",
			in:     Input{Pending: 12, Workers: pool("bbbbb"), Desired: 6, LastChange: t0.Add(-time.Second)},
			target: 6, reason: "replacing 1 dead"},
		{name: "a first decision with no worker starts MIN_WORKERS",
			in:     Input{Pending: 0},
			target: 2, reason: "below MIN_WORKERS"},
		{name: "above MAX_WORKERS idle workers go at once",
			in:     Input{Pending: 0, Workers: pool("bbiiiiiiiiii"), Desired: 12, LastChange: t0.Add(-time.Second)},
			target: 10, retire: []string{"w10", "w11"}, reason: "above MAX_WORKERS"},
		{name: "a scale-up never goes past MAX_WORKERS even from above MIN",
			in:     Input{Pending: 31, Workers: pool("bbbbbbbbb"), Desired: 9, LastChange: long},
			target: 10, changed: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.Now = t0
			if in.Policy == (Policy{}) {
				in.Policy = seed
			}
			d := Decide(in)
			if d.Target != tc.target || !slices.Equal(d.Retire, tc.retire) || d.Changed != tc.changed || d.Deferred != tc.defer_ {
				t.Fatalf("Decide = %+v; want target %d, retire %v, changed %v, deferred %v", d, tc.target, tc.retire, tc.changed, tc.defer_)
			}
			if !strings.Contains(d.Reason, tc.reason) {
				t.Fatalf("reason %q, want it to say %q", d.Reason, tc.reason)
			}
			if len(d.Retire) > 0 && d.Target != d.From-len(d.Retire) {
				t.Fatalf("target %d with %d retired of %d", d.Target, len(d.Retire), d.From)
			}
			if d.Target < in.Policy.Min || d.Target > in.Policy.Max {
				t.Fatalf("target %d outside [%d, %d]", d.Target, in.Policy.Min, in.Policy.Max)
			}
		})
	}
}

// TestDecideBurstThenIdle plays a burst on a fake clock, checking every
// second with a 2 s cooldown: the pool reaches MAX_WORKERS at the first
// check, holds while the backlog lasts, and shrinks to MIN_WORKERS once the
// workers are idle, one cooldown later.
func TestDecideBurstThenIdle(t *testing.T) {
	p := Policy{Min: 2, Max: 6, Up: 3, Down: 2, Cooldown: 2 * time.Second}
	now := t0
	var last time.Time
	desired := 2
	step := func(pending int, states string) Decision {
		d := Decide(Input{Pending: pending, Workers: pool(states), Desired: desired, LastChange: last, Now: now, Policy: p})
		if d.Changed {
			last = now
		}
		desired = d.Target
		now = now.Add(time.Second)
		return d
	}
	if d := step(28, "bb"); d.Target != 6 || !d.Changed {
		t.Fatalf("first check of the burst: %+v", d)
	}
	for _, pending := range []int{24, 18, 12, 6} {
		if d := step(pending, "bbbbbb"); d.Target != 6 || d.Changed {
			t.Fatalf("during the burst (pending %d): %+v", pending, d)
		}
	}
	if d := step(0, "iiiiii"); d.Target != 2 || len(d.Retire) != 4 {
		t.Fatalf("idle after the burst: %+v", d)
	}
	if d := step(0, "iidddd"); d.Target != 2 || d.Changed {
		t.Fatalf("while the retired drain: %+v", d)
	}
}

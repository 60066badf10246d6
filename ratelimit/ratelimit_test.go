package ratelimit

import (
	"fmt"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestWindow(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	type step struct {
		at        time.Duration // since t0
		op        string        // take, peek, add
		key       string
		allowed   bool
		remaining int
	}
	cases := []struct {
		name  string
		limit int
		steps []step
	}{
		{"limit then refuse then new window", 2, []step{
			{0, "take", "a", true, 1},
			{time.Second, "take", "a", true, 0},
			{2 * time.Second, "take", "a", false, 0},
			{59 * time.Second, "take", "a", false, 0},
			{60 * time.Second, "take", "a", true, 1},
		}},
		{"keys are separate", 1, []step{
			{0, "take", "a", true, 0},
			{0, "take", "b", true, 0},
			{0, "take", "a", false, 0},
		}},
		{"peek counts nothing", 1, []step{
			{0, "peek", "a", true, 1},
			{0, "peek", "a", true, 1},
			{0, "take", "a", true, 0},
			{0, "peek", "a", false, 0},
		}},
		{"add counts past the limit, peek then refuses", 2, []step{
			{0, "add", "a", true, 1},
			{0, "add", "a", true, 0},
			{0, "add", "a", false, 0},
			{30 * time.Second, "peek", "a", false, 0},
			{61 * time.Second, "peek", "a", true, 2},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &clock{t: t0}
			w := New(tc.limit, time.Minute, c.now)
			for i, s := range tc.steps {
				c.t = t0.Add(s.at)
				var d Decision
				switch s.op {
				case "take":
					d = w.Take(s.key)
				case "peek":
					d = w.Peek(s.key)
				case "add":
					d = w.Add(s.key)
				}
				if d.Allowed != s.allowed || d.Remaining != s.remaining || d.Limit != tc.limit {
					t.Errorf("step %d (%s %s at %v): %+v, want allowed=%v remaining=%d", i, s.op, s.key, s.at, d, s.allowed, s.remaining)
				}
			}
		})
	}
}

func TestRetryAfterAndReset(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	c := &clock{t: t0}
	w := New(1, time.Minute, c.now)
	w.Take("a")
	c.t = t0.Add(20*time.Second + 300*time.Millisecond)
	d := w.Take("a")
	if !d.Reset.Equal(t0.Add(time.Minute)) {
		t.Errorf("reset %v", d.Reset)
	}
	if got := d.RetryAfter(c.t); got != 40 {
		t.Errorf("retry after %d s, want 40 (rounded up)", got)
	}
	if got := d.RetryAfter(t0.Add(2 * time.Minute)); got != 1 {
		t.Errorf("retry after an ended window %d, want 1", got)
	}
}

func TestOff(t *testing.T) {
	for _, limit := range []int{0, -1} {
		w := New(limit, time.Minute, nil)
		if w != nil {
			t.Fatalf("New(%d) = %v, want nil (off)", limit, w)
		}
		for range 3 {
			if !w.Take("a").Allowed {
				t.Fatal("a nil window refused")
			}
		}
	}
}

func TestBoundedKeys(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	c := &clock{t: t0}
	w := New(1, time.Minute, c.now)
	for i := range maxKeys + 10 {
		w.Take(fmt.Sprint("k", i))
	}
	if n := len(w.keys); n > maxKeys {
		t.Fatalf("%d keys kept, want at most %d", n, maxKeys)
	}
	c.t = t0.Add(2 * time.Minute)
	w.Take("fresh")
	if n := len(w.keys); n != 1 {
		t.Errorf("%d keys after every window ended, want 1", n)
	}
}

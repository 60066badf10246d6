package worker

import "testing"

func TestBudgetFits(t *testing.T) {
	tests := []struct {
		name              string
		total, used, need int
		want              bool
	}{
		{"no budget", 0, 1 << 20, 512, true},
		{"room", 1024, 256, 512, true},
		{"exactly full", 1024, 512, 512, true},
		{"no room", 1024, 768, 512, false},
		{"oversized alone", 1024, 0, 4096, true},
		{"oversized waits", 1024, 1, 4096, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fits(tt.total, tt.used, tt.need); got != tt.want {
				t.Errorf("fits(%d, %d, %d) = %v, want %v", tt.total, tt.used, tt.need, got, tt.want)
			}
		})
	}
}

func TestBudgetAcquireRelease(t *testing.T) {
	b := NewBudget(1024)
	if !b.TryAcquire(512) || !b.TryAcquire(512) {
		t.Fatal("two halves must fit")
	}
	if b.TryAcquire(1) {
		t.Fatal("a full budget took more")
	}
	b.Release(512)
	if !b.TryAcquire(256) {
		t.Fatal("released memory not reusable")
	}
	b.Release(256)
	b.Release(512)
	if !b.TryAcquire(2048) {
		t.Fatal("an oversized job must run alone on an empty budget")
	}
}

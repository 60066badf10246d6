package domain

import (
	"testing"
	"time"
)

func TestDue(t *testing.T) {
	at := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		now  time.Time
		want bool
	}{
		{"just ended", at, false},
		{"a moment before the retention", at.Add(time.Hour - time.Nanosecond), false},
		{"exactly the retention", at.Add(time.Hour), true},
		{"long past", at.Add(48 * time.Hour), true},
	}
	for _, tt := range tests {
		if got := Due(at, tt.now, time.Hour); got != tt.want {
			t.Errorf("%s: Due = %v, want %v", tt.name, got, tt.want)
		}
	}
}

package docker

import (
	"slices"
	"testing"
	"time"

	"github.com/faasplatform/faas/domain"
)

func TestPoolKey(t *testing.T) {
	base := domain.RunSpec{
		ExecutionID: "e1", FunctionID: "f1", Owner: "u1", Version: "v1", Image: "img", Network: "none",
		MemoryMB: 64, CPUs: 1, Timeout: time.Second, Input: []byte("in"),
		Env: map[string]string{"A": "1", "FAAS_EXECUTION_ID": "e1", "FAAS_ATTEMPT": "1", "FAAS_TOKEN": "t1"},
	}
	tests := []struct {
		name   string
		change func(*domain.RunSpec)
		same   bool
	}{
		{"another execution of the function", func(s *domain.RunSpec) {
			s.ExecutionID, s.Input, s.Timeout = "e2", []byte("other"), 2*time.Second
			s.Env = map[string]string{"A": "1", "FAAS_EXECUTION_ID": "e2", "FAAS_ATTEMPT": "2", "FAAS_TOKEN": "t2"}
		}, true},
		{"another owner", func(s *domain.RunSpec) { s.Owner = "u2" }, false},
		{"another function", func(s *domain.RunSpec) { s.FunctionID = "f2" }, false},
		{"another version", func(s *domain.RunSpec) { s.Version = "v2" }, false},
		{"another image", func(s *domain.RunSpec) { s.Image = "img2" }, false},
		{"env changed", func(s *domain.RunSpec) { s.Env = map[string]string{"A": "2", "FAAS_EXECUTION_ID": "e1"} }, false},
		{"env added", func(s *domain.RunSpec) {
			s.Env = map[string]string{"A": "1", "B": "", "FAAS_EXECUTION_ID": "e1"}
		}, false},
		{"memory", func(s *domain.RunSpec) { s.MemoryMB = 128 }, false},
		{"cpus", func(s *domain.RunSpec) { s.CPUs = 0.5 }, false},
		{"network", func(s *domain.RunSpec) { s.Network = "internal" }, false},
		// Field boundaries are length-prefixed: no two specs collide by
		// moving characters between fields.
		{"shifted fields", func(s *domain.RunSpec) { s.Owner, s.FunctionID = "u1f", "1" }, false},
	}
	k0 := poolKey(base)
	for _, tt := range tests {
		s := base
		tt.change(&s)
		if got := poolKey(s) == k0; got != tt.same {
			t.Errorf("%s: same key %v, want %v", tt.name, got, tt.same)
		}
	}
}

func TestEvictions(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) idleInfo { return idleInfo{since: now.Add(-d)} }
	tests := []struct {
		name    string
		idle    []idleInfo
		timeout time.Duration
		maxIdle int
		want    []int
	}{
		{"none", nil, time.Minute, 2, nil},
		{"fresh stay", []idleInfo{ago(time.Second), ago(59 * time.Second)}, time.Minute, 0, nil},
		{"idle timeout reached", []idleInfo{ago(time.Minute), ago(time.Second), ago(2 * time.Minute)}, time.Minute, 0, []int{0, 2}},
		{"over the cap: longest idle go", []idleInfo{ago(3 * time.Second), ago(time.Second), ago(5 * time.Second)}, time.Minute, 1, []int{0, 2}},
		{"expired and over the cap", []idleInfo{ago(2 * time.Minute), ago(3 * time.Second), ago(time.Second), ago(2 * time.Second)}, time.Minute, 2, []int{0, 1}},
		{"no timeout", []idleInfo{ago(100 * time.Hour)}, 0, 0, nil},
	}
	for _, tt := range tests {
		if got := evictions(tt.idle, now, tt.timeout, tt.maxIdle); !slices.Equal(got, tt.want) {
			t.Errorf("%s: evictions = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestWarmPoolTake(t *testing.T) {
	p := newWarmPool(time.Minute, 10)
	now := time.Now()
	old := &warmContainer{id: "c-old", key: "k-v1", owner: "u1", functionID: "f1"}
	other := &warmContainer{id: "c-other", key: "k-f2", owner: "u1", functionID: "f2"}
	foreign := &warmContainer{id: "c-foreign", key: "k-u2", owner: "u2", functionID: "f1"}
	for _, c := range []*warmContainer{old, other, foreign} {
		p.put(c, now)
	}
	if c, _ := p.take("k-nope", "u3", "f9"); c != nil {
		t.Fatalf("took %s for an unknown key", c.id)
	}
	c, stale := p.take("k-v2", "u1", "f1")
	if c != nil || len(stale) != 1 || stale[0] != old {
		t.Fatalf("take of a new version: %v, stale %v; want none and the old version's container", c, stale)
	}
	if c, _ := p.take("k-f2", "u1", "f2"); c != other {
		t.Fatalf("take k-f2 = %v", c)
	}
	if c, _ := p.take("k-f2", "u1", "f2"); c != nil {
		t.Fatal("one container given twice")
	}
	if got := p.retire("u2", "f1"); len(got) != 1 || got[0] != foreign {
		t.Fatalf("retire = %v", got)
	}
	p.put(old, now)
	if left := p.close(); len(left) != 1 {
		t.Fatalf("close took %d, want 1", len(left))
	}
	if kept, _ := p.put(other, now); kept {
		t.Fatal("a closed pool took a container")
	}
}

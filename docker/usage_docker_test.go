package docker

import (
	"context"
	"testing"
	"time"

	"github.com/faasplatform/faas/docker/dockertest"
)

// TestRunUsage runs a real container that allocates ~40 MiB and one that
// spins for one second of CPU, and checks the peak memory and CPU time read from
// its cgroup.
func TestRunUsage(t *testing.T) {
	h := newHarness(t, Options{})
	img := usageImage(t)

	const mib = 1 << 20
	tests := []struct {
		input          string
		minMem, maxMem int64
		minCPU, maxCPU float64
	}{
		{"mem", 40 * mib, 64 * mib, 0, 1.5},
		// It spins until it has used one second of CPU, so however loaded
		// the machine, its cgroup must count about that.
		{"cpu", 0, 64 * mib, 0.95, 1.5},
	}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			spec := h.spec(img, tt.input)
			spec.MemoryMB = 128
			spec.CPUs = 1
			spec.Timeout = time.Minute // one second of CPU takes longer on a loaded machine
			res, err := h.rt.Run(context.Background(), spec)
			if err != nil || res.ExitCode != 0 {
				t.Fatalf("Run: exit %d stderr %q, %v", res.ExitCode, res.Stderr, err)
			}
			t.Logf("max_memory_bytes %d (%.1f MiB), cpu_seconds %.3f", res.MaxMemoryBytes,
				float64(res.MaxMemoryBytes)/mib, res.CPUSeconds)
			if res.MaxMemoryBytes < tt.minMem || res.MaxMemoryBytes > tt.maxMem {
				t.Errorf("max memory %d, want [%d, %d]", res.MaxMemoryBytes, tt.minMem, tt.maxMem)
			}
			if res.CPUSeconds < tt.minCPU || res.CPUSeconds > tt.maxCPU {
				t.Errorf("cpu seconds %.3f, want [%.1f, %.1f]", res.CPUSeconds, tt.minCPU, tt.maxCPU)
			}
		})
	}
}

// usageImage builds testdata/usage into an image.
func usageImage(t *testing.T) string { return dockertest.GoImage(t, "usage", "./testdata/usage") }

// TestWarmUsage runs the usage function warm, several times in one
// container: CPU time is each execution's own (not the container's sum),
// and the memory peak of a light execution after a heavy one is its own
// (cgroup v1 resets it; on v2 it would be the container's peak).
func TestWarmUsage(t *testing.T) {
	h := newWarmHarness(t, Options{})
	img := usageImage(t)
	const mib = 1 << 20
	spec := h.warmSpec(img, "")
	spec.MemoryMB, spec.CPUs = 128, 1
	spec.Timeout = time.Minute
	// The spin uses one second of CPU however loaded the machine: the
	// lower bound says it is counted, the upper one that it is a delta,
	// not the container's running total.
	steps := []struct {
		input          string
		minMem, maxMem int64
		minCPU, maxCPU float64
	}{
		{"cpu", 0, 64 * mib, 0.9, 1.3},
		{"cpu", 0, 64 * mib, 0.9, 1.3},
		{"mem", 40 * mib, 64 * mib, 0, 1.5},
		{"light", 0, 30 * mib, 0, 0.5},
	}
	for i, st := range steps {
		spec = next(spec)
		spec.Input = []byte(st.input)
		res := mustRun(t, h, spec)
		if res.ExitCode != 0 || (i > 0 && res.ColdStart) {
			t.Fatalf("step %d: exit %d cold %v stderr %q", i, res.ExitCode, res.ColdStart, res.Stderr)
		}
		t.Logf("step %d %s: max_memory_bytes %.1f MiB, cpu_seconds %.3f", i, st.input, float64(res.MaxMemoryBytes)/mib, res.CPUSeconds)
		if res.MaxMemoryBytes < st.minMem || res.MaxMemoryBytes > st.maxMem {
			t.Errorf("step %d %s: max memory %d, want [%d, %d]", i, st.input, res.MaxMemoryBytes, st.minMem, st.maxMem)
		}
		if res.CPUSeconds < st.minCPU || res.CPUSeconds > st.maxCPU {
			t.Errorf("step %d %s: cpu seconds %.3f, want [%.1f, %.1f]", i, st.input, res.CPUSeconds, st.minCPU, st.maxCPU)
		}
	}
}

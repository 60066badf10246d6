package docker

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/faasplatform/faas/docker/dockertest"
)

// TestRunUsage runs a real container that allocates ~40 MiB and one that
// spins for a second, and checks the peak memory and CPU time read from
// its cgroup.
func TestRunUsage(t *testing.T) {
	h := newHarness(t, Options{})
	bin := filepath.Join(t.TempDir(), "usage")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "./testdata/usage")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	program, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	img := dockertest.BuildImage(t, "usage", "FROM scratch\nCOPY usage /usage\nENTRYPOINT [\"/usage\"]\n",
		map[string][]byte{"usage": program})

	const mib = 1 << 20
	tests := []struct {
		input          string
		minMem, maxMem int64
		minCPU, maxCPU float64
	}{
		{"mem", 40 * mib, 64 * mib, 0, 1.5},
		{"cpu", 0, 64 * mib, 0.7, 1.5},
	}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			spec := h.spec(img, tt.input)
			spec.MemoryMB = 128
			spec.CPUs = 1
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

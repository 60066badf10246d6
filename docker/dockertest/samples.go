package dockertest

import (
	"bytes"
	"math"
	"os/exec"
	"slices"
	"testing"
	"time"
)

// Samples are timings of one path of a benchmark.
type Samples []time.Duration

// P returns the p-th percentile by nearest rank (0 for no samples).
func (s Samples) P(p float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	c := slices.Clone(s)
	slices.Sort(c)
	rank := int(math.Ceil(p / 100 * float64(len(c))))
	return c[max(rank, 1)-1]
}

// Ms is d in milliseconds, for b.ReportMetric.
func Ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// RawRun times the baseline users know: `docker run --rm -i --network none
// --memory 64m img` with input on stdin, until the CLI returns (the
// container removed). It fails tb unless the output equals want.
func RawRun(tb testing.TB, img string, input, want []byte) time.Duration {
	tb.Helper()
	cmd := exec.Command("docker", "run", "--rm", "-i", "--network", "none", "--memory", "64m", img)
	cmd.Stdin = bytes.NewReader(input)
	began := time.Now()
	out, err := cmd.Output()
	took := time.Since(began)
	if err != nil || !bytes.Equal(out, want) {
		tb.Fatalf("docker run %s: output %q, %v", img, out, err)
	}
	return took
}

package docker

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/faasplatform/faas/domain"

	"github.com/faasplatform/faas/docker/dockertest"
)

// TestRunImageVolumeMasked: a volume the image declares is a size-capped
// tmpfs, not an anonymous volume on the host's disk: writing past the cap
// fails, and the mount is tmpfs.
func TestRunImageVolumeMasked(t *testing.T) {
	t.Parallel()
	bb, err := os.ReadFile(dockertest.HostBusybox)
	if err != nil {
		t.Fatalf("read busybox: %v", err)
	}
	script := `grep ' /data ' /proc/mounts | cut -d' ' -f3; ` +
		`if dd if=/dev/zero of=/data/big bs=1M count=40 2>/dev/null; then echo wrote; else echo refused; fi`
	ep, _ := json.Marshal([]string{"/bin/busybox", "sh", "-c", script})
	img := dockertest.BuildImage(t, "rt-volume", "FROM scratch\nCOPY busybox /bin/busybox\n"+
		"USER 0:0\nVOLUME /data\nENTRYPOINT "+string(ep)+"\n", map[string][]byte{"busybox": bb})
	// Run as root so that the test shows the size cap, not a permission.
	h := newHarness(t, Options{User: "0:0"})
	res, err := h.rt.Run(context.Background(), h.spec(img, ""))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := strings.Fields(string(res.Stdout)); strings.Join(got, " ") != "tmpfs refused" {
		t.Errorf("stdout %q, want tmpfs then refused (stderr %q)", res.Stdout, res.Stderr)
	}
}

// TestRunOutputFloodKilled: a function writing without end is killed once
// its output passes the cap, long before its timeout, and fails saying so.
func TestRunOutputFloodKilled(t *testing.T) {
	t.Parallel()
	img := dockertest.BuildBusyboxImage(t, "rt-flood", "yes")
	h := newHarness(t, Options{})
	spec := h.spec(img, "")
	spec.Timeout = 60 * time.Second
	res, err := h.rt.Run(context.Background(), spec)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.TimedOut || !res.StdoutOverflow {
		t.Fatalf("timed out %v, overflow %v: want the overflow to end the run", res.TimedOut, res.StdoutOverflow)
	}
	if len(res.Stdout) != domain.MaxOutputBytes {
		t.Errorf("kept %d bytes, want %d", len(res.Stdout), domain.MaxOutputBytes)
	}
	o := domain.OutcomeOf(res, &domain.Function{Timeout: 60, MemoryMB: 32})
	if o.Status != domain.StatusFailed || !strings.Contains(o.Error, "output") {
		t.Errorf("outcome %s %q, want failed with an output error", o.Status, o.Error)
	}
}

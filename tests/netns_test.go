package tests

import (
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// netHosts are n network namespaces, the "hosts" of a test, each linked to
// every other one and to the test's own namespace by a point-to-point veth
// pair (a full mesh), with addresses on a private /24: host i is .i+1, the
// test process .254. There is no bridge on purpose: packets bridged or
// routed through the test's namespace would cross its netfilter FORWARD
// chain, which the Docker daemon sets to drop.
type netHosts struct {
	prefix string // of every namespace and interface name, unique per test
	subnet string // "10.213.N."
	ns     []string
}

// requireNetns fails t unless it can make network namespaces (root and
// iproute2; .ci/run installs iproute2 and runs as root), so that CI never
// passes the cluster test by skipping it.
func requireNetns(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("network namespaces need root (the cluster test runs as root, as .ci/run does)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatalf("network namespaces need iproute2 (apt-get install -y iproute2; .ci/run installs it): %v", err)
	}
}

// newNetHosts makes n hosts; they, and every interface made, are removed
// when the test ends, whatever its outcome.
func newNetHosts(t *testing.T, n int) *netHosts {
	t.Helper()
	requireNetns(t)
	var b [2]byte
	_, _ = rand.Read(b[:])
	h := &netHosts{prefix: fmt.Sprintf("fx%02x%02x", b[0], b[1]), subnet: fmt.Sprintf("10.213.%d.", 16+int(b[0])%224)}
	var links []string // root-side interfaces
	t.Cleanup(func() {
		for _, ns := range h.ns {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("ip netns del %s: %v %s", ns, err, out)
			}
		}
		for _, l := range links { // normally gone with their peers
			if exec.Command("ip", "link", "show", l).Run() == nil {
				_ = exec.Command("ip", "link", "del", l).Run()
			}
		}
	})
	for i := range n {
		ns := fmt.Sprintf("%s-h%d", h.prefix, i)
		ipRun(t, "netns", "add", ns)
		h.ns = append(h.ns, ns)
		ipRun(t, "-n", ns, "link", "set", "lo", "up")
	}
	// Host -1 is the test's own namespace.
	for a := -1; a < n; a++ {
		for c := a + 1; c < n; c++ {
			ea, ec := h.linkName(a, c), h.linkName(c, a)
			ipRun(t, "link", "add", ea, "type", "veth", "peer", "name", ec)
			if a < 0 {
				links = append(links, ea)
			}
			h.end(t, a, c, ea)
			h.end(t, c, a, ec)
		}
	}
	return h
}

// linkName is the interface on host a towards host c (at most 15 bytes).
func (h *netHosts) linkName(a, c int) string {
	name := func(i int) string {
		if i < 0 {
			return "t"
		}
		return fmt.Sprint(i)
	}
	return h.prefix + name(a) + "x" + name(c)
}

// end puts interface dev on host a, with a's address and the route to c.
func (h *netHosts) end(t *testing.T, a, c int, dev string) {
	t.Helper()
	var pre []string
	if a >= 0 {
		ipRun(t, "link", "set", dev, "netns", h.ns[a])
		pre = []string{"-n", h.ns[a]}
	}
	ipRun(t, append(pre, "addr", "add", h.ip(a)+"/32", "dev", dev)...)
	ipRun(t, append(pre, "link", "set", dev, "up")...)
	ipRun(t, append(pre, "route", "add", h.ip(c)+"/32", "dev", dev, "src", h.ip(a))...)
}

// ip is the address of host i (-1: the test's namespace).
func (h *netHosts) ip(i int) string {
	if i < 0 {
		return h.subnet + "254"
	}
	return fmt.Sprint(h.subnet, i+1)
}

func ipRun(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v %s", strings.Join(args, " "), err, out)
	}
}

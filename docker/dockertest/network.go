package dockertest

import (
	"net"
	"sync/atomic"
	"testing"
)

// HostListener listens on every host address (so a container with a
// network could reach it through docker0) and counts the connections it
// accepts. It closes when the test ends.
func HostListener(tb testing.TB) (port int, accepted func() int64) {
	tb.Helper()
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		tb.Fatalf("host listener: %v", err)
	}
	tb.Cleanup(func() { _ = ln.Close() })
	var n atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			_ = c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port, n.Load
}

// BridgeIP is the host's IPv4 address on Docker's default bridge (docker0):
// where a container with a network reaches the host.
func BridgeIP(tb testing.TB) string {
	tb.Helper()
	ifc, err := net.InterfaceByName("docker0")
	if err != nil {
		tb.Fatalf("docker0: %v", err)
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		tb.Fatalf("docker0 addresses: %v", err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
			return ipn.IP.String()
		}
	}
	tb.Fatalf("docker0 has no IPv4 address: %v", addrs)
	return ""
}

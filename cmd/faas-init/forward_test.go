package main

import (
	"bufio"
	"net"
	"path/filepath"
	"slices"
	"testing"
)

func TestTakeForward(t *testing.T) {
	tests := []struct {
		args     []string
		specs    []forwardSpec
		rest     []string
		wantFail bool
	}{
		{args: []string{"--clean", "/tmp", "--", "/app"}, rest: []string{"--clean", "/tmp", "--", "/app"}},
		{args: []string{"--forward", "127.0.0.1:9080=/.faas/run/api.sock", "--clean", "/tmp", "--", "/app", "--forward", "x"},
			specs: []forwardSpec{{"127.0.0.1:9080", "/.faas/run/api.sock"}},
			rest:  []string{"--clean", "/tmp", "--", "/app", "--forward", "x"}},
		{args: []string{"--forward", "nonsense", "--", "/app"}, wantFail: true},
		{args: []string{"--forward", "127.0.0.1=/s", "--", "/app"}, wantFail: true},
	}
	for _, tt := range tests {
		specs, rest, err := takeForward(tt.args)
		if (err != nil) != tt.wantFail || (!tt.wantFail && (!slices.Equal(specs, tt.specs) || !slices.Equal(rest, tt.rest))) {
			t.Errorf("takeForward(%q) = %v, %q, %v", tt.args, specs, rest, err)
		}
	}
}

// TestForward: a TCP connection to the forwarder reaches the unix socket's
// server and gets its answer back, both directions, with half-closes.
func TestForward(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "api.sock")
	up, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	go func() {
		for {
			c, err := up.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				line, _ := bufio.NewReader(c).ReadString('\n')
				_, _ = c.Write([]byte("echo: " + line))
			}()
		}
	}()
	ln, err := listenForward(forwardSpec{addr: "127.0.0.1:0", socket: sock})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go serveForward(ln, sock)
	for i := range 3 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte("hello\n")); err != nil {
			t.Fatal(err)
		}
		got, err := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if err != nil || got != "echo: hello\n" {
			t.Fatalf("round %d: %q, %v", i, got, err)
		}
	}
}

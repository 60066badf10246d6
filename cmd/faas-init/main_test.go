package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"testing"
)

func TestStartExitCode(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{exec.ErrNotFound, 127},
		{fs.ErrNotExist, 127},
		{syscall.ENOENT, 127},
		{fs.ErrPermission, 126},
		{syscall.EACCES, 126},
		{syscall.ENOEXEC, 126},
		{fmt.Errorf("exec: %q: %w", "/bin", fs.ErrPermission), 126},
		{errors.New("something else"), 127},
	}
	for _, tt := range tests {
		if got := startExitCode(tt.err); got != tt.want {
			t.Errorf("startExitCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

func TestMergeEnv(t *testing.T) {
	got := mergeEnv([]string{"PATH=/bin", "A=1", "B=2"}, []string{"A=9", "C=3"})
	want := []string{"PATH=/bin", "A=9", "B=2", "C=3"}
	if !slices.Equal(got, want) {
		t.Errorf("mergeEnv = %v, want %v", got, want)
	}
}

func TestExitCode(t *testing.T) {
	// A WaitStatus holds the exit code in bits 8-15 and a signal in 0-6.
	tests := []struct {
		ws     syscall.WaitStatus
		code   int
		signal bool
	}{
		{0, 0, false},
		{3 << 8, 3, false},
		{syscall.WaitStatus(syscall.SIGKILL), 137, true},
	}
	for _, tt := range tests {
		code, sig := exitCode(tt.ws)
		if code != tt.code || sig != tt.signal {
			t.Errorf("exitCode(%#x) = %d, %v; want %d, %v", int(tt.ws), code, sig, tt.code, tt.signal)
		}
	}
}

// The guard that keeps faas-init from killing a host's processes when run
// outside a container. (The binary itself is never run here: only inside
// containers, by the docker package's tests.)
func TestCheckPID1(t *testing.T) {
	if err := checkPID1(1); err != nil {
		t.Errorf("checkPID1(1) = %v, want nil", err)
	}
	for _, pid := range []int{0, 2, 4242} {
		if err := checkPID1(pid); !errors.Is(err, errNotPID1) {
			t.Errorf("checkPID1(%d) = %v, want errNotPID1", pid, err)
		}
	}
}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		args        []string
		clean, argv []string
		bad         bool
	}{
		{args: []string{"--", "/bin/sh", "-c", "x"}, argv: []string{"/bin/sh", "-c", "x"}},
		{args: []string{"--clean", "/tmp", "--clean", "/v", "--", "cat", "--clean"}, clean: []string{"/tmp", "/v"}, argv: []string{"cat", "--clean"}},
		{args: []string{"cat"}, bad: true},
		{args: []string{"--clean"}, bad: true},
		{args: nil, bad: true},
	}
	for _, tt := range tests {
		clean, argv, err := parseArgs(tt.args)
		if (err != nil) != tt.bad || !slices.Equal(clean, tt.clean) || !slices.Equal(argv, tt.argv) {
			t.Errorf("parseArgs(%q) = %q, %q, %v", tt.args, clean, argv, err)
		}
	}
}

func TestWipe(t *testing.T) {
	d := t.TempDir()
	if err := os.MkdirAll(d+"/sub/deeper", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d+"/f", []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := wipe([]string{d}); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(d); len(left) != 0 {
		t.Errorf("left %v", left)
	}
	if err := wipe([]string{d + "/absent"}); err == nil {
		t.Error("wipe of an absent directory: no error")
	}
}

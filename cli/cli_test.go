package cli

import (
	"bufio"
	"errors"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/faasplatform/faas/client"
)

func TestExitCode(t *testing.T) {
	root := &cobra.Command{Use: "faas", SilenceErrors: true, SilenceUsage: true}
	AddCommands(root, Env{Stdin: strings.NewReader(""), Stdout: &strings.Builder{}, Stderr: &strings.Builder{},
		Getenv: func(string) string { return "" }}, "")
	tests := []struct {
		args []string
		want int
	}{
		{[]string{"bogus"}, ExitUsage},
		{[]string{"invoke"}, ExitUsage},
		{[]string{"fn", "get", "a", "b"}, ExitUsage},
		{[]string{"fn", "create", "x", "--no-such-flag"}, ExitUsage},
		{[]string{"fn", "create", "x"}, ExitUsage},
		{[]string{"register", "bob"}, ExitUsage}, // --email is required
		{[]string{"fn", "list"}, ExitAPI},        // not logged in
	}
	for _, tt := range tests {
		root.SetArgs(tt.args)
		if got := ExitCode(root.Execute()); got != tt.want {
			t.Errorf("faas %v: exit %d, want %d", tt.args, got, tt.want)
		}
	}
	if got := ExitCode(&client.Error{Status: 404, Code: "function_not_found"}); got != ExitAPI {
		t.Errorf("an API error: exit %d, want %d", got, ExitAPI)
	}
	if got := ExitCode(errors.New("dial tcp: connection refused")); got != ExitAPI {
		t.Errorf("an unreachable server: exit %d, want %d", got, ExitAPI)
	}
}

func TestReadInput(t *testing.T) {
	a := &app{env: Env{Stdin: strings.NewReader("from stdin")}}
	tests := []struct{ in, want string }{
		{"", ""},
		{"hello", `"hello"`},
		{`{"n":1}`, `{"n":1}`},
		{"42", "42"},
		{"-", `"from stdin"`},
	}
	for _, tt := range tests {
		got, err := a.readInput(tt.in)
		if err != nil || string(got) != tt.want {
			t.Errorf("readInput(%q) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
	if _, err := a.readInput("@/no/such/file"); ExitCode(err) != ExitUsage {
		t.Errorf("a missing @file: %v, want a usage error", err)
	}
}

// TestReadPassword: on a terminal the password is read through
// ReadPassword (no echo), after a prompt on stderr, never from stdin; off a
// terminal without --password-stdin it is bad usage; --password-stdin reads
// the first line only.
func TestReadPassword(t *testing.T) {
	var stderr strings.Builder
	calls := 0
	a := &app{env: Env{
		Stdin: strings.NewReader("not this\n"), Stderr: &stderr,
		IsTerminal:   func(int) bool { return true },
		ReadPassword: func(int) ([]byte, error) { calls++; return []byte("s3cret-pw"), nil },
	}}
	in := bufio.NewReader(a.env.Stdin)
	pw, err := a.readPassword(false, in, "Password: ")
	if err != nil || pw != "s3cret-pw" || calls != 1 || !strings.HasPrefix(stderr.String(), "Password: ") {
		t.Fatalf("on a terminal: %q %v, %d reads, stderr %q", pw, err, calls, stderr.String())
	}
	if strings.Contains(stderr.String(), "s3cret-pw") {
		t.Fatalf("the password was echoed: %q", stderr.String())
	}

	a.env.IsTerminal = func(int) bool { return false }
	if _, err := a.readPassword(false, in, "Password: "); ExitCode(err) != ExitUsage {
		t.Fatalf("off a terminal: %v, want a usage error", err)
	}

	pw, err = a.readPassword(true, bufio.NewReader(strings.NewReader("first\r\nsecond\n")), "")
	if err != nil || pw != "first" {
		t.Fatalf("--password-stdin: %q %v, want the first line", pw, err)
	}
}

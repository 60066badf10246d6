package dockertest

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if err := Cleanup(); err != nil {
		fmt.Fprintln(os.Stderr, "cleanup:", err)
		code = 1
	}
	os.Exit(code)
}

func TestRef(t *testing.T) {
	ref := Ref("echo")
	if !strings.HasPrefix(ref, TagPrefix+"echo:p") || ref != Ref("echo") {
		t.Errorf("Ref = %q, want %secho:<process tag>, stable", ref, TagPrefix)
	}
}

func TestBuildContext(t *testing.T) {
	r, err := buildContext("FROM scratch\n", map[string][]byte{"b": []byte("2"), "a": []byte("1")})
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(r)
	var got []string
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		got = append(got, fmt.Sprintf("%s:%o:%s", hdr.Name, hdr.Mode, body))
	}
	want := "Dockerfile:644:FROM scratch\n a:755:1 b:755:2"
	if strings.Join(got, " ") != want {
		t.Errorf("context %q, want %q", strings.Join(got, " "), want)
	}
}

func TestBuildBusyboxImage(t *testing.T) {
	RequireDocker(t)
	ref := BuildBusyboxImage(t, "dockertest-selftest", `echo "it's $0"`)
	if again := BuildBusyboxImage(t, "dockertest-selftest", `echo "it's $0"`); again != ref {
		t.Errorf("second build %q, want the cached %q", again, ref)
	}
	info, err := Client(t).ImageInspect(context.Background(), ref)
	if err != nil {
		t.Fatalf("inspect %s: %v", ref, err)
	}
	want := `[/bin/busybox sh -c echo "it's $0"]`
	if got := fmt.Sprint(info.Config.Entrypoint); got != want {
		t.Errorf("entrypoint %s, want %s", got, want)
	}
	if n := len(Containers(t, "faas.test.none", "x")); n != 0 {
		t.Errorf("%d containers with a label nobody sets", n)
	}
}

// Package dockertest helps tests, in any package, that need the local Docker
// daemon: it builds small function images FROM scratch (no registry needed),
// fails a test when Docker is unreachable, and checks that no container is
// left behind.
//
// Images are built once per process and name, shared by the tests of the
// package, and tagged for the process (see Ref); remove them all from
// TestMain:
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		if err := dockertest.Cleanup(); err != nil {
//			fmt.Fprintln(os.Stderr, err)
//			code = 1
//		}
//		os.Exit(code)
//	}
//
// Images are labelled faas.test=true: those of a test binary that crashed
// before its Cleanup can be removed with
// `docker image prune -a -f --filter label=faas.test=true` (when no test runs).
package dockertest

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"

	"github.com/faasplatform/faas/internal/eventually"
)

// TagPrefix starts the name of every image this package builds.
const TagPrefix = "faas-test/"

// HostBusybox is the static busybox copied into the images of
// BuildBusyboxImage.
const HostBusybox = "/bin/busybox"

var (
	clientOnce sync.Once
	sharedCli  *client.Client
	clientErr  error

	mu     sync.Mutex
	images = map[string]*built{} // by image reference
)

// built is one image of this process.
type built struct {
	once   sync.Once
	digest string // of the build context: one tag, one content
	err    error
}

// Client returns a Docker client shared by the process, failing t if it cannot
// be made or the daemon does not answer.
func Client(t testing.TB) *client.Client {
	t.Helper()
	cli, err := sharedClient()
	if err != nil {
		t.Fatalf("dockertest: %v", err)
	}
	return cli
}

func sharedClient() (*client.Client, error) {
	clientOnce.Do(func() {
		sharedCli, clientErr = client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
		if clientErr != nil {
			clientErr = fmt.Errorf("docker client: %w", clientErr)
		}
	})
	return sharedCli, clientErr
}

// RequireDocker fails t (it does not skip it) when the Docker daemon does not
// answer within 5 seconds: these tests are part of the suite, and a machine
// without Docker cannot pass it.
func RequireDocker(t testing.TB) {
	t.Helper()
	cli := Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Ping(ctx); err != nil {
		t.Fatalf("dockertest: Docker daemon unreachable (these tests need it): %v", err)
	}
}

// Ref returns the reference under which this process builds the image name:
// TagPrefix+name, tagged with the process's own tag. Test binaries of several
// packages run at once on one daemon; with its own tag, each builds and
// removes its images without pulling one from under another.
func Ref(name string) string {
	return TagPrefix + name + ":" + processTag
}

// processTag tells this process's images from those of the other test
// binaries running at the same time.
var processTag = func() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("p%d-%x", os.Getpid(), b)
}()

// BuildImage builds, once per process, the image Ref(name) from dockerfile
// and files (name in the build context → content; files are mode 0755) and
// returns its reference. Later calls with the same name reuse it; reusing a
// name with another content fails t. Cleanup removes the image. name is
// lower case letters, digits, '.', '_' and '-', without ':'.
func BuildImage(t testing.TB, name, dockerfile string, files map[string][]byte) string {
	t.Helper()
	if strings.Contains(name, ":") {
		t.Fatalf("dockertest: image name %q: no tag, please", name)
	}
	ref := Ref(name)
	digest := contextDigest(dockerfile, files)

	mu.Lock()
	b, ok := images[ref]
	if !ok {
		b = &built{digest: digest}
		images[ref] = b
	}
	mu.Unlock()
	if b.digest != digest {
		t.Fatalf("dockertest: image %s already built with another content", ref)
	}
	b.once.Do(func() { b.err = buildImage(ref, dockerfile, files) })
	if b.err != nil {
		t.Fatalf("dockertest: %v", b.err)
	}
	return ref
}

// BuildBusyboxImage builds, once per process, the image Ref(name): FROM
// scratch, the host's static busybox as /bin/busybox and the entrypoint
// busybox sh -c script. It returns the image's reference.
func BuildBusyboxImage(t testing.TB, name, script string) string {
	t.Helper()
	bb, err := os.ReadFile(HostBusybox)
	if err != nil {
		t.Fatalf("dockertest: read busybox: %v", err)
	}
	entrypoint, err := json.Marshal([]string{"/bin/busybox", "sh", "-c", script})
	if err != nil {
		t.Fatalf("dockertest: entrypoint: %v", err)
	}
	dockerfile := "FROM scratch\nCOPY busybox /bin/busybox\nENTRYPOINT " + string(entrypoint) + "\n"
	return BuildImage(t, name, dockerfile, map[string][]byte{"busybox": bb})
}

func buildImage(ref, dockerfile string, files map[string][]byte) error {
	cli, err := sharedClient()
	if err != nil {
		return err
	}
	tarball, err := buildContext(dockerfile, files)
	if err != nil {
		return fmt.Errorf("build %s: %w", ref, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	resp, err := cli.ImageBuild(ctx, tarball, build.ImageBuildOptions{
		Tags:        []string{ref},
		Remove:      true,
		ForceRemove: true,
		Version:     build.BuilderV1,
		Labels:      map[string]string{"faas.test": "true"},
	})
	if err != nil {
		return fmt.Errorf("build %s: %w", ref, err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	if err := jsonmessage.DisplayJSONMessagesStream(resp.Body, &out, 0, false, nil); err != nil {
		return fmt.Errorf("build %s: %w\n%s", ref, err, out.String())
	}
	return nil
}

// buildContext makes the tar build context in memory.
func buildContext(dockerfile string, files map[string][]byte) (io.Reader, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, data []byte, mode int64) error {
		hdr := &tar.Header{Name: name, Mode: mode, Size: int64(len(data)), ModTime: time.Unix(0, 0)}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("tar %s: %w", name, err)
		}
		if _, err := tw.Write(data); err != nil {
			return fmt.Errorf("tar %s: %w", name, err)
		}
		return nil
	}
	if err := add("Dockerfile", []byte(dockerfile), 0o644); err != nil {
		return nil, err
	}
	for _, name := range sortedKeys(files) {
		if err := add(name, files[name], 0o755); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("tar: %w", err)
	}
	return &buf, nil
}

func contextDigest(dockerfile string, files map[string][]byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "%d:%s", len(dockerfile), dockerfile)
	for _, name := range sortedKeys(files) {
		fmt.Fprintf(h, "%d:%s%d:", len(name), name, len(files[name]))
		h.Write(files[name])
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Cleanup removes every image this process built, with any container of
// them still there. Call it from TestMain after m.Run.
func Cleanup() error {
	mu.Lock()
	refs := make([]string, 0, len(images))
	for ref, b := range images {
		if b.err == nil {
			refs = append(refs, ref)
		}
	}
	images = map[string]*built{}
	mu.Unlock()
	if len(refs) == 0 {
		return nil
	}
	cli, err := sharedClient()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var errs []error
	for _, ref := range refs {
		// Containers of these images that outlived their test (a worker
		// process the test killed cannot remove its run's container): only
		// this process's images, so no other test binary's containers.
		list, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("ancestor", ref))})
		if err != nil {
			errs = append(errs, fmt.Errorf("list containers of %s: %w", ref, err))
		}
		for _, c := range list {
			if err := cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}); err != nil && !client.IsErrNotFound(err) {
				errs = append(errs, fmt.Errorf("remove container %s: %w", c.ID, err))
			}
		}
		_, err = cli.ImageRemove(ctx, ref, image.RemoveOptions{Force: true, PruneChildren: true})
		if err != nil && !client.IsErrNotFound(err) {
			errs = append(errs, fmt.Errorf("remove image %s: %w", ref, err))
		}
	}
	return errors.Join(errs...)
}

// Containers returns the IDs of the containers, running or not, labelled
// key=value.
func Containers(t testing.TB, key, value string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	list, err := Client(t).ContainerList(ctx, container.ListOptions{
		All:     true,
		Filters: filters.NewArgs(filters.Arg("label", key+"="+value)),
	})
	if err != nil {
		t.Fatalf("dockertest: list containers %s=%s: %v", key, value, err)
	}
	ids := make([]string, len(list))
	for i, c := range list {
		ids[i] = c.ID
	}
	return ids
}

// AssertNoContainers fails t if a container labelled key=value exists now.
func AssertNoContainers(t testing.TB, key, value string) {
	t.Helper()
	if ids := Containers(t, key, value); len(ids) > 0 {
		t.Errorf("dockertest: %d container(s) labelled %s=%s remain: %v", len(ids), key, value, ids)
	}
}

// WaitNoContainers fails t unless the containers labelled key=value are all
// gone within d (removals may run in the background).
func WaitNoContainers(t testing.TB, key, value string, d time.Duration) {
	t.Helper()
	var ids []string
	if !eventually.Within(d, func() bool { ids = Containers(t, key, value); return len(ids) == 0 }) {
		t.Errorf("dockertest: %d container(s) labelled %s=%s remain after %s: %v", len(ids), key, value, d, ids)
	}
}

// WaitRunningContainer waits up to d for a running container labelled
// key=value and returns its ID, failing t if none shows up.
func WaitRunningContainer(t testing.TB, key, value string, d time.Duration) string {
	t.Helper()
	var id string
	eventually.True(t, d, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		list, err := Client(t).ContainerList(ctx, container.ListOptions{
			Filters: filters.NewArgs(filters.Arg("label", key+"="+value), filters.Arg("status", "running")),
		})
		if err != nil {
			t.Fatalf("dockertest: list containers %s=%s: %v", key, value, err)
		}
		if len(list) > 0 {
			id = list[0].ID
		}
		return id != ""
	}, "dockertest: no running container labelled %s=%s", key, value)
	return id
}

// GoBinary builds the Go program pkg (an import path, or a path relative to
// the test's directory) static, as `make` does for images FROM scratch, and
// returns the executable's bytes.
func GoBinary(t testing.TB, pkg string) []byte {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "program")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, pkg)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("dockertest: go build %s: %v\n%s", pkg, err, out)
	}
	program, err := os.ReadFile(bin)
	if err != nil {
		t.Fatalf("dockertest: %v", err)
	}
	return program
}

// GoImage builds pkg (GoBinary) into an image FROM scratch named name whose
// entrypoint it is (/name), and returns the image's reference.
func GoImage(t testing.TB, name, pkg string) string {
	t.Helper()
	return BuildImage(t, name, "FROM scratch\nCOPY "+name+" /"+name+"\nENTRYPOINT [\"/"+name+"\"]\n",
		map[string][]byte{name: GoBinary(t, pkg)})
}

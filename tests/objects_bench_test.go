package tests

import (
	"bytes"
	"crypto/sha256"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/faasplatform/faas/api/apitest"
	"github.com/faasplatform/faas/gateway"
	"github.com/faasplatform/faas/objects"
	"github.com/faasplatform/faas/platform/platformtest"
)

// benchObjectBytes is the object of BenchmarkObjects: OBJECT_MAX_BYTES's
// default, the largest object the contract allows.
const benchObjectBytes = 64 << 20

// BenchmarkObjects measures one 64 MiB object's upload and download through
// the standalone gateway (real HTTP on loopback, the objects service, the
// JetStream object store with its files under the benchmark's temporary
// directory), next to a plain copy of a 64 MiB file in that same
// directory, so the figures read against the disk's own speed. Each reports
// MiB/s.
//
//	go test -run '^$' -bench BenchmarkObjects -benchtime 5x ./tests/
func BenchmarkObjects(b *testing.B) {
	st := platformtest.NewStackWith(b, platformtest.StackOptions{ObjectLimits: objects.Limits{
		MaxObjectBytes: benchObjectBytes, FunctionQuota: 4 * benchObjectBytes}})
	st.Core.Logger = zap.NewNop()
	gw := gateway.New("127.0.0.1:0", st.Handler(), zap.NewNop())
	addr, err := gw.Start()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = gw.Shutdown(b.Context()) })
	f := apitest.NewFixture(b, "http://"+addr.String(), st.Secret)
	u := f.Register(b, "bench-objects")
	fn := f.CreateFunction(b, u, "bench-objects", nil)
	data := apitest.RandomBytes(b, benchObjectBytes)
	want := sha256.Sum256(data)
	url := f.BaseURL + "/api/function-objects/" + fn + "/bench/blob.bin"
	client := &http.Client{Timeout: 5 * time.Minute}

	do := func(method string, body io.Reader) *http.Response {
		req, err := http.NewRequest(method, url, body)
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+u.Token)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		return resp
	}
	upload := func() {
		resp := do(http.MethodPut, bytes.NewReader(data))
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
			b.Fatalf("upload: %d", resp.StatusCode)
		}
	}
	download := func() {
		resp := do(http.MethodGet, nil)
		h := sha256.New()
		n, err := io.Copy(h, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || n != benchObjectBytes || !bytes.Equal(h.Sum(nil), want[:]) {
			b.Fatalf("download: %d, %d bytes, %v, hash equal %v", resp.StatusCode, n, err, bytes.Equal(h.Sum(nil), want[:]))
		}
	}
	src := filepath.Join(b.TempDir(), "src.bin")
	if err := os.WriteFile(src, data, 0o600); err != nil {
		b.Fatal(err)
	}
	fileCopy := func() {
		if err := copyFile(src, src+".copy"); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range []struct {
		name string
		run  func()
	}{{"upload", upload}, {"download", download}, {"file_copy", fileCopy}} {
		b.Run(c.name, func(b *testing.B) {
			if c.name == "download" {
				upload() // something to download
			}
			b.SetBytes(benchObjectBytes)
			b.ResetTimer()
			began := time.Now()
			for i := 0; i < b.N; i++ {
				c.run()
			}
			secs := time.Since(began).Seconds()
			b.ReportMetric(float64(b.N)*benchObjectBytes/(1<<20)/secs, "MiB/s")
			if c.name != "file_copy" {
				b.StopTimer()
				b.ReportMetric(liveHeapGrowth(c.run)/(1<<20), "live-heap-growth-MiB")
			}
		})
	}
}

// liveHeapGrowth runs fn once while it samples the live heap (after a GC,
// so garbage does not count) every few milliseconds, and returns the largest
// growth over the live heap before fn. Client, gateway and the embedded NATS
// server share this process and the client's 64 MiB buffer is allocated
// before: growth near 64 MiB would mean something holds a whole object, a
// few MiB that it streams. (The GCs slow fn down; this run is not timed.)
func liveHeapGrowth(fn func()) float64 {
	live := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	base := live()
	stop, done := make(chan struct{}), make(chan uint64)
	go func() {
		var most uint64
		for {
			select {
			case <-stop:
				done <- most
				return
			case <-time.After(5 * time.Millisecond):
				if h := live(); h > base && h-base > most {
					most = h - base
				}
			}
		}
	}()
	fn()
	close(stop)
	return float64(<-done)
}

// copyFile copies src to dst and flushes dst to the disk (fsync). The
// object store's writes are not fsynced one by one (JetStream syncs its
// files periodically), so the file copy does at least the disk work an
// upload does: the comparison does not flatter the gateway.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}

package gateway

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

func TestTimeoutsFitTheAPI(t *testing.T) {
	s := New("127.0.0.1:0", http.NotFoundHandler(), nil)
	if s.srv.WriteTimeout <= 56*time.Second || s.srv.ReadHeaderTimeout == 0 || s.srv.IdleTimeout == 0 {
		t.Errorf("timeouts: write %v, read header %v, idle %v", s.srv.WriteTimeout, s.srv.ReadHeaderTimeout, s.srv.IdleTimeout)
	}
}

func TestGracefulShutdown(t *testing.T) {
	started := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(started)
			time.Sleep(300 * time.Millisecond)
		}
		_, _ = io.WriteString(w, "done")
	})
	s := New("127.0.0.1:0", h, zaptest.NewLogger(t))
	addr, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start(); err == nil {
		t.Error("second Start succeeded")
	}
	base := "http://" + addr.String()

	type result struct {
		body string
		err  error
	}
	slow := make(chan result, 1)
	go func() {
		resp, err := http.Get(base + "/slow")
		if err != nil {
			slow <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		slow <- result{string(b), err}
	}()
	<-started

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	r := <-slow
	if r.err != nil || r.body != "done" {
		t.Errorf("in-flight request: %q, %v; want it to finish", r.body, r.err)
	}
	if err := <-s.Done(); err != nil {
		t.Errorf("Done: %v", err)
	}
	if _, err := http.Get(base + "/"); err == nil {
		t.Error("the server still answers after Shutdown")
	}
}

func TestShutdownDeadline(t *testing.T) {
	release := make(chan struct{})
	s := New("127.0.0.1:0", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }), nil)
	addr, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer close(release)
	go func() { _, _ = http.Get("http://" + addr.String() + "/") }()
	time.Sleep(100 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); err == nil {
		t.Error("Shutdown with a stuck request returned nil; want the deadline")
	}
}

func TestStartFailsOnBadAddress(t *testing.T) {
	if _, err := New("256.0.0.1:99999", http.NotFoundHandler(), nil).Start(); err == nil {
		t.Error("Start on a bad address succeeded")
	}
}

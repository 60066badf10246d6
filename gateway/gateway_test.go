package gateway

import (
	"context"
	"io"
	"net/http"
	"sync"
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
	started, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(started)
			<-release // in flight until the test has begun the shutdown
		}
		_, _ = io.WriteString(w, "done")
	})
	s := New("127.0.0.1:0", h, zaptest.NewLogger(t))
	shuttingDown := make(chan struct{})
	s.srv.RegisterOnShutdown(func() { close(shuttingDown) })
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

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(ctx) }()
	<-shuttingDown // Shutdown has begun with the request in flight
	close(release)
	if err := <-shut; err != nil {
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
	arrived, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	s := New("127.0.0.1:0", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		once.Do(func() { close(arrived) })
		<-release
	}), nil)
	addr, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer close(release)
	go func() { _, _ = http.Get("http://" + addr.String() + "/") }()
	select {
	case <-arrived: // the request is in flight and stuck
	case <-time.After(30 * time.Second):
		t.Fatal("the request never reached the handler")
	}
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

// Package gateway is the standalone HTTP server of `faas up`: it serves the
// API handler on SERVER_ADDRESS with timeouts that fit the API (a
// ?wait=true request may take 50 s) and shuts down gracefully, letting
// requests in flight finish.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Timeouts of the server. WriteTimeout runs from the end of the request
// headers to the end of the answer, so it must exceed the API's 50 s wait.
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 60 * time.Second
	WriteTimeout      = 70 * time.Second
	IdleTimeout       = 120 * time.Second
	MaxHeaderBytes    = 64 << 10
)

// Server is the standalone gateway.
type Server struct {
	srv    *http.Server
	log    *zap.Logger
	mu     sync.Mutex
	ln     net.Listener
	served chan error
}

// New returns a server for h on addr (host:port; port 0 picks a free one).
// It listens only once Start is called.
func New(addr string, h http.Handler, logger *zap.Logger) *Server {
	if logger == nil {
		logger = zap.NewNop()
	}
	errLog, err := zap.NewStdLogAt(logger.Named("http"), zap.WarnLevel)
	if err != nil {
		errLog = nil // only on an invalid level; the default logger is fine then
	}
	return &Server{
		log: logger,
		srv: &http.Server{
			Addr:              addr,
			Handler:           h,
			ReadHeaderTimeout: ReadHeaderTimeout,
			ReadTimeout:       ReadTimeout,
			WriteTimeout:      WriteTimeout,
			IdleTimeout:       IdleTimeout,
			MaxHeaderBytes:    MaxHeaderBytes,
			ErrorLog:          errLog,
		},
		served: make(chan error, 1),
	}
}

// Start listens on the address and serves in the background. It returns the
// address actually bound, so that a caller that asked for port 0 can print
// or dial it.
func (s *Server) Start() (net.Addr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return nil, errors.New("gateway: already started")
	}
	ln, err := net.Listen("tcp", s.srv.Addr)
	if err != nil {
		return nil, fmt.Errorf("gateway: listen on %s: %w", s.srv.Addr, err)
	}
	s.ln = ln
	go func() {
		err := s.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		if err != nil {
			s.log.Error("gateway stopped serving", zap.Error(err))
		}
		s.served <- err
	}()
	s.log.Info("gateway listening", zap.String("address", ln.Addr().String()))
	return ln.Addr(), nil
}

// Done yields, once, why serving stopped: nil after Shutdown, the listener's
// error when serving failed by itself. A caller selects on it next to its
// signal handling.
func (s *Server) Done() <-chan error { return s.served }

// Shutdown stops accepting connections and waits for the requests in flight
// to finish, or for ctx to end (then remaining connections are closed and
// ctx's error returned).
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		_ = s.srv.Close()
	}
	if err != nil {
		return fmt.Errorf("gateway: shutdown: %w", err)
	}
	return nil
}

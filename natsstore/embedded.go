package natsstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/faasplatform/faas/retry"
)

// readyTimeout bounds how long StartEmbedded waits for the server to accept
// connections.
const readyTimeout = 10 * time.Second

// connectWindow is how long Connect keeps trying when ctx has no deadline, so
// that a process started just before its server still gets through.
const connectWindow = 10 * time.Second

// EmbeddedOptions configures the in-process NATS server that `faas up` runs
// when NATS_URL is unset.
type EmbeddedOptions struct {
	// Host is the interface to listen on; empty means 127.0.0.1.
	Host string
	// Port is the client port: -1 picks a free port (tests), 0 means the
	// NATS default 4222.
	Port int
	// StoreDir is where JetStream keeps its files (required).
	StoreDir string
	// ServerName names the server in logs and monitoring; optional.
	ServerName string
	// Logger receives the server's log when set; the server is silent
	// otherwise.
	Logger *zap.Logger
	// User and Password, when set, are the one account clients must give:
	// an anonymous client is refused.
	User, Password string
}

// StartEmbedded starts a NATS server with JetStream on file storage under
// opts.StoreDir and waits until it accepts connections. The caller owns the
// server: Shutdown and WaitForShutdown stop it. ClientURL gives the address
// to hand to Connect.
func StartEmbedded(opts EmbeddedOptions) (*server.Server, error) {
	if opts.StoreDir == "" {
		return nil, errors.New("start embedded nats: StoreDir is required")
	}
	host := opts.Host
	if host == "" {
		host = "127.0.0.1"
	}
	srv, err := server.NewServer(&server.Options{
		ServerName: opts.ServerName,
		Host:       host,
		Port:       opts.Port,
		JetStream:  true,
		StoreDir:   opts.StoreDir,
		NoSigs:     true,
		NoLog:      opts.Logger == nil,
		Username:   opts.User,
		Password:   opts.Password,
	})
	if err != nil {
		return nil, fmt.Errorf("start embedded nats: %w", err)
	}
	if opts.Logger != nil {
		debug := opts.Logger.Core().Enabled(zap.DebugLevel)
		srv.SetLoggerV2(serverLogger{opts.Logger.Named("nats").Sugar()}, debug, false, false)
	}
	srv.Start()
	if !srv.ReadyForConnections(readyTimeout) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("start embedded nats on %s:%d: not ready after %s", host, opts.Port, readyTimeout)
	}
	if !srv.JetStreamEnabled() {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, errors.New("start embedded nats: JetStream did not start")
	}
	return srv, nil
}

// serverLogger routes the NATS server's log lines to zap. Fatalf is logged
// as an error: the server must not end the process through zap.
type serverLogger struct{ l *zap.SugaredLogger }

// Noticef: NATS notices (its start-up banner among them) are debug lines,
// so the default log shows only its warnings and errors.
func (s serverLogger) Noticef(format string, v ...any) { s.l.Debugf(format, v...) }
func (s serverLogger) Warnf(format string, v ...any)   { s.l.Warnf(format, v...) }
func (s serverLogger) Fatalf(format string, v ...any)  { s.l.Errorf(format, v...) }
func (s serverLogger) Errorf(format string, v ...any)  { s.l.Errorf(format, v...) }
func (s serverLogger) Debugf(format string, v ...any)  { s.l.Debugf(format, v...) }
func (s serverLogger) Tracef(format string, v ...any)  { s.l.Debugf(format, v...) }

// Credentials are how a client proves itself to NATS: a user and password,
// or a .creds file (JWT and nkey seed), and optionally the root CA of a
// tls:// server. The zero value connects anonymously. The secrets never go
// into an error or a log line.
type Credentials struct {
	User, Password string
	CredsFile      string // NATS_CREDS
	CAFile         string // NATS_CA
}

func (c Credentials) options() []nats.Option {
	var opts []nats.Option
	if c.User != "" || c.Password != "" {
		opts = append(opts, nats.UserInfo(c.User, c.Password))
	}
	if c.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(c.CredsFile))
	}
	if c.CAFile != "" {
		opts = append(opts, nats.RootCAs(c.CAFile))
	}
	return opts
}

// Connect dials url as the client called name and returns the connection and
// its JetStream handle. It keeps trying a refused first connection until ctx
// ends (or for 10 s when ctx has no deadline), so a worker started just
// before the server still connects; once connected, the client reconnects
// forever after a drop. The caller closes the connection (Drain or Close).
func Connect(ctx context.Context, url, name string, creds Credentials) (*nats.Conn, jetstream.JetStream, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, connectWindow)
		defer cancel()
	}
	opts := []nats.Option{
		nats.Name(name),
		nats.Timeout(2 * time.Second),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500 * time.Millisecond),
		nats.ReconnectJitter(250*time.Millisecond, time.Second),
		nats.PingInterval(20 * time.Second),
	}
	opts = append(opts, creds.options()...)
	var nc *nats.Conn
	var js jetstream.JetStream
	var lastErr error
	err := retry.Do(ctx, retry.Policy{Tries: math.MaxInt32, Initial: 250 * time.Millisecond, Max: time.Second}, func() error {
		c, err := nats.Connect(url, opts...)
		if errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) {
			return retry.Permanent(err) // wrong credentials stay wrong
		}
		if err != nil {
			lastErr = err
			return err
		}
		j, err := jetstream.New(c)
		if err != nil {
			c.Close()
			return retry.Permanent(fmt.Errorf("jetstream: %w", err))
		}
		nc, js = c, j
		return nil
	})
	if err != nil {
		if ctx.Err() != nil && lastErr != nil {
			return nil, nil, fmt.Errorf("connect to nats %s: %w: %w", url, err, lastErr)
		}
		return nil, nil, fmt.Errorf("connect to nats %s: %w", url, err)
	}
	return nc, js, nil
}

package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// acceptBackoff is the pause after a failed Accept.
const acceptBackoff = 10 * time.Millisecond

// forwardSpec is --forward ADDR=SOCKET: the TCP address inside the
// container (e.g. 127.0.0.1:9080) whose connections go to the unix socket
// the worker mounted (the objects service, network "internal").
type forwardSpec struct{ addr, socket string }

func parseForward(v string) (forwardSpec, error) {
	addr, sock, ok := strings.Cut(v, "=")
	if !ok || addr == "" || sock == "" {
		return forwardSpec{}, fmt.Errorf("--forward %q: want ADDR=SOCKET", v)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return forwardSpec{}, fmt.Errorf("--forward %q: %w", v, err)
	}
	return forwardSpec{addr: addr, socket: sock}, nil
}

// listenForward listens on the spec's address before any execution starts,
// so that a function's first request finds it.
func listenForward(f forwardSpec) (net.Listener, error) {
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return nil, fmt.Errorf("forward %s: %w", f.addr, err)
	}
	return ln, nil
}

// serveForward joins each accepted connection to a new connection to the
// socket, both ways, until the listener is closed. It runs in faas-init
// itself (PID 1), so the kill of an execution's processes leaves it be.
func serveForward(ln net.Listener, socket string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors, say (the function's own doing): back
			// off a moment rather than spin.
			time.Sleep(acceptBackoff)
			continue
		}
		go func() {
			u, err := net.Dial("unix", socket)
			if err != nil {
				_ = c.Close()
				return
			}
			join(c, u)
		}()
	}
}

// halfCloser is a connection that can end its write side alone.
type halfCloser interface{ CloseWrite() error }

// join copies a to b and b to a; each direction's end closes the other
// side's writing, and both connections close once both directions ended.
func join(a, b net.Conn) {
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if hc, ok := dst.(halfCloser); ok {
			_ = hc.CloseWrite()
		} else {
			_ = dst.Close()
		}
		done <- struct{}{}
	}
	go cp(a, b)
	go cp(b, a)
	<-done
	<-done
	_ = a.Close()
	_ = b.Close()
}

// takeForward removes the "--forward ADDR=SOCKET" options that come before
// "--" from args and returns them parsed, with the rest.
func takeForward(args []string) ([]forwardSpec, []string, error) {
	var specs []forwardSpec
	rest := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		if args[i] == "--" {
			return specs, append(rest, args[i:]...), nil
		}
		if args[i] == "--forward" && i+1 < len(args) {
			f, err := parseForward(args[i+1])
			if err != nil {
				return nil, nil, err
			}
			specs = append(specs, f)
			i++
			continue
		}
		rest = append(rest, args[i])
	}
	return specs, rest, nil
}

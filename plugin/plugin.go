// Package plugin is the APISIX external plugin "faas": it answers the
// platform's HTTP API (routes under /api/v1) inside the Go plugin runner that
// APISIX starts through ext-plugin.cmd ("faas plugin").
//
// APISIX runs, for a route under /api/v1, limit-count, cors and then
// ext-plugin-post-req, which calls the runner over a Unix socket. The runner
// hands the request to Plugin.RequestFilter, which turns it into an
// *http.Request, serves it with the platform's one shared http.Handler and
// writes the handler's answer back as a Stop, which APISIX returns to the
// client as is. The routes have no upstream: a request the plugin does not
// answer ends as APISIX's 503.
//
// The runner (github.com/apache/apisix-go-plugin-runner v0.5.0) has traps the
// plugin works around; see /work/shared/apisix/ext-plugin-protocol.md:
//   - a body is asked for with an ExtraInfo round trip to APISIX: the plugin
//     checks Content-Length against Conf.MaxBodyBytes first and never asks
//     for a body it would refuse, nor for a request that has none (nginx's
//     client_max_body_size, 200k in apisix/config.yaml, cuts a chunked body
//     first, with a JSON 413 of the same body as the plugin's);
//   - the runner reads a frame with a single read(2), which breaks on bodies
//     over ~214 KiB and, now and then, on any body over one socket chunk
//     (36 KiB): the plugin reads the body frame itself, whole (bodyconn.go),
//     and if a read still fails it makes the runner drop the connection;
//   - a Stop with an empty body and a status >= 400 becomes nginx's HTML error
//     page: the plugin always sends a JSON body with such a status;
//   - APISIX sets Stop headers one by one, so a repeated header keeps only its
//     last value: the plugin joins repeated values with ", " (but Set-Cookie);
//   - a response of 16 MiB or more is framed wrongly: responses over
//     MaxResponseBytes are replaced by a JSON 500;
//   - the request context ends 56 s after the call started (APISIX gives up
//     at 60 s): the plugin answers 503 then, even if the handler goes on.
package plugin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"

	pkgHTTP "github.com/apache/apisix-go-plugin-runner/pkg/http"
	"go.uber.org/zap"

	"github.com/faasplatform/faas/api"
	"github.com/faasplatform/faas/domain"
)

// Name is the plugin's name: the "name" of its entry in a route's
// ext-plugin-post-req conf list.
const Name = "faas"

// MaxResponseBytes caps the body of an answer. Runner v0.5.0 frames a reply
// with a 3-byte length, so 16 MiB or more is framed wrongly and breaks the
// call; 8 MiB leaves room for headers and stays far from it.
const MaxResponseBytes = 8 << 20

// Plugin adapts the runner's requests to one http.Handler. It implements the
// runner's plugin interface (pkg/plugin.Plugin). Its methods are safe for
// concurrent use: the runner serves each APISIX connection in its own
// goroutine, and every call reaches the same handler.
type Plugin struct {
	h   http.Handler
	log *zap.Logger

	active atomic.Int64 // RequestFilter calls in progress, for Serve's drain
}

// New returns the plugin serving h. A nil logger logs nothing.
func New(h http.Handler, logger *zap.Logger) *Plugin {
	if logger == nil {
		logger = zap.NewNop()
	}
	return &Plugin{h: h, log: logger.Named("plugin")}
}

// Name returns "faas".
func (p *Plugin) Name() string { return Name }

// ParseConf implements the runner's interface; it returns a Conf, see the
// package-level ParseConf for the format. An error makes the runner skip the
// plugin for the route (it logs the error at error level).
func (p *Plugin) ParseConf(in []byte) (any, error) {
	conf, err := ParseConf(in)
	if err != nil {
		p.log.Error("bad faas plugin conf; APISIX will skip the plugin for this route",
			zap.ByteString("conf", in), zap.Error(err))
		return nil, err
	}
	return conf, nil
}

// ResponseFilter does nothing: the plugin only runs as ext-plugin-post-req.
func (p *Plugin) ResponseFilter(any, pkgHTTP.Response) {}

// RequestFilter answers one request: it checks the body size, reads the body,
// serves the request with the handler and writes the answer to w, which makes
// the runner send a Stop. It never lets a panic of the handler or of its own
// code escape (they become a JSON 500), with one deliberate exception: when
// the body could not be read, it panics so that the runner closes the
// connection, whose framing is lost (see readBody).
func (p *Plugin) RequestFilter(conf any, w http.ResponseWriter, r pkgHTTP.Request) {
	p.active.Add(1)
	defer p.active.Add(-1)

	c, ok := conf.(Conf)
	if !ok {
		p.log.Error("faas plugin called with a conf it did not parse", zap.Any("conf", conf))
		errorAnswer(errors.New("unparsed plugin conf")).writeTo(w)
		return
	}

	resp, brokenConn := p.serve(c, r)
	if brokenConn != nil {
		// The body's frame was not read whole (or the connection failed):
		// the rest of it may still be in the socket, where the runner would
		// take it for the next frame. Panicking is the only way a plugin has
		// to make runner v0.5.0 close the connection (handleConn recovers,
		// logs "panic recovered" and closes it); APISIX then answers 503 and
		// does not reuse the connection.
		panic(brokenConn)
	}
	if resp == nil {
		return // not ours: no Stop, APISIX goes on
	}
	resp.writeTo(w)
}

// errConnBroken is the panic value RequestFilter uses to make the runner
// close a connection whose framing is lost.
type errConnBroken struct{ err error }

func (e errConnBroken) Error() string {
	return "faas plugin: runner connection lost its framing, closing it: " + e.err.Error()
}

// serve builds the answer to r. A nil answer means "leave the request alone".
// A non-nil error means the runner's connection must be closed.
func (p *Plugin) serve(c Conf, r pkgHTTP.Request) (resp *answer, brokenConn error) {
	defer func() {
		if v := recover(); v != nil {
			p.log.Error("faas plugin panicked", zap.Any("panic", v), zap.Stack("stack"))
			resp, brokenConn = errorAnswer(fmt.Errorf("plugin panic: %v", v)), nil
		}
	}()

	path := string(r.Path())
	if !c.servesPath(path) {
		p.log.Warn("request path outside api_prefix; not answered (APISIX answers 503 on a route without upstream)",
			zap.String("path", path), zap.String("api_prefix", c.APIPrefix))
		return nil, nil
	}

	hdr := r.Header().View().Clone()
	body, tooLarge, err := p.readBody(c, r, hdr)
	if err != nil {
		if errors.Is(err, errBadContentLength) {
			return errorAnswer(domain.Invalid("invalid Content-Length header")), nil
		}
		return nil, errConnBroken{err}
	}
	if tooLarge {
		return tooLargeAnswer(c.MaxBodyBytes), nil
	}

	req := buildRequest(r, path, hdr, body)
	return p.runHandler(req), nil
}

var errBadContentLength = errors.New("invalid Content-Length")

// tooLargeAnswer is the plugin's 413 for a body over maxBodyBytes.
func tooLargeAnswer(maxBodyBytes int64) *answer {
	a := errorAnswer(domain.Errorf(domain.ErrPayloadTooLarge, "request body exceeds %d bytes; send large data as an object", maxBodyBytes))
	// Byte for byte the error page nginx answers for a body over
	// client_max_body_size (apisix/config.yaml), which has no final newline.
	a.body = bytes.TrimSuffix(a.body, []byte("\n"))
	return a
}

// PayloadTooLargeBody is the JSON body of the plugin's 413 answer when a
// route's max_body_bytes is maxBodyBytes (Content-Type application/json).
// The error page apisix/config.yaml gives nginx's own 413 (a body over
// client_max_body_size) is this body for DefaultMaxBodyBytes, so a client
// gets the same answer whichever of the two refuses its body.
func PayloadTooLargeBody(maxBodyBytes int64) []byte {
	return append([]byte(nil), tooLargeAnswer(maxBodyBytes).body...)
}

// readBody returns the request body, or tooLarge when it exceeds the limit.
// The size is checked from Content-Length before the body is asked for, so
// that an oversized body never travels to the runner (nor is read by nginx:
// APISIX-Runtime checks client_max_body_size only when a body is read). A
// body sent without Content-Length (chunked) is asked for, then measured;
// nginx's client_max_body_size (200k in apisix/config.yaml, equal to
// DefaultMaxBodyBytes) bounds it first: over it, nginx ends the request with
// its own JSON 413 while the plugin waits for the body, and the read fails.
// The body frame is read whole on the runner's connection (fetchBody), or
// with the runner's own single read if that connection cannot be reached. A
// read error means the connection's framing is lost.
func (p *Plugin) readBody(c Conf, r pkgHTTP.Request, hdr http.Header) (body []byte, tooLarge bool, err error) {
	cl := hdr.Get("Content-Length")
	te := hdr.Get("Transfer-Encoding")
	if cl != "" {
		n, perr := strconv.ParseInt(strings.TrimSpace(cl), 10, 64)
		if perr != nil || n < 0 {
			return nil, false, errBadContentLength
		}
		if n > c.MaxBodyBytes {
			return nil, true, nil
		}
		if n == 0 {
			return nil, false, nil
		}
	} else if te == "" {
		return nil, false, nil // no body: spare the ExtraInfo round trip
	}

	if conn := runnerConn(r); conn != nil {
		body, err = fetchBody(r.Context(), conn)
	} else {
		body, err = r.Body() // single read: may break on a large body (see bodyconn.go)
	}
	if err != nil {
		p.log.Error("reading the request body from APISIX failed", zap.Error(err))
		return nil, false, fmt.Errorf("read request body: %w", err)
	}
	if int64(len(body)) > c.MaxBodyBytes {
		return nil, true, nil
	}
	return body, false, nil
}

// buildRequest turns the runner's request into a server-side *http.Request,
// as net/http's server would have built it.
func buildRequest(r pkgHTTP.Request, path string, hdr http.Header, body []byte) *http.Request {
	u := &url.URL{Path: path, RawQuery: r.Args().Encode()}
	host := hdr.Get("Host")
	hdr.Del("Host")
	hdr.Del("Transfer-Encoding") // the body is complete: it has a length now
	if len(body) > 0 {
		hdr.Set("Content-Length", strconv.Itoa(len(body)))
	}

	req := &http.Request{
		Method:        r.Method(),
		URL:           u,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        hdr,
		Host:          host,
		RequestURI:    u.RequestURI(),
		ContentLength: int64(len(body)),
		Body:          http.NoBody,
	}
	if len(body) > 0 {
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	if ip := r.SrcIP(); len(ip) == net.IPv4len || len(ip) == net.IPv6len {
		req.RemoteAddr = net.JoinHostPort(ip.String(), "0")
	}
	return req.WithContext(r.Context())
}

// runHandler serves req with the handler and returns its answer. It gives up
// when the request's context ends (the runner's 56 s deadline) and answers 503,
// so that APISIX gets an answer before its own 60 s timeout; the handler goes
// on in its goroutine until it notices the cancelled context.
func (p *Plugin) runHandler(req *http.Request) *answer {
	rec := newRecorder()
	done := make(chan *answer, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				p.log.Error("API handler panicked", zap.Any("panic", v),
					zap.String("method", req.Method), zap.String("path", req.URL.Path), zap.Stack("stack"))
				done <- errorAnswer(fmt.Errorf("API handler panic: %v", v))
			}
		}()
		p.h.ServeHTTP(rec, req)
		done <- rec.answer(p.log, req)
	}()

	ctx := req.Context()
	select {
	case a := <-done:
		return a
	case <-ctx.Done():
		select {
		case a := <-done: // finished at the same moment: prefer its answer
			return a
		default:
		}
		p.log.Warn("API handler did not answer before the runner's deadline",
			zap.String("method", req.Method), zap.String("path", req.URL.Path), zap.Error(context.Cause(ctx)))
		return errorAnswer(domain.Errorf(domain.ErrUnavailable, "the request took too long; try again later"))
	}
}

// answer is a complete HTTP answer, ready to be written as a Stop.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// errorAnswer is the contract's answer for err, written by the API's one
// error mapper (api.WriteError), so the plugin's own errors read exactly as
// the handler's.
func errorAnswer(err error) *answer {
	rec := newRecorder()
	api.WriteError(rec, err)
	return &answer{status: rec.status, header: rec.header, body: rec.body.Bytes()}
}

// hopHeaders are not copied to a Stop: APISIX/nginx frame the answer
// themselves (Content-Length included, computed from the body).
var hopHeaders = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Transfer-Encoding": true,
	"Upgrade": true, "Te": true, "Trailer": true, "Content-Length": true,
}

// writeTo writes a to the runner's ResponseWriter. The status is always set
// (so even a 200 with an empty body makes a Stop); a repeated header is joined
// with ", " because APISIX keeps only the last value of a Stop header.
func (a *answer) writeTo(w http.ResponseWriter) {
	dst := w.Header()
	for name, values := range a.header {
		name = http.CanonicalHeaderKey(name)
		if len(values) == 0 || hopHeaders[name] {
			continue
		}
		if name == "Set-Cookie" {
			dst[name] = append(dst[name], values...) // cannot be joined; APISIX keeps the last
			continue
		}
		dst.Set(name, strings.Join(values, ", "))
	}
	w.WriteHeader(a.status)
	if len(a.body) > 0 {
		_, _ = w.Write(a.body) // the runner's writer buffers in memory; it cannot fail
	}
}

// recorder is the http.ResponseWriter the handler writes to.
type recorder struct {
	header      http.Header
	status      int
	body        bytes.Buffer
	overflow    bool
	wroteHeader bool
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (rec *recorder) Header() http.Header { return rec.header }

func (rec *recorder) WriteHeader(status int) {
	if rec.wroteHeader || status < 200 { // 1xx are informational: not the answer
		return
	}
	rec.status = status
	rec.wroteHeader = true
}

func (rec *recorder) Write(b []byte) (int, error) {
	if !rec.wroteHeader {
		rec.WriteHeader(http.StatusOK)
	}
	if rec.overflow {
		return 0, errResponseTooLarge
	}
	if rec.body.Len()+len(b) > MaxResponseBytes {
		rec.overflow = true
		return 0, errResponseTooLarge
	}
	return rec.body.Write(b)
}

var errResponseTooLarge = fmt.Errorf("response body exceeds %d bytes", MaxResponseBytes)

// answer turns what the handler wrote into an answer. It replaces an
// oversized answer by a JSON 500 and gives an empty error answer a JSON body,
// since APISIX would turn it into nginx's HTML page.
func (rec *recorder) answer(log *zap.Logger, req *http.Request) *answer {
	if rec.overflow {
		log.Error("API answer too large for the runner; answering 500",
			zap.String("method", req.Method), zap.String("path", req.URL.Path), zap.Int("limit", MaxResponseBytes))
		return errorAnswer(errResponseTooLarge)
	}
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	a := &answer{status: status, header: rec.header, body: rec.body.Bytes()}
	if status == http.StatusNoContent || status == http.StatusNotModified {
		a.body = nil
	}
	if status >= 400 && len(a.body) == 0 {
		e := errorAnswer(api.ErrorForStatus(status))
		a.body = e.body
		a.header = a.header.Clone()
		a.header.Set("Content-Type", "application/json")
	}
	return a
}

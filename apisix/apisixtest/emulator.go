package apisixtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	A6 "github.com/api7/ext-plugin-proto/go/A6"
	ei "github.com/api7/ext-plugin-proto/go/A6/ExtraInfo"
	hrc "github.com/api7/ext-plugin-proto/go/A6/HTTPReqCall"
)

// DefaultClientMaxBodySize is nginx's client_max_body_size the emulator uses
// by default: the value of nginx_config.http.client_max_body_size in
// apisix/config.yaml, 200k (a test keeps the two equal).
const DefaultClientMaxBodySize = 200 << 10

// NoBodyLimit as Options.ClientMaxBodySize turns nginx's check off.
const NoBodyLimit = -1

// maxTries is how many times APISIX calls the runner for one request when the
// runner answers CONF_TOKEN_NOT_FOUND.
const maxTries = 3

// maxReqEntries is how many query arguments or headers APISIX passes (the
// default max of ngx.req.get_uri_args and ngx.req.get_headers).
const maxReqEntries = 100

// Options tune the emulator; the zero value means APISIX's defaults.
type Options struct {
	// ClientMaxBodySize is nginx's client_max_body_size in bytes. APISIX 3.x
	// runs on APISIX-Runtime with apisix_delay_client_max_body_check on, so
	// the check happens when the body is read (the runner asks for it), not
	// when the request arrives: a Content-Length over the limit, or a
	// chunked body growing past it, then ends the request with nginx's 413
	// (and the call to the runner is abandoned). A request whose body is
	// never read is not checked. 0 means DefaultClientMaxBodySize,
	// NoBodyLimit no check.
	ClientMaxBodySize int64
	// ErrorPages replace nginx's HTML error pages, by status, as the
	// error_page directives of config.yaml's http_server_configuration_snippet
	// do (Config.ErrorPages; Config.EmulatorOptions sets both fields). Such a
	// page is served by a named location, without APISIX's header filter:
	// no cors headers.
	ErrorPages map[int]ErrorPage
	// ConnectTimeout, SendTimeout and ReadTimeout are the cosocket timeouts
	// APISIX uses for the runner: 1 s, 60 s and 60 s. Any of them expiring
	// gives the client 503.
	ConnectTimeout, SendTimeout, ReadTimeout time.Duration
	// MaxIdleConns is the size of the keepalive pool (APISIX: 32 per nginx
	// worker); KeepaliveTimeout how long an idle connection is kept (180 s).
	MaxIdleConns     int
	KeepaliveTimeout time.Duration
	// DisableLimitCount skips limit-count, for tests that send many requests.
	DisableLimitCount bool
	// Upstreams serve the routes that have an upstream, by route id; the
	// emulator proxies nothing itself (such a route answers 502 without one).
	Upstreams map[string]http.Handler
	// Logf, if set, gets what APISIX would write to its error log.
	Logf func(format string, args ...any)
}

// Stats counts what the emulator did, for tests to check reuse and retries.
type Stats struct {
	Dials        int64 // new connections to the runner
	Reuses       int64 // calls that took a connection from the pool
	Discarded    int64 // pooled connections found closed by the runner and dropped
	Prepares     int64 // PrepareConf calls
	Calls        int64 // HTTPReqCall calls
	TokenRetries int64 // CONF_TOKEN_NOT_FOUND answers (each flushes the tokens)
	BodyFetches  int64 // ExtraInfo ReqBody requests answered
	VarFetches   int64 // ExtraInfo Var requests answered
	Stops        int64 // calls answered with a Stop
	Rewrites     int64 // calls answered with a Rewrite
	Failures     int64 // calls that ended in an error (503 and friends)
}

// Emulator plays APISIX for the routes it is given: nginx's body limit, the
// cors, limit-count and ext-plugin-post-req plugins, and the ext-plugin
// protocol to a runner on a Unix socket. It is an http.Handler; Do and URL
// give an HTTP server in front of it.
type Emulator struct {
	socket string
	opts   Options

	mu      sync.Mutex
	routes  []*route
	version int
	tokens  map[string]uint32
	idle    []*rpcConn
	windows map[string]*window
	server  *httptest.Server

	prepareMu sync.Mutex // APISIX's "prepare_conf" lock: one prepare at a time
	nextID    atomic.Uint32

	dials, reuses, discarded, prepares, calls, retries atomic.Int64
	bodies, vars, stops, rewrites, failures            atomic.Int64
}

type route struct {
	Route
	version int
}

type window struct {
	used  int64
	reset time.Time
}

// New returns an emulator that calls the runner listening on socketPath for
// the given routes (see LoadRoutes), with APISIX's defaults.
func New(socketPath string, routes ...Route) *Emulator {
	return NewWithOptions(socketPath, Options{}, routes...)
}

// NewWithOptions is New with options.
func NewWithOptions(socketPath string, opts Options, routes ...Route) *Emulator {
	if opts.ClientMaxBodySize == 0 {
		opts.ClientMaxBodySize = DefaultClientMaxBodySize
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = time.Second
	}
	if opts.SendTimeout <= 0 {
		opts.SendTimeout = 60 * time.Second
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = 60 * time.Second
	}
	if opts.MaxIdleConns <= 0 {
		opts.MaxIdleConns = 32
	}
	if opts.KeepaliveTimeout <= 0 {
		opts.KeepaliveTimeout = 180 * time.Second
	}
	e := &Emulator{socket: socketPath, opts: opts, tokens: map[string]uint32{}, windows: map[string]*window{}}
	e.SetRoutes(routes...)
	return e
}

// SetRoutes replaces the routes, as a reload of apisix.yaml does: the conf
// version changes, so every route's conf is prepared again under a new key.
func (e *Emulator) SetRoutes(routes ...Route) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.version++
	e.routes = e.routes[:0]
	for _, r := range routes {
		e.routes = append(e.routes, &route{Route: r, version: e.version})
	}
}

// FlushTokens forgets every conf token, as APISIX does when its runner exits
// or answers CONF_TOKEN_NOT_FOUND.
func (e *Emulator) FlushTokens() {
	e.mu.Lock()
	defer e.mu.Unlock()
	clear(e.tokens)
}

// Stats returns the counters so far.
func (e *Emulator) Stats() Stats {
	return Stats{
		Dials: e.dials.Load(), Reuses: e.reuses.Load(), Discarded: e.discarded.Load(),
		Prepares: e.prepares.Load(), Calls: e.calls.Load(), TokenRetries: e.retries.Load(),
		BodyFetches: e.bodies.Load(), VarFetches: e.vars.Load(), Stops: e.stops.Load(),
		Rewrites: e.rewrites.Load(), Failures: e.failures.Load(),
	}
}

// IdleConns is the number of connections in the keepalive pool.
func (e *Emulator) IdleConns() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.idle)
}

// URL starts (once) an HTTP server in front of the emulator and returns its
// base URL, e.g. "http://127.0.0.1:41234".
func (e *Emulator) URL() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.server == nil {
		e.server = httptest.NewServer(e)
	}
	return e.server.URL
}

// Do sends req through the emulator's HTTP server (see URL), like a client
// of APISIX would; the request's scheme and host are replaced, its Host
// header is kept.
func (e *Emulator) Do(req *http.Request) (*http.Response, error) {
	base, err := url.Parse(e.URL())
	if err != nil {
		return nil, fmt.Errorf("emulator url: %w", err)
	}
	out := req.Clone(req.Context())
	if out.Host == "" {
		out.Host = req.URL.Host
	}
	out.URL.Scheme, out.URL.Host = base.Scheme, base.Host
	out.RequestURI = ""
	e.mu.Lock()
	client := e.server.Client()
	e.mu.Unlock()
	resp, err := client.Do(out)
	if err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	return resp, nil
}

// Close stops the HTTP server (if started) and closes pooled connections.
func (e *Emulator) Close() {
	e.mu.Lock()
	srv := e.server
	e.server = nil
	idle := e.idle
	e.idle = nil
	e.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
	for _, c := range idle {
		_ = c.Close()
	}
}

func (e *Emulator) logf(format string, args ...any) {
	if e.opts.Logf != nil {
		e.opts.Logf("apisix: "+format, args...)
	}
}

// response is a complete answer to the client.
type response struct {
	status int
	header http.Header
	body   []byte
	// errorPage: served by an error_page's named location, which runs no
	// APISIX phase (no cors headers).
	errorPage bool
	// nginxExit: nginx ended the request itself while reading the body for
	// a plugin, so no plugin's _meta.error_response applies.
	nginxExit bool
}

// ServeHTTP answers r as APISIX would.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	resp := e.handle(r)
	for k, v := range resp.header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.status)
	_, _ = w.Write(resp.body)
}

func (e *Emulator) handle(r *http.Request) *response {
	// No client_max_body_size check here: APISIX-Runtime delays it until
	// the body is read (see Options.ClientMaxBodySize and bodySource).
	uri := nginxURI(r.URL.Path)
	rt := e.match(r.Method, uri)
	if rt == nil {
		return apisixJSON(http.StatusNotFound, "404 Route Not Found")
	}
	resp := e.phases(rt, r, uri)
	if rt.CORS != nil && !resp.errorPage {
		corsHeaders(rt.CORS, r, resp.header)
	}
	return resp
}

// phases runs the rewrite and access phases of the route's plugins, then the
// upstream (there is none on our API routes).
func (e *Emulator) phases(rt *route, r *http.Request, uri string) *response {
	// rewrite phase: cors (priority 4000) answers every OPTIONS itself.
	if rt.CORS != nil && r.Method == http.MethodOptions {
		return &response{status: http.StatusOK, header: http.Header{}}
	}
	// access phase: limit-count (1002), then ext-plugin-post-req (-3000).
	var quota http.Header
	if rt.LimitCount != nil && !e.opts.DisableLimitCount {
		var rejected *response
		quota, rejected = e.limitCount(rt, r, uri)
		if rejected != nil {
			return pluginExit(rt, "limit-count", rejected)
		}
	}
	resp := e.proceed(rt, r, uri)
	for k, v := range quota {
		resp.header[k] = v
	}
	return resp
}

func (e *Emulator) proceed(rt *route, r *http.Request, uri string) *response {
	var rewrite *callResult
	if rt.ExtConf != nil {
		var resp *response
		resp, rewrite = e.communicate(rt, r, uri)
		if resp != nil {
			return pluginExit(rt, PluginName, resp)
		}
	}
	if !rt.HasUpstream {
		e.logf("missing upstream configuration in Route or Service (route %s)", rt.ID)
		return e.nginxPage(http.StatusServiceUnavailable)
	}
	h := e.opts.Upstreams[rt.ID]
	if h == nil {
		e.logf("route %s: the emulator has no upstream handler for it", rt.ID)
		return e.nginxPage(http.StatusBadGateway)
	}
	if rt.ExtConf == nil {
		// nginx reads (buffers) the whole body before proxying it
		// (proxy_request_buffering on), under the route's body limit.
		data, err := (&bodySource{r: r, max: e.bodyLimit(rt)}).get()
		if err != nil {
			return e.bodyFailure(err)
		}
		r = r.Clone(r.Context())
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(data)), int64(len(data))
		r.TransferEncoding = nil // nginx sends the buffered body with a Content-Length
	}
	return proxy(h, r, rewrite)
}

// bodyLimit is the client_max_body_size nginx applies on rt: the route's
// client-control max_body_size when it sets one (0: none, as in nginx),
// else config.yaml's global one.
func (e *Emulator) bodyLimit(rt *route) int64 {
	switch {
	case rt.MaxBodySize == nil:
		return e.opts.ClientMaxBodySize
	case *rt.MaxBodySize == 0:
		return NoBodyLimit
	}
	return *rt.MaxBodySize
}

// bodyFailure is nginx's answer when reading the client's body failed:
// 413 over the limit, 400 for a broken body; no plugin's error_response.
func (e *Emulator) bodyFailure(err error) *response {
	status := http.StatusBadRequest
	if errors.Is(err, errBodyTooLarge) {
		status = http.StatusRequestEntityTooLarge
		e.logf("client intended to send too large body")
	} else {
		e.logf("reading the client's body: %v", err)
	}
	resp := e.nginxPage(status)
	resp.nginxExit = true
	return resp
}

// proxy serves r with an upstream handler, after the runner's Rewrite.
func proxy(h http.Handler, r *http.Request, rw *callResult) *response {
	out := r.Clone(r.Context())
	if rw != nil {
		if rw.hasPath {
			out.URL.Path, out.URL.RawPath = rw.path, ""
		}
		for _, hd := range rw.headers {
			if hd.hasValue {
				out.Header.Set(hd.name, hd.value)
			} else {
				out.Header.Del(hd.name)
			}
		}
		if len(rw.args) > 0 {
			q := out.URL.Query()
			changed := map[string]bool{}
			for _, a := range rw.args {
				switch {
				case !a.hasValue:
					q.Del(a.name)
				case changed[a.name]:
					q.Add(a.name, a.value)
				default:
					q.Set(a.name, a.value)
					changed[a.name] = true
				}
			}
			out.URL.RawQuery = q.Encode()
		}
		out.RequestURI = out.URL.RequestURI()
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, out)
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)
	if rw != nil {
		for _, hd := range rw.respHeaders {
			if hd.hasValue {
				res.Header.Set(hd.name, hd.value)
			}
		}
	}
	return &response{status: res.StatusCode, header: res.Header, body: body}
}

// pluginExit is APISIX's run_plugin after a plugin ended the request: with
// a status >= 400, the plugin's _meta.error_response, if any, replaces the
// body (the headers the plugin set stay); not when nginx itself ended the
// request (a body over client_max_body_size).
func pluginExit(rt *route, plugin string, resp *response) *response {
	body, ok := rt.ErrorResponses[plugin]
	if !ok || resp.status < 400 || resp.nginxExit {
		return resp
	}
	h := resp.header.Clone()
	if h.Get("Content-Type") == "" || strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		h.Set("Content-Type", "text/plain")
	}
	return &response{status: resp.status, header: h, body: body}
}

// match finds the route for a method and (normalized) uri as APISIX's
// radixtree router does: a full match before any prefix match ("/x*"), a
// longer prefix before a shorter one, then the higher priority, then the
// order of the file. A route whose methods do not allow the request's is
// passed over, so a shorter prefix may still match.
func (e *Emulator) match(method, uri string) *route {
	e.mu.Lock()
	defer e.mu.Unlock()
	var best *route
	bestRank := -1 // full match: len(uri)+1; prefix match: the prefix's length
	for _, rt := range e.routes {
		if len(rt.Methods) > 0 && !containsFold(rt.Methods, method) {
			continue
		}
		uris := rt.URIs
		if rt.URI != "" {
			uris = append([]string{rt.URI}, uris...)
		}
		rank := -1
		for _, u := range uris {
			if prefix, ok := strings.CutSuffix(u, "*"); ok {
				if strings.HasPrefix(uri, prefix) && len(prefix) > rank {
					rank = len(prefix)
				}
			} else if uri == u {
				rank = len(uri) + 1
			}
		}
		if rank < 0 {
			continue
		}
		if rank > bestRank || (rank == bestRank && rt.Priority > best.Priority) {
			best, bestRank = rt, rank
		}
	}
	return best
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// nginxURI is nginx's $uri: the decoded path with "//" merged and dot
// segments resolved (the trailing slash kept).
func nginxURI(p string) string {
	if p == "" {
		return "/"
	}
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	return clean
}

// communicate is ext-plugin-post-req: up to three calls to the runner,
// preparing the conf again after CONF_TOKEN_NOT_FOUND. It returns the answer
// to send, or the runner's Rewrite (possibly empty) to go on with.
func (e *Emulator) communicate(rt *route, r *http.Request, uri string) (*response, *callResult) {
	body := &bodySource{r: r, max: e.bodyLimit(rt)}
	var err error
	for try := 1; try <= maxTries; try++ {
		var res callResult
		res, err = e.rpcReqCall(rt, r, uri, body)
		switch {
		case err == nil && res.action == hrc.ActionStop:
			e.stops.Add(1)
			return e.stopResponse(res), nil
		case err == nil:
			if res.action == hrc.ActionRewrite {
				e.rewrites.Add(1)
			}
			return nil, &res
		case errors.Is(err, errBodyTooLarge), errors.Is(err, errBadBody):
			e.failures.Add(1)
			return e.bodyFailure(err), nil
		case errors.Is(err, errUnknownMethod):
			e.failures.Add(1)
			e.logf("lua runtime error: %v", err)
			return e.nginxPage(http.StatusInternalServerError), nil
		case !errors.Is(err, errConfTokenNotFound):
			e.failures.Add(1)
			e.logf("%v", err)
			return e.nginxPage(http.StatusServiceUnavailable), nil
		}
		e.retries.Add(1)
		e.logf("refresh cache and try again")
		e.FlushTokens()
	}
	e.failures.Add(1)
	e.logf("%v", err)
	return e.nginxPage(http.StatusServiceUnavailable), nil
}

var (
	errBodyTooLarge  = errors.New("request body larger than client_max_body_size")
	errBadBody       = errors.New("cannot read the request body")
	errUnknownMethod = errors.New("method not in the ext-plugin protocol")
)

// rpcReqCall makes one HTTPReqCall on a pooled connection, answering the
// runner's ExtraInfo requests, and decodes its answer. The connection goes
// back to the pool only after a complete, successful exchange.
func (e *Emulator) rpcReqCall(rt *route, r *http.Request, uri string, body *bodySource) (res callResult, err error) {
	method, ok := A6.EnumValuesMethod[r.Method]
	if !ok {
		return res, fmt.Errorf("%w: %s", errUnknownMethod, r.Method)
	}
	c, err := e.checkout()
	if err != nil {
		return res, err
	}
	defer func() {
		if err != nil {
			_ = c.Close()
		} else {
			e.checkin(c)
		}
	}()
	token, err := e.token(rt)
	if err != nil {
		return res, err
	}

	call := reqCall{
		id: e.nextID.Add(1), token: token, srcIP: srcIP(r), method: method, path: uri,
		args: uriArgs(r.URL.RawQuery), headers: requestHeaders(r),
	}
	e.calls.Add(1)
	if err := c.send(RPCHTTPReqCall, call.build(), e.opts.SendTimeout); err != nil {
		return res, fmt.Errorf("failed to send RPC_HTTP_REQ_CALL: %w", err)
	}
	for {
		ty, payload, err := c.receive(e.opts.ReadTimeout)
		if err != nil {
			if errors.Is(err, errConfTokenNotFound) {
				return res, err
			}
			return res, fmt.Errorf("failed to receive RPC_HTTP_REQ_CALL: %w", err)
		}
		if ty == RPCHTTPReqCall {
			return decodeCallResp(payload)
		}
		if ty != RPCExtraInfo {
			return res, fmt.Errorf("failed to receive RPC_HTTP_REQ_CALL: unexpected type %d", ty)
		}
		out, err := e.extraInfo(rt, r, uri, body, payload)
		if err != nil {
			return res, err
		}
		if err := c.send(RPCExtraInfo, out, e.opts.SendTimeout); err != nil {
			return res, fmt.Errorf("failed to reply RPC_EXTRA_INFO: %w", err)
		}
	}
}

// extraInfo answers one ExtraInfo request: an nginx variable or the body.
func (e *Emulator) extraInfo(rt *route, r *http.Request, uri string, body *bodySource, payload []byte) ([]byte, error) {
	x, err := decodeExtraInfo(payload)
	if err != nil {
		return nil, fmt.Errorf("failed to handle RPC_EXTRA_INFO: %w", err)
	}
	switch x.kind {
	case ei.InfoVar:
		e.vars.Add(1)
		return ExtraInfoAnswer(variable(rt, r, uri, x.name)), nil
	case ei.InfoReqBody:
		e.bodies.Add(1)
		data, err := body.get()
		if err != nil {
			return nil, err
		}
		return ExtraInfoAnswer(data), nil
	}
	return nil, fmt.Errorf("failed to handle RPC_EXTRA_INFO: unsupported info type: %d", x.kind)
}

// token returns the conf token of the route, preparing the conf when APISIX
// has none cached for its key.
func (e *Emulator) token(rt *route) (uint32, error) {
	key := fmt.Sprintf("route#%s#%s#%d", rt.ID, PluginName, rt.version)
	e.mu.Lock()
	t, ok := e.tokens[key]
	e.mu.Unlock()
	if ok {
		return t, nil
	}

	e.prepareMu.Lock()
	defer e.prepareMu.Unlock()
	e.mu.Lock()
	t, ok = e.tokens[key]
	e.mu.Unlock()
	if ok {
		return t, nil
	}

	c, err := e.checkout()
	if err != nil {
		return 0, err
	}
	t, err = e.prepare(c, key, rt.ExtConf)
	if err != nil {
		_ = c.Close()
		return 0, err
	}
	e.checkin(c)
	e.mu.Lock()
	e.tokens[key] = t
	e.mu.Unlock()
	return t, nil
}

func (e *Emulator) prepare(c *rpcConn, key string, conf []ConfEntry) (uint32, error) {
	e.prepares.Add(1)
	if err := c.send(RPCPrepareConf, buildPrepareConf(key, conf), e.opts.SendTimeout); err != nil {
		return 0, fmt.Errorf("failed to send RPC_PREPARE_CONF: %w", err)
	}
	ty, payload, err := c.receive(e.opts.ReadTimeout)
	if err != nil {
		return 0, fmt.Errorf("failed to receive RPC_PREPARE_CONF: %w", err)
	}
	if ty != RPCPrepareConf {
		return 0, fmt.Errorf("failed to receive RPC_PREPARE_CONF: unexpected type %d", ty)
	}
	return decodePrepareConf(payload)
}

// checkout takes a live connection from the pool or dials a new one.
func (e *Emulator) checkout() (*rpcConn, error) {
	for {
		e.mu.Lock()
		n := len(e.idle)
		if n == 0 {
			e.mu.Unlock()
			break
		}
		c := e.idle[n-1]
		e.idle = e.idle[:n-1]
		e.mu.Unlock()
		if time.Since(c.lastUsed) < e.opts.KeepaliveTimeout && c.alive() {
			e.reuses.Add(1)
			return c, nil
		}
		e.discarded.Add(1)
		_ = c.Close()
	}
	conn, err := net.DialTimeout("unix", e.socket, e.opts.ConnectTimeout)
	if err != nil {
		return nil, fmt.Errorf("failed to connect to the unix socket %s: %w", e.socket, err)
	}
	e.dials.Add(1)
	return &rpcConn{Conn: conn}, nil
}

// checkin returns a connection to the pool, or closes it when the pool is full.
func (e *Emulator) checkin(c *rpcConn) {
	_ = c.SetDeadline(time.Time{})
	c.lastUsed = time.Now()
	e.mu.Lock()
	if len(e.idle) < e.opts.MaxIdleConns {
		e.idle = append(e.idle, c)
		c = nil
	}
	e.mu.Unlock()
	if c != nil {
		_ = c.Close()
	}
}

// bodySource reads the client's body once, when the runner asks for it, as
// nginx does for ngx.req.read_body, enforcing client_max_body_size the way
// APISIX-Runtime's delayed check does: a Content-Length over the limit fails
// at once, without reading; a chunked body fails as soon as it passes it.
type bodySource struct {
	r    *http.Request
	max  int64
	done bool
	data []byte
	err  error
}

func (b *bodySource) get() ([]byte, error) {
	if b.done {
		return b.data, b.err
	}
	b.done = true
	if b.max > 0 && b.r.ContentLength > b.max {
		b.err = errBodyTooLarge
		return nil, b.err
	}
	if b.r.Body == nil {
		return nil, nil
	}
	var rd io.Reader = b.r.Body
	if b.max > 0 {
		rd = io.LimitReader(b.r.Body, b.max+1)
	}
	data, err := io.ReadAll(rd)
	switch {
	case err != nil:
		b.err = fmt.Errorf("%w: %v", errBadBody, err)
	case b.max > 0 && int64(len(data)) > b.max:
		b.err = errBodyTooLarge
	case len(data) > 0:
		b.data = data // an empty body is nil: APISIX's get_body returns nil
	}
	return b.data, b.err
}

// srcIP is nginx's $binary_remote_addr: 4 bytes for IPv4, 16 for IPv6.
func srcIP(r *http.Request) []byte {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	if ip == nil {
		ip = net.IPv4(127, 0, 0, 1)
	}
	if v4 := ip.To4(); v4 != nil {
		return v4
	}
	return ip.To16()
}

// uriArgs is ngx.req.get_uri_args as APISIX sends it: values grouped by
// name, a name without "=" has no value, at most 100 arguments.
func uriArgs(rawQuery string) []kv {
	var order []string
	grouped := map[string][]kv{}
	count := 0
	for _, part := range strings.Split(rawQuery, "&") {
		if part == "" || count == maxReqEntries {
			continue
		}
		name, value, hasValue := strings.Cut(part, "=")
		n, err := url.QueryUnescape(name)
		if err != nil {
			n = name
		}
		if n == "" {
			continue
		}
		v := value
		if hasValue {
			if uv, err := url.QueryUnescape(value); err == nil {
				v = uv
			}
		}
		if _, seen := grouped[n]; !seen {
			order = append(order, n)
		}
		grouped[n] = append(grouped[n], kv{name: n, value: v, hasValue: hasValue})
		count++
	}
	var out []kv
	for _, n := range order {
		out = append(out, grouped[n]...)
	}
	return out
}

// requestHeaders is ngx.req.get_headers as APISIX sends it: lower-case
// names, a repeated header repeated, Host included, at most 100 entries.
func requestHeaders(r *http.Request) []kv {
	h := r.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	if r.Host != "" {
		h.Set("Host", r.Host)
	}
	if len(r.TransferEncoding) > 0 {
		h.Set("Transfer-Encoding", strings.Join(r.TransferEncoding, ", "))
	} else if r.ContentLength > 0 && h.Get("Content-Length") == "" {
		h.Set("Content-Length", strconv.FormatInt(r.ContentLength, 10))
	}
	names := make([]string, 0, len(h))
	for n := range h {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []kv
	for _, n := range names {
		for _, v := range h[n] {
			if len(out) == maxReqEntries {
				return out
			}
			out = append(out, kv{name: strings.ToLower(n), value: v, hasValue: true})
		}
	}
	return out
}

// variable is APISIX's ctx.var[name] for the variables a runner may ask for;
// nil means unset.
func variable(rt *route, r *http.Request, uri, name string) []byte {
	str := func(s string) []byte {
		if s == "" {
			return nil
		}
		return []byte(s)
	}
	host, port, _ := net.SplitHostPort(r.RemoteAddr)
	switch name {
	case "uri":
		return []byte(uri)
	case "request_uri":
		return []byte(r.URL.RequestURI())
	case "args", "query_string":
		return str(r.URL.RawQuery)
	case "is_args":
		if r.URL.RawQuery != "" {
			return []byte("?")
		}
		return []byte{}
	case "host":
		h := r.Host
		if hh, _, err := net.SplitHostPort(h); err == nil {
			h = hh
		}
		return str(strings.ToLower(h))
	case "scheme":
		if r.TLS != nil {
			return []byte("https")
		}
		return []byte("http")
	case "server_protocol":
		return str(r.Proto)
	case "request_method", "method":
		return []byte(r.Method)
	case "remote_addr":
		return str(host)
	case "remote_port":
		return str(port)
	case "binary_remote_addr":
		return srcIP(r)
	case "content_length":
		if r.ContentLength > 0 {
			return []byte(strconv.FormatInt(r.ContentLength, 10))
		}
		return nil
	case "content_type":
		return str(r.Header.Get("Content-Type"))
	case "route_id":
		return []byte(rt.ID)
	}
	switch {
	case strings.HasPrefix(name, "http_"):
		hn := strings.ReplaceAll(strings.TrimPrefix(name, "http_"), "_", "-")
		if strings.EqualFold(hn, "host") {
			return str(r.Host)
		}
		return str(r.Header.Get(hn))
	case strings.HasPrefix(name, "arg_"):
		return str(r.URL.Query().Get(strings.TrimPrefix(name, "arg_")))
	case strings.HasPrefix(name, "cookie_"):
		if c, err := r.Cookie(strings.TrimPrefix(name, "cookie_")); err == nil {
			return str(c.Value)
		}
	}
	return nil
}

// stopResponse is APISIX's handling of a Stop: each header set in turn (so a
// repeated name keeps its last value), status 0 is 200, and an empty body
// with an error status becomes nginx's page for it (its HTML page, or the
// error_page of the configuration).
func (e *Emulator) stopResponse(res callResult) *response {
	status := res.status
	if status == 0 {
		status = http.StatusOK
	}
	h := http.Header{}
	for _, kv := range res.headers {
		if kv.hasValue {
			h.Set(kv.name, kv.value)
		} else {
			h.Del(kv.name)
		}
	}
	if len(res.body) == 0 && status >= 400 {
		page := e.nginxPage(status)
		for k, v := range page.header {
			h[k] = v
		}
		return &response{status: page.status, header: h, body: page.body, errorPage: page.errorPage}
	}
	return &response{status: status, header: h, body: res.body}
}

// nginxPage is nginx's answer when a request ends with an error status and
// no body (a "special response"): the configured error page for the status
// (Options.ErrorPages), else nginx's built-in HTML page. As nginx does, it
// closes the client's connection after a 400, 413 or 500.
func (e *Emulator) nginxPage(status int) *response {
	var resp *response
	if page, ok := e.opts.ErrorPages[status]; ok {
		h := http.Header{}
		h.Set("Content-Type", page.ContentType)
		resp = &response{status: page.Status, header: h, body: append([]byte(nil), page.Body...), errorPage: true}
	} else {
		resp = htmlPage(status)
	}
	switch status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusInternalServerError:
		resp.header.Set("Connection", "close")
	}
	return resp
}

// htmlPage is nginx's built-in error page for status: HTML, no JSON.
func htmlPage(status int) *response {
	text := http.StatusText(status)
	switch status {
	case http.StatusRequestEntityTooLarge:
		text = "Request Entity Too Large"
	case http.StatusServiceUnavailable:
		text = "Service Temporarily Unavailable"
	}
	body := fmt.Sprintf("<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n"+
		"<center><h1>%d %s</h1></center>\r\n<hr><center>openresty</center>\r\n</body>\r\n</html>\r\n",
		status, text, status, text)
	h := http.Header{}
	h.Set("Content-Type", "text/html")
	return &response{status: status, header: h, body: []byte(body)}
}

// apisixJSON is core.response.exit(status, {error_msg = msg}): a JSON body
// under nginx's default_type text/plain.
func apisixJSON(status int, msg string) *response {
	body, _ := json.Marshal(map[string]string{"error_msg": msg})
	h := http.Header{}
	h.Set("Content-Type", "text/plain") // nginx's default_type: exit sets none
	return &response{status: status, header: h, body: append(body, '\n')}
}

// limitCount is limit-count with policy "local": a fixed window per key. It
// returns the quota headers and, over the limit, the rejection.
func (e *Emulator) limitCount(rt *route, r *http.Request, uri string) (http.Header, *response) {
	lc := rt.LimitCount
	key := lc.Key
	switch lc.KeyType {
	case "constant":
	case "var_combination":
		var parts []string
		for _, f := range strings.Fields(key) {
			if v, ok := strings.CutPrefix(f, "$"); ok {
				parts = append(parts, string(variable(rt, r, uri, v)))
			} else {
				parts = append(parts, f)
			}
		}
		key = strings.Join(parts, " ")
	default: // "var"
		if key == "" {
			key = "remote_addr"
		}
		v := variable(rt, r, uri, key)
		if v == nil {
			v = variable(rt, r, uri, "remote_addr")
		}
		key = string(v)
	}
	key = rt.ID + "#" + key

	now := time.Now()
	e.mu.Lock()
	w := e.windows[key]
	if w == nil || !now.Before(w.reset) {
		w = &window{reset: now.Add(time.Duration(lc.TimeWindow) * time.Second)}
		e.windows[key] = w
	}
	w.used++
	used, reset := w.used, w.reset
	e.mu.Unlock()

	remaining := lc.Count - used
	if remaining < 0 {
		remaining = 0
	}
	h := http.Header{}
	if lc.ShowLimitQuotaHeader == nil || *lc.ShowLimitQuotaHeader {
		h.Set("X-RateLimit-Limit", strconv.FormatInt(lc.Count, 10))
		h.Set("X-RateLimit-Remaining", strconv.FormatInt(remaining, 10))
		h.Set("X-RateLimit-Reset", strconv.FormatInt(int64(time.Until(reset).Seconds()+0.999), 10))
	}
	if used <= lc.Count {
		return h, nil
	}
	code := lc.RejectedCode
	if code == 0 {
		code = http.StatusServiceUnavailable
	}
	var resp *response
	if lc.RejectedMsg != "" {
		resp = apisixJSON(code, lc.RejectedMsg)
	} else {
		resp = e.nginxPage(code)
	}
	for k, v := range h {
		resp.header[k] = v
	}
	return h, resp
}

// corsHeaders is the cors plugin's header filter.
func corsHeaders(c *CORS, r *http.Request, h http.Header) {
	origin := r.Header.Get("Origin")
	allowOrigins := c.AllowOrigins
	if allowOrigins == "" {
		allowOrigins = "*"
	}
	var allow string
	switch allowOrigins {
	case "*":
		allow = "*"
	case "**":
		allow = origin
	default:
		for _, o := range strings.Split(allowOrigins, ",") {
			if origin != "" && strings.TrimSpace(o) == origin {
				allow = origin
			}
		}
	}
	if allow == "" {
		return
	}
	h.Set("Access-Control-Allow-Origin", allow)
	if allow != "*" {
		h.Add("Vary", "Origin")
	}
	methods := c.AllowMethods
	if methods == "" || methods == "*" || methods == "**" {
		methods = "GET,POST,PUT,DELETE,PATCH,HEAD,OPTIONS,CONNECT,TRACE"
	}
	h.Set("Access-Control-Allow-Methods", methods)
	maxAge := 5
	if c.MaxAge != nil {
		maxAge = *c.MaxAge
	}
	h.Set("Access-Control-Max-Age", strconv.Itoa(maxAge))
	headers := c.AllowHeaders
	if headers == "" || headers == "*" || headers == "**" {
		headers = r.Header.Get("Access-Control-Request-Headers")
		if headers == "" {
			headers = "*"
		}
	}
	h.Set("Access-Control-Allow-Headers", headers)
	expose := c.ExposeHeaders
	if expose == "" {
		expose = "*"
	}
	h.Set("Access-Control-Expose-Headers", expose)
	if c.AllowCredential {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
}

package plugin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	pkgHTTP "github.com/apache/apisix-go-plugin-runner/pkg/http"

	"github.com/faasplatform/faas/plugin"
	"github.com/faasplatform/faas/plugin/internal/toyapi"
)

// fakeHeader is the runner's Header over an http.Header.
type fakeHeader struct{ http.Header }

func (h fakeHeader) View() http.Header { return h.Header }

// fakeRequest is a pkgHTTP.Request as the runner builds it: canonical header
// names, decoded args, a body fetched on demand.
type fakeRequest struct {
	method    string
	path      string
	header    http.Header
	args      url.Values
	body      []byte
	bodyErr   error
	bodyCalls int
	ip        net.IP
	ctx       context.Context
}

func (r *fakeRequest) ID() uint32                 { return 1 }
func (r *fakeRequest) SrcIP() net.IP              { return r.ip }
func (r *fakeRequest) Method() string             { return r.method }
func (r *fakeRequest) Path() []byte               { return []byte(r.path) }
func (r *fakeRequest) SetPath(p []byte)           { r.path = string(p) }
func (r *fakeRequest) Header() pkgHTTP.Header     { return fakeHeader{r.header} }
func (r *fakeRequest) Args() url.Values           { return r.args }
func (r *fakeRequest) Var(string) ([]byte, error) { return nil, nil }
func (r *fakeRequest) RespHeader() http.Header    { return http.Header{} }
func (r *fakeRequest) Context() context.Context   { return r.ctx }
func (r *fakeRequest) Body() ([]byte, error)      { r.bodyCalls++; return r.body, r.bodyErr }
func (r *fakeRequest) withHeader(kv ...string) *fakeRequest {
	for i := 0; i+1 < len(kv); i += 2 {
		r.header.Add(kv[i], kv[i+1])
	}
	return r
}

func newFakeRequest(method, target string) *fakeRequest {
	u, err := url.Parse(target)
	if err != nil {
		panic(err)
	}
	return &fakeRequest{
		method: method, path: u.Path, header: http.Header{"Host": {"api.example"}},
		args: u.Query(), ip: net.IPv4(192, 0, 2, 7).To4(), ctx: context.Background(),
	}
}

// captureWriter records what RequestFilter writes to the runner's writer.
type captureWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
	calls  int
}

func (w *captureWriter) Header() http.Header {
	if w.header == nil {
		w.header = http.Header{}
	}
	return w.header
}
func (w *captureWriter) WriteHeader(s int) { w.calls++; w.status = s }
func (w *captureWriter) Write(b []byte) (int, error) {
	w.calls++
	return w.body.Write(b)
}

type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func decodeError(t *testing.T, b []byte) apiError {
	t.Helper()
	var e apiError
	if err := json.Unmarshal(b, &e); err != nil || e.Error.Code == "" {
		t.Fatalf("body %q is not a JSON error: %v", b, err)
	}
	return e
}

func filter(t *testing.T, h http.Handler, conf any, r *fakeRequest) *captureWriter {
	t.Helper()
	w := &captureWriter{}
	plugin.New(h, nil).RequestFilter(conf, w, r)
	return w
}

func TestRequestFilterBuildsTheRequest(t *testing.T) {
	r := newFakeRequest("POST", "/api/v1/functions?flag=&x=1&x=2").
		withHeader("Content-Type", "application/json", "X-Multi", "a", "X-Multi", "b", "Content-Length", "11")
	r.body = []byte(`{"a":"bcd"}`)
	w := filter(t, toyapi.Handler, plugin.DefaultConf(), r)
	if w.status != 200 {
		t.Fatalf("status %d, body %s", w.status, w.body.String())
	}
	var e toyapi.Echo
	if err := json.Unmarshal(w.body.Bytes(), &e); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"method", e.Method, "POST"},
		{"path", e.Path, "/api/v1/functions"},
		{"query x", strings.Join(e.Query["x"], ","), "1,2"},
		{"query flag", len(e.Query["flag"]), 1},
		{"host", e.Host, "api.example"},
		{"no Host in the header map", len(e.Header["Host"]), 0},
		{"repeated header", strings.Join(e.Header["X-Multi"], ","), "a,b"},
		{"body", e.Body, `{"a":"bcd"}`},
		{"remote addr", e.RemoteAddr, "192.0.2.7:0"},
		{"body asked once", r.bodyCalls, 1},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.what, c.got, c.want)
		}
	}
}

func TestRequestFilter(t *testing.T) {
	unstick := make(chan struct{}) // frees the stuck handler when the test ends
	t.Cleanup(func() { close(unstick) })
	small := plugin.Conf{MaxBodyBytes: 10, APIPrefix: "/api/v1"}
	cases := []struct {
		name       string
		conf       any
		req        func() *fakeRequest
		handler    http.Handler
		wantStatus int    // 0: RequestFilter must not write at all
		wantCode   string // JSON error code, if any
		wantBody   string // the exact body, checked if checkBody
		checkBody  bool
		bodyCalls  int
		check      func(t *testing.T, w *captureWriter)
	}{
		{
			name: "content-length over the limit: 413 without asking for the body",
			conf: small,
			req: func() *fakeRequest {
				r := newFakeRequest("POST", "/api/v1/executions").withHeader("Content-Length", "11")
				r.body = []byte("01234567890")
				return r
			},
			wantStatus: 413, wantCode: "payload_too_large", bodyCalls: 0,
			check: func(t *testing.T, w *captureWriter) {
				if msg := decodeError(t, w.body.Bytes()).Error.Message; !strings.Contains(msg, "exceeds 10 bytes; send large data as an object") {
					t.Errorf("message %q", msg)
				}
			},
		},
		{
			name: "content-length at the limit passes",
			conf: small,
			req: func() *fakeRequest {
				r := newFakeRequest("POST", "/api/v1/executions").withHeader("Content-Length", "10")
				r.body = []byte("0123456789")
				return r
			},
			wantStatus: 200, bodyCalls: 1,
		},
		{
			name: "chunked body over the limit: read, then 413",
			conf: small,
			req: func() *fakeRequest {
				r := newFakeRequest("POST", "/api/v1/executions").withHeader("Transfer-Encoding", "chunked")
				r.body = bytes.Repeat([]byte("x"), 11)
				return r
			},
			wantStatus: 413, wantCode: "payload_too_large", bodyCalls: 1,
		},
		{
			name:       "no body: no ExtraInfo round trip",
			conf:       plugin.DefaultConf(),
			req:        func() *fakeRequest { return newFakeRequest("GET", "/api/v1/functions") },
			wantStatus: 200, bodyCalls: 0,
		},
		{
			name:       "content-length 0: no ExtraInfo round trip",
			conf:       plugin.DefaultConf(),
			req:        func() *fakeRequest { return newFakeRequest("POST", "/api/v1/x").withHeader("Content-Length", "0") },
			wantStatus: 200, bodyCalls: 0,
		},
		{
			name:       "invalid content-length: 400",
			conf:       plugin.DefaultConf(),
			req:        func() *fakeRequest { return newFakeRequest("POST", "/api/v1/x").withHeader("Content-Length", "ten") },
			wantStatus: 400, wantCode: "invalid_input",
		},
		{
			name:       "handler panics: JSON 500",
			conf:       plugin.DefaultConf(),
			req:        func() *fakeRequest { return newFakeRequest("GET", "/api/v1/x?panic=1") },
			wantStatus: 500, wantCode: "internal_error",
		},
		{
			name:       "handler writes nothing: 200",
			conf:       plugin.DefaultConf(),
			req:        func() *fakeRequest { return newFakeRequest("GET", "/api/v1/x?nowrite=1") },
			wantStatus: 200, wantBody: "", checkBody: true,
		},
		{
			name:       "error status without a body gets a JSON body",
			conf:       plugin.DefaultConf(),
			req:        func() *fakeRequest { return newFakeRequest("GET", "/api/v1/x?status=404&empty=1") },
			wantStatus: 404, wantCode: "invalid_input",
			check: func(t *testing.T, w *captureWriter) {
				if ct := w.header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type %q", ct)
				}
			},
		},
		{
			name:       "handler's JSON error is kept",
			conf:       plugin.DefaultConf(),
			req:        func() *fakeRequest { return newFakeRequest("GET", "/api/v1/x?status=409") },
			wantStatus: 409, wantCode: "toy_error",
		},
		{
			name:       "204 has no body",
			conf:       plugin.DefaultConf(),
			req:        func() *fakeRequest { return newFakeRequest("DELETE", "/api/v1/x?status=204&empty=1") },
			wantStatus: 204, wantBody: "", checkBody: true,
		},
		{
			name: "repeated response header joined; hop-by-hop headers dropped",
			conf: plugin.DefaultConf(),
			req:  func() *fakeRequest { return newFakeRequest("GET", "/api/v1/x") },
			handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Add("Vary", "Origin")
				w.Header().Add("Vary", "Accept")
				w.Header().Set("Content-Length", "2")
				w.Header().Set("Connection", "close")
				w.Header().Add("Set-Cookie", "a=1")
				w.Header().Add("Set-Cookie", "b=2")
				_, _ = io.WriteString(w, "ok")
			}),
			wantStatus: 200, wantBody: "ok", checkBody: true,
			check: func(t *testing.T, w *captureWriter) {
				if got := w.header.Values("Vary"); len(got) != 1 || got[0] != "Origin, Accept" {
					t.Errorf("Vary %q", got)
				}
				if w.header.Get("Content-Length") != "" || w.header.Get("Connection") != "" {
					t.Errorf("hop-by-hop headers copied: %v", w.header)
				}
				if got := w.header.Values("Set-Cookie"); len(got) != 2 {
					t.Errorf("Set-Cookie %q", got)
				}
			},
		},
		{
			name: "answer over MaxResponseBytes: JSON 500",
			conf: plugin.DefaultConf(),
			req: func() *fakeRequest {
				return newFakeRequest("GET", "/api/v1/x?bytes="+strconv.Itoa(plugin.MaxResponseBytes+1))
			},
			wantStatus: 500, wantCode: "internal_error",
		},
		{
			name: "handler too slow for the runner's deadline: JSON 503",
			conf: plugin.DefaultConf(),
			req: func() *fakeRequest {
				r := newFakeRequest("GET", "/api/v1/x")
				ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
				t.Cleanup(cancel)
				r.ctx = ctx
				return r
			},
			handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				// Ignores the context, like a stuck handler: it answers only
				// when the test ends, or after 10 s, well after the 50 ms
				// deadline, so that a plugin that waits for it fails (200
				// "late") instead of hanging. Not synchronisation.
				select {
				case <-unstick:
				case <-time.After(10 * time.Second):
				}
				_, _ = io.WriteString(w, "late")
			}),
			wantStatus: 503, wantCode: "unavailable",
		},
		{
			name:       "path outside api_prefix: left alone",
			conf:       plugin.Conf{MaxBodyBytes: 10, APIPrefix: "/api/v2"},
			req:        func() *fakeRequest { return newFakeRequest("GET", "/api/v1/x") },
			wantStatus: 0,
		},
		{
			name:       "api_prefix itself is served",
			conf:       plugin.Conf{MaxBodyBytes: 10, APIPrefix: "/api/v1"},
			req:        func() *fakeRequest { return newFakeRequest("GET", "/api/v1") },
			wantStatus: 200,
		},
		{
			name:       "a prefix is not a path prefix of another segment",
			conf:       plugin.Conf{MaxBodyBytes: 10, APIPrefix: "/api/v1"},
			req:        func() *fakeRequest { return newFakeRequest("GET", "/api/v10/x") },
			wantStatus: 0,
		},
		{
			name:       "conf of another type: JSON 500",
			conf:       "not a conf",
			req:        func() *fakeRequest { return newFakeRequest("GET", "/api/v1/x") },
			wantStatus: 500, wantCode: "internal_error",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.handler
			if h == nil {
				h = toyapi.Handler
			}
			r := tc.req()
			w := filter(t, h, tc.conf, r)
			if tc.wantStatus == 0 {
				if w.calls != 0 || len(w.header) != 0 {
					t.Fatalf("RequestFilter wrote (status %d, body %q); want no Stop", w.status, w.body.String())
				}
				return
			}
			if w.status != tc.wantStatus {
				t.Fatalf("status %d, want %d; body %s", w.status, tc.wantStatus, w.body.String())
			}
			if tc.wantCode != "" {
				if got := decodeError(t, w.body.Bytes()).Error.Code; got != tc.wantCode {
					t.Errorf("code %q, want %q", got, tc.wantCode)
				}
			}
			if tc.checkBody {
				if got := w.body.String(); got != tc.wantBody {
					t.Errorf("body %q, want %q", got, tc.wantBody)
				}
			}
			if r.bodyCalls != tc.bodyCalls {
				t.Errorf("Body() called %d times, want %d", r.bodyCalls, tc.bodyCalls)
			}
			if tc.check != nil {
				tc.check(t, w)
			}
		})
	}
}

// A failed body read leaves the runner's connection without framing: the
// plugin panics on purpose so that the runner closes it.
func TestRequestFilterPanicsToCloseABrokenConnection(t *testing.T) {
	r := newFakeRequest("POST", "/api/v1/x").withHeader("Content-Length", "5")
	r.bodyErr = errors.New("The connection is closed")
	defer func() {
		v := recover()
		err, ok := v.(error)
		if !ok || !strings.Contains(err.Error(), "closing it") {
			t.Fatalf("recovered %v; want the plugin's connection-broken panic", v)
		}
	}()
	filter(t, toyapi.Handler, plugin.DefaultConf(), r)
	t.Fatal("RequestFilter returned")
}

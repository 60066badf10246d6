package apisixtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	A6 "github.com/api7/ext-plugin-proto/go/A6"
	A6Err "github.com/api7/ext-plugin-proto/go/A6/Err"
	ei "github.com/api7/ext-plugin-proto/go/A6/ExtraInfo"
)

func testRoute() Route {
	return Route{ID: "r1", URI: "/api/v1/*", ExtConf: []ConfEntry{{Name: "faas", Value: "{}"}, {Name: "other", Value: `{"a":1}`}}}
}

func newTestEmulator(t *testing.T, f *fakeRunner, opts Options, routes ...Route) *Emulator {
	t.Helper()
	if len(routes) == 0 {
		routes = []Route{testRoute()}
	}
	opts.Logf = t.Logf
	e := NewWithOptions(f.path, opts, routes...)
	t.Cleanup(e.Close)
	return e
}

// serve runs one request through ServeHTTP directly.
func serve(e *Emulator, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	e.ServeHTTP(w, r)
	return w
}

func get(e *Emulator, target string) *httptest.ResponseRecorder {
	return serve(e, httptest.NewRequest("GET", target, nil))
}

func kvString(list []kv) string {
	var parts []string
	for _, x := range list {
		if x.hasValue {
			parts = append(parts, x.name+"="+x.value)
		} else {
			parts = append(parts, x.name)
		}
	}
	return strings.Join(parts, "&")
}

func TestRequestCallCarriesWhatAPISIXSends(t *testing.T) {
	f := startFakeRunner(t)
	e := newTestEmulator(t, f, Options{})

	r := httptest.NewRequest("PATCH", "http://api.example/api/v1//fn/./a%20b?x=1&flag&x=2&e=&sp=a+b", strings.NewReader("{}"))
	r.RemoteAddr = "192.0.2.9:5555"
	r.Header.Add("X-Multi", "a")
	r.Header.Add("X-Multi", "b")
	r.Header.Set("Content-Type", "application/json")
	if w := serve(e, r); w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	r6 := httptest.NewRequest("GET", "/api/v1/x", nil)
	r6.RemoteAddr = "[2001:db8::1]:5555"
	serve(e, r6)

	prepares, calls, _ := f.seen()
	if len(prepares) != 1 || len(calls) != 2 {
		t.Fatalf("%d prepares, %d calls; want 1 and 2", len(prepares), len(calls))
	}
	c := calls[0]
	checks := []struct {
		what      string
		got, want any
	}{
		{"prepare key", prepares[0].key, "route#r1#ext-plugin-post-req#1"},
		{"prepare conf", kvString(prepares[0].conf), `faas={}&other={"a":1}`},
		{"token", c.token, uint32(1)},
		{"method", c.method, A6.MethodPATCH},
		{"path: nginx's $uri, no query", c.path, "/api/v1/fn/a b"},
		{"args grouped, flag without value", kvString(c.args), "x=1&x=2&flag&e=&sp=a b"},
		{"headers lower-case, repeated, host", kvString(c.headers),
			"content-length=2&content-type=application/json&host=api.example&x-multi=a&x-multi=b"},
		{"IPv4 src_ip: 4 bytes", fmt.Sprint(c.srcIP), "[192 0 2 9]"},
		{"IPv6 src_ip: 16 bytes", len(calls[1].srcIP), 16},
		{"ids differ", calls[0].id != calls[1].id, true},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s: got %v, want %v", ch.what, ch.got, ch.want)
		}
	}
}

func TestAPISIXLimitsArgsAndHeadersTo100(t *testing.T) {
	var q []string
	for i := 0; i < 150; i++ {
		q = append(q, fmt.Sprintf("a%d=%d", i, i))
	}
	if n := len(uriArgs(strings.Join(q, "&"))); n != maxReqEntries {
		t.Errorf("%d args sent, want %d", n, maxReqEntries)
	}
	r := httptest.NewRequest("GET", "/", nil)
	for i := 0; i < 150; i++ {
		r.Header.Add("X-Many", "v")
	}
	if n := len(requestHeaders(r)); n != maxReqEntries {
		t.Errorf("%d headers sent, want %d", n, maxReqEntries)
	}
}

func TestStopAnswers(t *testing.T) {
	cases := []struct {
		name       string
		status     uint16
		headers    []kv
		body       []byte
		wantStatus int
		wantBody   string // "html" means nginx's page
		wantHeader map[string]string
	}{
		{"status 0 is 200", 0, nil, []byte("ok"), 200, "ok", nil},
		{"status and body kept", 201, []kv{{name: "content-type", value: "application/json", hasValue: true}}, []byte(`{"id":1}`), 201, `{"id":1}`,
			map[string]string{"Content-Type": "application/json"}},
		{"repeated header: last wins", 200, []kv{{name: "x-a", value: "1", hasValue: true}, {name: "X-A", value: "2", hasValue: true}}, []byte("ok"), 200, "ok",
			map[string]string{"X-A": "2"}},
		{"empty body with 404: nginx's HTML page", 404, []kv{{name: "x-a", value: "1", hasValue: true}}, nil, 404, "html",
			map[string]string{"Content-Type": "text/html", "X-A": "1"}},
		{"empty body with 200: empty", 200, nil, nil, 200, "", nil},
		{"empty body with 204", 204, nil, nil, 204, "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := startFakeRunner(t)
			f.setOnCall(func(fc *fakeConn, _ reqCall) { fc.stop(tc.status, tc.headers, tc.body) })
			w := get(newTestEmulator(t, f, Options{}), "/api/v1/x")
			if w.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d", w.Code, tc.wantStatus)
			}
			body := w.Body.String()
			if tc.wantBody == "html" {
				if !strings.Contains(body, "<html>") {
					t.Errorf("body %q, want nginx's page", body)
				}
			} else if body != tc.wantBody {
				t.Errorf("body %q, want %q", body, tc.wantBody)
			}
			for k, v := range tc.wantHeader {
				if got := w.Header().Values(k); len(got) != 1 || got[0] != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestNoStopMeansNoUpstream(t *testing.T) {
	t.Run("rewrite on a route without upstream: 503", func(t *testing.T) {
		f := startFakeRunner(t)
		f.setOnCall(func(fc *fakeConn, _ reqCall) { fc.rewrite("/elsewhere", nil, nil) })
		e := newTestEmulator(t, f, Options{})
		if w := get(e, "/api/v1/x"); w.Code != 503 {
			t.Fatalf("status %d", w.Code)
		}
		if s := e.Stats(); s.Rewrites != 1 || s.Failures != 0 {
			t.Errorf("stats %+v", s)
		}
	})
	t.Run("no action: 503", func(t *testing.T) {
		f := startFakeRunner(t)
		f.setOnCall(func(fc *fakeConn, _ reqCall) { fc.none() })
		if w := get(newTestEmulator(t, f, Options{}), "/api/v1/x"); w.Code != 503 {
			t.Fatalf("status %d", w.Code)
		}
	})
	t.Run("rewrite on a proxied route: upstream sees it", func(t *testing.T) {
		f := startFakeRunner(t)
		f.setOnCall(func(fc *fakeConn, _ reqCall) {
			fc.rewrite("/internal/x", []kv{{name: "X-User", value: "u1", hasValue: true}}, []kv{{name: "drop"}, {name: "k", value: "v", hasValue: true}})
		})
		rt := testRoute()
		rt.HasUpstream = true
		up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = fmt.Fprintf(w, "%s?%s user=%s", r.URL.Path, r.URL.RawQuery, r.Header.Get("X-User"))
		})
		e := newTestEmulator(t, f, Options{Upstreams: map[string]http.Handler{"r1": up}}, rt)
		w := get(e, "/api/v1/x?drop=1&keep=2")
		if w.Code != 200 || w.Body.String() != "/internal/x?k=v&keep=2 user=u1" {
			t.Fatalf("%d %q", w.Code, w.Body.String())
		}
	})
}

func TestRunnerErrors(t *testing.T) {
	t.Run("service unavailable: 503, connection closed", func(t *testing.T) {
		f := startFakeRunner(t)
		f.setOnCall(func(fc *fakeConn, _ reqCall) { fc.errFrame(A6Err.CodeSERVICE_UNAVAILABLE) })
		e := newTestEmulator(t, f, Options{})
		for i := 0; i < 2; i++ {
			if w := get(e, "/api/v1/x"); w.Code != 503 {
				t.Fatalf("status %d", w.Code)
			}
		}
		// First call: connection 1 for the call, 2 for the prepare (pooled);
		// second call: connection 2. Both closed after their error.
		if s := e.Stats(); s.TokenRetries != 0 || s.Calls != 2 || s.Dials != 2 || s.Reuses != 1 || e.IdleConns() != 0 {
			t.Errorf("stats %+v, %d idle: want 2 calls, no retry, failed connections closed", s, e.IdleConns())
		}
	})
	t.Run("conf token not found, always: three tries, then 503", func(t *testing.T) {
		f := startFakeRunner(t)
		f.setOnCall(func(fc *fakeConn, _ reqCall) { fc.errFrame(A6Err.CodeCONF_TOKEN_NOT_FOUND) })
		e := newTestEmulator(t, f, Options{})
		if w := get(e, "/api/v1/x"); w.Code != 503 {
			t.Fatalf("status %d", w.Code)
		}
		if s := e.Stats(); s.Calls != 3 || s.Prepares != 3 || s.TokenRetries != 3 {
			t.Errorf("stats %+v: want 3 calls, 3 prepares, 3 retries", s)
		}
	})
	t.Run("conf token not found once: prepared again, answered", func(t *testing.T) {
		f := startFakeRunner(t)
		first := true
		f.setOnCall(func(fc *fakeConn, call reqCall) {
			if first {
				first = false
				fc.errFrame(A6Err.CodeCONF_TOKEN_NOT_FOUND)
				return
			}
			fc.stop(200, nil, []byte(fmt.Sprint(call.token)))
		})
		e := newTestEmulator(t, f, Options{})
		w := get(e, "/api/v1/x")
		if w.Code != 200 || w.Body.String() != "2" {
			t.Fatalf("%d %q: want 200 with the new token 2", w.Code, w.Body.String())
		}
		prepares, _, _ := f.seen()
		if len(prepares) != 2 || prepares[0].key != prepares[1].key {
			t.Errorf("prepares %+v: want the same key twice", prepares)
		}
	})
	t.Run("connection closed mid-call: 503", func(t *testing.T) {
		f := startFakeRunner(t)
		f.setOnCall(func(fc *fakeConn, _ reqCall) { fc.close() })
		if w := get(newTestEmulator(t, f, Options{}), "/api/v1/x"); w.Code != 503 {
			t.Fatalf("status %d", w.Code)
		}
	})
	t.Run("unexpected frame type: 503", func(t *testing.T) {
		f := startFakeRunner(t)
		f.setOnCall(func(fc *fakeConn, _ reqCall) { fc.write(RPCPrepareConf, []byte{0, 0, 0, 0}) })
		if w := get(newTestEmulator(t, f, Options{}), "/api/v1/x"); w.Code != 503 {
			t.Fatalf("status %d", w.Code)
		}
	})
	t.Run("read timeout: 503", func(t *testing.T) {
		f := startFakeRunner(t)
		unstick := make(chan struct{})
		t.Cleanup(func() { close(unstick) }) // before the fake runner's own cleanup
		f.setOnCall(func(fc *fakeConn, _ reqCall) {
			// A stuck runner, not synchronisation: it answers when the test
			// ends, or after 10 s so that an emulator that ignores its read
			// timeout fails (200) instead of hanging.
			select {
			case <-unstick:
			case <-time.After(10 * time.Second):
			}
			fc.stop(200, nil, nil)
		})
		start := time.Now()
		if w := get(newTestEmulator(t, f, Options{ReadTimeout: 50 * time.Millisecond}), "/api/v1/x"); w.Code != 503 {
			t.Fatalf("status %d", w.Code)
		}
		if d := time.Since(start); d > 5*time.Second { // generous: the read timeout is 50 ms
			t.Errorf("answered after %v: the read timeout did not apply", d)
		}
	})
	t.Run("no runner: 503", func(t *testing.T) {
		e := NewWithOptions("/nonexistent/r.sock", Options{Logf: t.Logf}, testRoute())
		defer e.Close()
		if w := get(e, "/api/v1/x"); w.Code != 503 {
			t.Fatalf("status %d", w.Code)
		}
	})
	t.Run("method outside the protocol: 500", func(t *testing.T) {
		f := startFakeRunner(t)
		w := serve(newTestEmulator(t, f, Options{}), httptest.NewRequest("PURGE", "/api/v1/x", nil))
		if w.Code != 500 {
			t.Fatalf("status %d", w.Code)
		}
	})
}

func TestExtraInfo(t *testing.T) {
	f := startFakeRunner(t)
	f.setOnCall(func(fc *fakeConn, _ reqCall) {
		var out []string
		for _, name := range []string{"remote_addr", "uri", "request_uri", "http_x_foo", "arg_a", "route_id", "nope"} {
			v, err := fc.ask(ei.InfoVar, name)
			if err != nil {
				fc.close()
				return
			}
			if v == nil {
				out = append(out, name+"=<nil>")
			} else {
				out = append(out, name+"="+string(v))
			}
		}
		body, err := fc.ask(ei.InfoReqBody, "")
		if err != nil {
			fc.close()
			return
		}
		again, _ := fc.ask(ei.InfoReqBody, "") // nginx keeps the body: asking twice works
		out = append(out, fmt.Sprintf("body=%s again=%s", body, again))
		fc.stop(200, nil, []byte(strings.Join(out, " ")))
	})
	e := newTestEmulator(t, f, Options{})
	r := httptest.NewRequest("POST", "/api/v1/x?a=1", strings.NewReader("hello"))
	r.RemoteAddr = "192.0.2.1:4000"
	r.Header.Set("X-Foo", "bar")
	w := serve(e, r)
	want := "remote_addr=192.0.2.1 uri=/api/v1/x request_uri=/api/v1/x?a=1 http_x_foo=bar arg_a=1 route_id=r1 nope=<nil> body=hello again=hello"
	if w.Code != 200 || w.Body.String() != want {
		t.Fatalf("%d %q\nwant %q", w.Code, w.Body.String(), want)
	}

	t.Run("no body: no result", func(t *testing.T) {
		f := startFakeRunner(t)
		f.setOnCall(func(fc *fakeConn, _ reqCall) {
			b, _ := fc.ask(ei.InfoReqBody, "")
			fc.stop(200, nil, []byte(fmt.Sprintf("nil=%v", b == nil)))
		})
		if w := get(newTestEmulator(t, f, Options{}), "/api/v1/x"); w.Body.String() != "nil=true" {
			t.Fatalf("%q", w.Body.String())
		}
	})
	t.Run("response body in the request phase: 503", func(t *testing.T) {
		f := startFakeRunner(t)
		f.setOnCall(func(fc *fakeConn, _ reqCall) {
			if _, err := fc.ask(ei.InfoRespBody, ""); err == nil {
				fc.stop(200, nil, nil)
			}
		})
		if w := get(newTestEmulator(t, f, Options{}), "/api/v1/x"); w.Code != 503 {
			t.Fatalf("status %d", w.Code)
		}
	})
}

func TestNginxBodyLimit(t *testing.T) {
	f := startFakeRunner(t)
	f.setOnCall(func(fc *fakeConn, call reqCall) {
		if strings.Contains(kvString(call.args), "nobody") {
			fc.stop(200, nil, []byte("not read"))
			return
		}
		b, err := fc.ask(ei.InfoReqBody, "")
		if err != nil {
			fc.close()
			return
		}
		fc.stop(200, nil, []byte(fmt.Sprint(len(b))))
	})
	jsonPage := ErrorPage{Status: 413, ContentType: "application/json", Body: []byte(`{"error":{"code":"payload_too_large"}}`)}
	html := newTestEmulator(t, f, Options{ClientMaxBodySize: 100})
	withPage := newTestEmulator(t, f, Options{ClientMaxBodySize: 100, ErrorPages: map[int]ErrorPage{413: jsonPage}},
		Route{ID: "r1", URI: "/api/v1/*", ExtConf: []ConfEntry{{Name: "faas", Value: "{}"}}, CORS: &CORS{}})

	cases := []struct {
		name      string
		target    string
		size      int
		chunked   bool
		status    int
		wantCalls int64
	}{
		{"content-length at the limit", "/api/v1/x", 100, false, 200, 1},
		// APISIX-Runtime delays the check until the body is read.
		{"content-length over, body never read: no check", "/api/v1/x?nobody", 101, false, 200, 1},
		{"content-length over: 413 when the body is asked for", "/api/v1/x", 101, false, 413, 1},
		{"chunked at the limit", "/api/v1/x", 100, true, 200, 1},
		{"chunked over: 413 when the body is read", "/api/v1/x", 101, true, 413, 1},
	}
	for _, e := range []struct {
		name string
		emu  *Emulator
	}{{"html", html}, {"error page", withPage}} {
		for _, tc := range cases {
			t.Run(e.name+"/"+tc.name, func(t *testing.T) {
				before := e.emu.Stats().Calls
				r := httptest.NewRequest("POST", tc.target, bytes.NewReader(make([]byte, tc.size)))
				if tc.chunked {
					r.ContentLength = -1
					r.TransferEncoding = []string{"chunked"}
				}
				w := serve(e.emu, r)
				if w.Code != tc.status {
					t.Fatalf("status %d, want %d", w.Code, tc.status)
				}
				if w.Code == 413 {
					if w.Header().Get("Connection") != "close" {
						t.Error("nginx keeps the connection after a 413")
					}
					if e.emu == html && !strings.Contains(w.Body.String(), "413 Request Entity Too Large") {
						t.Errorf("body %q", w.Body.String())
					}
					if e.emu == withPage {
						if w.Body.String() != string(jsonPage.Body) || w.Header().Get("Content-Type") != "application/json" {
							t.Errorf("%q %q, want the error page", w.Header().Get("Content-Type"), w.Body.String())
						}
						if w.Header().Get("Access-Control-Allow-Origin") != "" {
							t.Error("cors headers on an error_page answer (its named location runs no APISIX phase)")
						}
					}
				}
				if calls := e.emu.Stats().Calls - before; calls != tc.wantCalls {
					t.Errorf("%d calls to the runner, want %d", calls, tc.wantCalls)
				}
			})
		}
	}
}

// The error pages also replace nginx's page for a Stop with an empty body.
func TestErrorPageForEmptyStop(t *testing.T) {
	f := startFakeRunner(t)
	f.setOnCall(func(fc *fakeConn, _ reqCall) { fc.stop(413, nil, nil) })
	page := ErrorPage{Status: 413, ContentType: "application/json", Body: []byte(`{"a":1}`)}
	w := get(newTestEmulator(t, f, Options{ErrorPages: map[int]ErrorPage{413: page}}), "/api/v1/x")
	if w.Code != 413 || w.Body.String() != `{"a":1}` || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d %q %q", w.Code, w.Header().Get("Content-Type"), w.Body.String())
	}
}

func TestParseErrorPages(t *testing.T) {
	good := `
		# nginx comments and other server directives are fine
		error_page 413 414 @json;   # two codes
		error_page 500 =503 @plain;
		location @json {
			default_type application/json;
			return 413 '{"error":{"code":"x","message":"it\'s \"quoted\"; {braces}"}}';
		}
		location @plain { return 500 "a b"; }
	`
	pages, err := parseErrorPages(good)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]ErrorPage{
		413: {Status: 413, ContentType: "application/json", Body: []byte(`{"error":{"code":"x","message":"it's "quoted"; {braces}"}}`)},
		414: {Status: 414, ContentType: "application/json", Body: []byte(`{"error":{"code":"x","message":"it's "quoted"; {braces}"}}`)},
		500: {Status: 503, ContentType: "text/plain", Body: []byte("a b")},
	}
	if !reflect.DeepEqual(pages, want) {
		t.Errorf("pages\n%+v\nwant\n%+v", pages, want)
	}
	bad := []struct{ name, snippet, want string }{
		{"unknown location", "error_page 413 @x;", "not a named location"},
		{"uri target", "error_page 413 /413.json; location @x { return 413 x; }", "not a named location"},
		{"no code", "error_page @x; location @x { return 413 x; }", "want codes"},
		{"only an override", "error_page =200 @x; location @x { return 413 x; }", "no code"},
		{"bad code", "error_page 4x3 @x; location @x { return 413 x; }", "invalid code"},
		{"no return", "error_page 413 @x; location @x { default_type a/b; }", "no return"},
		{"other directive", "error_page 413 @x; location @x { proxy_pass http://a; return 413 x; }", "not emulated"},
		{"variable", "error_page 413 @x; location @x { return 413 \"$uri\"; }", "variable"},
		{"missing brace", "error_page 413 @x; location @x { return 413 x;", "missing"},
		{"extra brace", "error_page 413 @x; } location @x { return 413 x; }", "unexpected"},
		{"missing semicolon", "error_page 413 @x", "unexpected end"},
		{"unterminated quote", "error_page 413 @x; location @x { return 413 'x; }", "unterminated"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseErrorPages(tc.snippet)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// Routes match as in APISIX's radixtree: full uri, then the longest prefix,
// then priority; a route whose methods do not fit is passed over.
func TestRouteMatchOrder(t *testing.T) {
	f := startFakeRunner(t)
	f.setOnCall(func(fc *fakeConn, call reqCall) { fc.stop(200, nil, []byte(fmt.Sprint(call.token))) })
	ext := []ConfEntry{{Name: "faas", Value: "{}"}}
	routes := []Route{
		{ID: "any", URI: "/*", ExtConf: ext},
		{ID: "api", URI: "/api/*", ExtConf: ext},
		{ID: "api-post", URI: "/api/v1/*", Methods: []string{"POST"}, ExtConf: ext},
		{ID: "exact", URI: "/api/v1/health", ExtConf: ext},
		{ID: "low", URI: "/p/*", ExtConf: ext},
		{ID: "high", URI: "/p/*", Priority: 5, ExtConf: ext},
	}
	e := newTestEmulator(t, f, Options{}, routes...)
	cases := []struct{ method, path, route string }{
		{"GET", "/", "any"},
		{"GET", "/elsewhere", "any"},
		{"GET", "/api/v1/x", "api"}, // api-post does not take GET
		{"POST", "/api/v1/x", "api-post"},
		{"GET", "/api/v1/health", "exact"},
		{"POST", "/api/v1/health", "exact"},
		{"GET", "/p/q", "high"},
	}
	for _, tc := range cases {
		if rt := e.match(tc.method, tc.path); rt == nil || rt.ID != tc.route {
			t.Errorf("%s %s: route %v, want %s", tc.method, tc.path, rt, tc.route)
		}
	}
}

// A pooled connection the runner closed is dropped, not reused (nginx's
// keepalive pool closes it as soon as it turns readable).
func TestPoolDropsConnectionsTheRunnerClosed(t *testing.T) {
	f := startFakeRunner(t)
	closed := make(chan struct{}, 5)
	f.setOnCall(func(fc *fakeConn, _ reqCall) {
		fc.stop(200, nil, []byte("ok"))
		fc.close()
		closed <- struct{}{}
	})
	e := newTestEmulator(t, f, Options{})
	for i := 0; i < 5; i++ {
		if w := get(e, "/api/v1/x"); w.Code != 200 {
			t.Fatalf("call %d: status %d", i, w.Code)
		}
		// The runner has closed its end of the unix socket: the pooled
		// connection reads EOF from now on.
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Fatalf("call %d: the runner never closed the connection", i)
		}
	}
	if s := e.Stats(); s.Discarded < 4 || s.Failures != 0 {
		t.Errorf("stats %+v: want closed connections discarded, no failure", s)
	}
}

func TestPoolSize(t *testing.T) {
	f := startFakeRunner(t)
	e := newTestEmulator(t, f, Options{MaxIdleConns: 2})
	get(e, "/api/v1/x")
	conns := make([]*rpcConn, 4)
	for i := range conns {
		c, err := e.checkout()
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c
	}
	for _, c := range conns {
		e.checkin(c)
	}
	if n := e.IdleConns(); n != 2 {
		t.Errorf("%d idle connections, want 2", n)
	}
}

func TestTokensPerKeyAndConfVersion(t *testing.T) {
	f := startFakeRunner(t)
	e := newTestEmulator(t, f, Options{})
	for i := 0; i < 3; i++ {
		get(e, "/api/v1/x")
	}
	e.SetRoutes(testRoute()) // a reload: new conf version, new key
	get(e, "/api/v1/x")
	prepares, calls, _ := f.seen()
	if len(prepares) != 2 || prepares[1].key != "route#r1#ext-plugin-post-req#2" {
		t.Fatalf("prepares %+v", prepares)
	}
	if calls[2].token != 1 || calls[3].token != 2 {
		t.Errorf("tokens %d, %d; want 1 then 2", calls[2].token, calls[3].token)
	}
}

func TestRoutingCORSAndLimitCount(t *testing.T) {
	f := startFakeRunner(t)
	f.setOnCall(func(fc *fakeConn, _ reqCall) { fc.stop(404, nil, []byte(`{"error":{"code":"function_not_found"}}`)) })
	routes, err := ParseRoutes([]byte(`
routes:
  - id: 1
    uri: /api/v1/*
    methods: [GET, OPTIONS]
    plugins:
      cors: {allow_origins: "https://a.example,https://b.example"}
      limit-count:
        count: 2
        time_window: 60
        rejected_code: 429
        _meta: {error_response: {error: {code: rate_limited, message: slow down}}}
      ext-plugin-post-req:
        conf: [{name: faas, value: "{}"}]
  - id: exact
    uri: /exact
    plugins:
      limit-count: {count: 1, time_window: 60, rejected_code: 503, rejected_msg: busy}
      ext-plugin-post-req:
        conf: [{name: faas, value: "{}"}]
#END
`))
	if err != nil {
		t.Fatal(err)
	}
	e := newTestEmulator(t, f, Options{}, routes...)

	origin := func(method, target, o string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, target, nil)
		if o != "" {
			r.Header.Set("Origin", o)
		}
		return serve(e, r)
	}
	cases := []struct {
		name   string
		w      *httptest.ResponseRecorder
		status int
		body   string // a part of the body
		header map[string]string
	}{
		{"no route", origin("GET", "/nope", ""), 404, `{"error_msg":"404 Route Not Found"}`, nil},
		{"method not in the route", origin("POST", "/api/v1/x", ""), 404, "Route Not Found", nil},
		{"exact uri only", origin("GET", "/exact/more", ""), 404, "Route Not Found", nil},
		{"preflight answered by cors", origin("OPTIONS", "/api/v1/x", "https://b.example"), 200, "",
			map[string]string{"Access-Control-Allow-Origin": "https://b.example", "Vary": "Origin"}},
		{"plugin's 404 kept, cors added", origin("GET", "/api/v1/x", "https://a.example"), 404, "function_not_found",
			map[string]string{"Access-Control-Allow-Origin": "https://a.example", "X-RateLimit-Remaining": "1"}},
		{"origin not allowed: no cors headers", origin("GET", "/api/v1/x", "https://evil.example"), 404, "function_not_found",
			map[string]string{"Access-Control-Allow-Origin": "", "X-RateLimit-Remaining": "0"}},
		{"over the limit: error_response", origin("GET", "/api/v1/x", ""), 429, `{"error":{"code":"rate_limited","message":"slow down"}}`,
			map[string]string{"X-RateLimit-Limit": "2", "X-RateLimit-Remaining": "0"}},
		{"exact route", origin("GET", "/exact", ""), 404, "function_not_found", nil},
		{"rejected_msg", origin("GET", "/exact", ""), 503, `{"error_msg":"busy"}`, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.w.Code != tc.status || !strings.Contains(tc.w.Body.String(), tc.body) {
				t.Fatalf("%d %q; want %d with %q", tc.w.Code, tc.w.Body.String(), tc.status, tc.body)
			}
			for k, v := range tc.header {
				if got := tc.w.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
	if _, calls, _ := f.seen(); len(calls) != 3 {
		t.Errorf("%d calls reached the runner, want 3 (no preflight, no rejected call)", len(calls))
	}
}

// _meta.error_response on ext-plugin-post-req would replace the plugin's own
// error bodies: the reason apisix.yaml must not set it.
func TestErrorResponseOnExtPluginReplacesAPIErrors(t *testing.T) {
	f := startFakeRunner(t)
	f.setOnCall(func(fc *fakeConn, _ reqCall) {
		fc.stop(404, []kv{{name: "content-type", value: "application/json", hasValue: true}}, []byte(`{"error":{"code":"function_not_found"}}`))
	})
	routes, err := ParseRoutes([]byte("routes:\n  - id: 1\n    uri: /api/v1/*\n    plugins:\n      ext-plugin-post-req:\n" +
		"        _meta: {error_response: gateway error}\n        conf: [{name: faas, value: \"{}\"}]\n#END\n"))
	if err != nil {
		t.Fatal(err)
	}
	w := get(newTestEmulator(t, f, Options{}, routes...), "/api/v1/x")
	if w.Code != 404 || w.Body.String() != "gateway error" {
		t.Fatalf("%d %q", w.Code, w.Body.String())
	}
}

func TestDoAndURL(t *testing.T) {
	f := startFakeRunner(t)
	f.setOnCall(func(fc *fakeConn, call reqCall) {
		fc.stop(200, nil, []byte(kvString(call.headers)))
	})
	e := newTestEmulator(t, f, Options{})
	req, err := http.NewRequest("GET", "http://api.example/api/v1/x", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(b), "host=api.example") {
		t.Fatalf("%d %q", resp.StatusCode, b)
	}
	if !strings.HasPrefix(e.URL(), "http://127.0.0.1:") {
		t.Errorf("URL %q", e.URL())
	}
}

func TestParseRoutesAndConfig(t *testing.T) {
	cases := []struct {
		name, yaml, wantErr string
	}{
		{"no #END", "routes:\n  - id: 1\n    uri: /x\n", "#END"},
		{"no id", "routes:\n  - uri: /x\n#END\n", "no id"},
		{"ext conf not a list", "routes:\n  - id: 1\n    uri: /x\n    plugins:\n      ext-plugin-post-req: {conf: 5}\n#END\n", "ext-plugin-post-req"},
		{"not yaml", "routes: [\n#END\n", "parse yaml"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRoutes([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
	routes, err := ParseRoutes([]byte("routes:\n  - id: 7\n    uri: /a\n  - id: off\n    uri: /b\n    status: 0\n#END\n"))
	if err != nil || len(routes) != 1 || routes[0].ID != "7" {
		t.Fatalf("routes %+v, %v: want route 7 only (a disabled route is skipped)", routes, err)
	}

	cfg, err := ParseConfig([]byte("nginx_config:\n  envs: [A, B=fixed]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClientMaxBodySize != 1<<20 {
		t.Errorf("default client_max_body_size %d, want nginx's 1m", cfg.ClientMaxBodySize)
	}
	t.Setenv("A", "from-env")
	env := cfg.RunnerEnv(map[string]string{"C": "not listed"})
	if strings.Join(env, " ") != "A=from-env B=fixed" {
		t.Errorf("runner env %q", env)
	}
	if _, err := ParseConfig([]byte("nginx_config:\n  http:\n    client_max_body_size: lots\n")); err == nil {
		t.Error("a bad client_max_body_size was accepted")
	}
	cfg, err = ParseConfig([]byte("nginx_config:\n  http:\n    client_max_body_size: 0\n" +
		"  http_server_configuration_snippet: |\n    error_page 413 @j;\n    location @j { return 413 '{}'; }\n"))
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.EmulatorOptions()
	if o.ClientMaxBodySize != NoBodyLimit || string(o.ErrorPages[413].Body) != "{}" || o.ErrorPages[413].ContentType != "text/plain" {
		t.Errorf("emulator options %+v: want no body limit and the 413 page", o)
	}
	if _, err := ParseConfig([]byte("nginx_config:\n  http_server_configuration_snippet: 'error_page 413 @j;'\n")); err == nil {
		t.Error("an error_page to a missing location was accepted")
	}
}

func TestVariablesJSON(t *testing.T) {
	// The emulator's 404 for an unknown route is APISIX's JSON.
	var v map[string]string
	if err := json.Unmarshal(apisixJSON(404, "404 Route Not Found").body, &v); err != nil || v["error_msg"] == "" {
		t.Fatalf("%v %v", v, err)
	}
}

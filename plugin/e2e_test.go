package plugin_test

// End-to-end tests: the APISIX emulator (apisix/apisixtest) drives the real
// runner v0.5.0 in a separate process (internal/testrunner, which serves the
// toy API through plugin.Serve) over a real Unix socket, with the routes of
// apisix/apisix.yaml and the environment config.yaml lets through.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faasplatform/faas/apisix/apisixtest"
	"github.com/faasplatform/faas/plugin"
	"github.com/faasplatform/faas/plugin/internal/toyapi"
)

const (
	testRunnerPkg = "github.com/faasplatform/faas/plugin/internal/testrunner"
	configPath    = "../apisix/config.yaml"
	routesPath    = "../apisix/apisix.yaml"
)

func TestMain(m *testing.M) {
	code := m.Run()
	apisixtest.CleanupBuilds()
	os.Exit(code)
}

// gateway is the emulated APISIX in front of a real runner process.
type gateway struct {
	runner *apisixtest.Runner
	emu    *apisixtest.Emulator
	url    string
}

// startGateway starts the test runner and an emulator for routes (the real
// apisix.yaml when none are given), served by an httptest.Server. The
// emulator's nginx has config.yaml's client_max_body_size and error pages
// unless opts sets others.
func startGateway(t *testing.T, opts apisixtest.Options, routes ...apisixtest.Route) *gateway {
	t.Helper()
	cfg, err := apisixtest.LoadConfig(configPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(routes) == 0 {
		if routes, err = apisixtest.LoadRoutes(routesPath); err != nil {
			t.Fatal(err)
		}
	}
	bin := apisixtest.GoBuild(t, testRunnerPkg)
	r := apisixtest.StartRunner(t, bin, nil, cfg.RunnerEnv(map[string]string{"LOG_LEVEL": "warn"}))
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	fromConfig := cfg.EmulatorOptions()
	if opts.ClientMaxBodySize == 0 {
		opts.ClientMaxBodySize = fromConfig.ClientMaxBodySize
	}
	if opts.ErrorPages == nil {
		opts.ErrorPages = fromConfig.ErrorPages
	}
	emu := apisixtest.NewWithOptions(r.SocketPath(), opts, routes...)
	srv := httptest.NewServer(emu)
	t.Cleanup(func() {
		srv.Close() // waits for requests in progress: no t.Logf after the test
		emu.Close()
	})
	return &gateway{runner: r, emu: emu, url: srv.URL}
}

// apiRoute is the API route of apisix.yaml with another faas conf value.
func apiRoute(t *testing.T, value string) apisixtest.Route {
	t.Helper()
	routes, err := apisixtest.LoadRoutes(routesPath)
	if err != nil {
		t.Fatal(err)
	}
	r := routes[0]
	r.ExtConf = []apisixtest.ConfEntry{{Name: plugin.Name, Value: value}}
	return r
}

type result struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, method, url string, body io.Reader, header ...string) result {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if strings.EqualFold(header[i], "Host") {
			req.Host = header[i+1]
			continue
		}
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v (a broken connection, not an answer)", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, url, err)
	}
	return result{status: resp.StatusCode, header: resp.Header, body: b}
}

func echoOf(t *testing.T, res result) toyapi.Echo {
	t.Helper()
	var e toyapi.Echo
	if err := json.Unmarshal(res.body, &e); err != nil {
		t.Fatalf("not an echo (status %d): %q", res.status, truncate(res.body))
	}
	return e
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}

// chunked hides a body's length, so that the client sends it chunked.
func chunked(b []byte) io.Reader { return io.MultiReader(bytes.NewReader(b)) }

func jsonBody(n int) []byte {
	return []byte(`{"input":"` + strings.Repeat("i", n-len(`{"input":""}`)) + `"}`)
}

// TestSameAnswersDirectAndThroughAPISIX runs one client table against the
// toy API served directly (as the standalone gateway serves the API) and
// through the emulated APISIX, the plugin and the real runner.
func TestSameAnswersDirectAndThroughAPISIX(t *testing.T) {
	direct := httptest.NewServer(toyapi.Handler)
	defer direct.Close()
	gw := startGateway(t, apisixtest.Options{DisableLimitCount: true})

	body150 := jsonBody(150 << 10)
	cases := []struct {
		name   string
		method string
		path   string
		body   func() io.Reader
		header []string
		status int
		check  func(t *testing.T, res result)
	}{
		{
			name: "query args, one without value", method: "GET", path: "/api/v1/echo?flag&x=1&x=2&e=&sp=a+b%26c",
			status: 200,
			check: func(t *testing.T, res result) {
				q := echoOf(t, res).Query
				if fmt.Sprint(q["flag"], q["x"], q["e"], q["sp"]) != "[] [1 2] [] [a b&c]" {
					t.Errorf("query %v", q)
				}
			},
		},
		{
			name: "repeated request headers", method: "GET", path: "/api/v1/echo",
			header: []string{"X-Multi", "a", "X-Multi", "b", "Authorization", "Bearer t0k"},
			status: 200,
			check: func(t *testing.T, res result) {
				h := echoOf(t, res).Header
				if fmt.Sprint(h["X-Multi"], h["Authorization"]) != "[a b] [Bearer t0k]" {
					t.Errorf("headers %v", h)
				}
			},
		},
		{
			name: "host", method: "GET", path: "/api/v1/echo", header: []string{"Host", "api.example:8080"},
			status: 200,
			check: func(t *testing.T, res result) {
				if h := echoOf(t, res).Host; h != "api.example:8080" {
					t.Errorf("host %q", h)
				}
			},
		},
		{
			name: "150 KiB JSON body", method: "POST", path: "/api/v1/executions",
			body: func() io.Reader { return bytes.NewReader(body150) }, header: []string{"Content-Type", "application/json"},
			status: 200,
			check: func(t *testing.T, res result) {
				if e := echoOf(t, res); e.Body != string(body150) {
					t.Errorf("body of %d bytes came through as %d", len(body150), e.BodyLen)
				}
			},
		},
		{
			name: "150 KiB chunked body", method: "PUT", path: "/api/v1/functions/f1",
			body:   func() io.Reader { return chunked(body150) },
			status: 200,
			check: func(t *testing.T, res result) {
				if e := echoOf(t, res); e.Body != string(body150) || e.Method != "PUT" {
					t.Errorf("%s with %d bytes", e.Method, e.BodyLen)
				}
			},
		},
		{
			name: "escaped path", method: "DELETE", path: "/api/v1/functions/a%20b",
			status: 200,
			check: func(t *testing.T, res result) {
				if e := echoOf(t, res); e.Path != "/api/v1/functions/a b" || e.Method != "DELETE" {
					t.Errorf("%s %q", e.Method, e.Path)
				}
			},
		},
		{
			name: "handler writes nothing: 200, empty", method: "GET", path: "/api/v1/echo?nowrite=1",
			status: 200,
			check: func(t *testing.T, res result) {
				if len(res.body) != 0 {
					t.Errorf("body %q", res.body)
				}
			},
		},
		{
			name: "JSON error as the handler wrote it", method: "GET", path: "/api/v1/functions/nope?status=404",
			status: 404,
			check: func(t *testing.T, res result) {
				if c := decodeError(t, res.body).Error.Code; c != "toy_error" {
					t.Errorf("code %q", c)
				}
			},
		},
		{
			name: "repeated response header", method: "GET", path: "/api/v1/echo?set_header=X-Rep",
			status: 200,
			check: func(t *testing.T, res result) {
				if v := strings.Join(res.header.Values("X-Rep"), ", "); v != "a, b" {
					t.Errorf("X-Rep %q", v)
				}
			},
		},
		{
			name: "1 MiB answer", method: "GET", path: "/api/v1/echo?bytes=1048576",
			status: 200,
			check: func(t *testing.T, res result) {
				if len(res.body) != 1<<20 || res.header.Get("Content-Type") != "text/plain" {
					t.Errorf("%d bytes of %q", len(res.body), res.header.Get("Content-Type"))
				}
			},
		},
	}
	gateways := []struct{ name, url string }{{"direct", direct.URL}, {"apisix", gw.url}}
	for _, g := range gateways {
		for _, tc := range cases {
			t.Run(g.name+"/"+tc.name, func(t *testing.T) {
				var body io.Reader
				if tc.body != nil {
					body = tc.body()
				}
				res := do(t, tc.method, g.url+tc.path, body, tc.header...)
				if res.status != tc.status {
					t.Fatalf("status %d, want %d: %s", res.status, tc.status, truncate(res.body))
				}
				tc.check(t, res)
			})
		}
	}
}

// TestAPISIXOnlyAnswers covers what only the APISIX path does: body limits,
// JSON bodies for empty errors and panics, the answer cap, unknown routes.
// The body limits come from apisix/config.yaml (client_max_body_size 200k
// and its JSON error page for 413), read by startGateway.
func TestAPISIXOnlyAnswers(t *testing.T) {
	gw := startGateway(t, apisixtest.Options{DisableLimitCount: true})
	const max = plugin.DefaultMaxBodyBytes
	cfg, err := apisixtest.LoadConfig(configPath)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClientMaxBodySize != max {
		t.Fatalf("config.yaml's client_max_body_size is %d, these cases assume the plugin's %d", cfg.ClientMaxBodySize, max)
	}
	tooLarge := plugin.PayloadTooLargeBody(max)
	// Both 413s, the plugin's (Content-Length) and nginx's (chunked), are
	// the same JSON.
	is413 := func(t *testing.T, res result) {
		if !bytes.Equal(res.body, tooLarge) || res.header.Get("Content-Type") != "application/json" {
			t.Errorf("413 %q %q, want %q", res.header.Get("Content-Type"), truncate(res.body), tooLarge)
		}
	}
	cases := []struct {
		name     string
		method   string
		path     string
		body     func() io.Reader
		status   int
		wantCode string // JSON error code; "" checks check only
		check    func(t *testing.T, res result)
	}{
		{
			name: "body exactly at the plugin's limit passes", method: "POST", path: "/api/v1/executions",
			body: func() io.Reader { return bytes.NewReader(jsonBody(max)) }, status: 200,
			check: func(t *testing.T, res result) {
				if n := echoOf(t, res).BodyLen; n != max {
					t.Errorf("body of %d bytes", n)
				}
			},
		},
		{
			name: "chunked body exactly at nginx's limit passes", method: "POST", path: "/api/v1/executions",
			body: func() io.Reader { return chunked(jsonBody(max)) }, status: 200,
			check: func(t *testing.T, res result) {
				if n := echoOf(t, res).BodyLen; n != max {
					t.Errorf("body of %d bytes", n)
				}
			},
		},
		{
			name: "body just over the limit: the plugin's JSON 413", method: "POST", path: "/api/v1/executions",
			body: func() io.Reader { return bytes.NewReader(jsonBody(max + 1)) }, status: 413, wantCode: "payload_too_large",
			check: func(t *testing.T, res result) {
				is413(t, res)
				if m := decodeError(t, res.body).Error.Message; !strings.Contains(m, "send large data as an object") {
					t.Errorf("message %q", m)
				}
			},
		},
		{
			// nginx does not check it: nobody reads the body.
			name: "body of 1 MiB: the plugin's JSON 413, unread", method: "POST", path: "/api/v1/executions",
			body: func() io.Reader { return bytes.NewReader(jsonBody(1<<20 + 1)) }, status: 413, wantCode: "payload_too_large",
			check: is413,
		},
		{
			name: "chunked body just over the limit: nginx's JSON 413", method: "POST", path: "/api/v1/executions",
			body: func() io.Reader { return chunked(jsonBody(max + 1)) }, status: 413, wantCode: "payload_too_large",
			check: is413,
		},
		{
			name: "chunked body beyond the runner's single read: nginx's JSON 413", method: "POST", path: "/api/v1/executions",
			body: func() io.Reader { return chunked(jsonBody(300 << 10)) }, status: 413, wantCode: "payload_too_large",
			check: is413,
		},
		{
			name: "error without a body gets a JSON one", method: "GET", path: "/api/v1/x?status=401&empty=1",
			status: 401, wantCode: "unauthorized",
		},
		{
			name: "handler panic: JSON 500", method: "GET", path: "/api/v1/x?panic=1",
			status: 500, wantCode: "internal_error",
		},
		{
			name: "answer over MaxResponseBytes: JSON 500", method: "GET", path: "/api/v1/x?bytes=" + strconv.Itoa(plugin.MaxResponseBytes+1),
			status: 500, wantCode: "internal_error",
		},
		{
			// apisix.yaml's fallback route "/*" (api_prefix "/") hands every
			// other path to the plugin too: the API answers its JSON 404.
			name: "path outside /api/v1: the fallback route, the plugin", method: "GET", path: "/api/v2/x",
			status: 200,
			check: func(t *testing.T, res result) {
				if p := echoOf(t, res).Path; p != "/api/v2/x" {
					t.Errorf("path %q", p)
				}
			},
		},
		{
			name: "handler sees the runner's deadline", method: "GET", path: "/api/v1/echo",
			status: 200,
			check: func(t *testing.T, res result) {
				if !echoOf(t, res).HasDL {
					t.Error("the handler's context has no deadline")
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != nil {
				body = tc.body()
			}
			res := do(t, tc.method, gw.url+tc.path, body)
			if res.status != tc.status {
				t.Fatalf("status %d, want %d: %s", res.status, tc.status, truncate(res.body))
			}
			if tc.wantCode != "" {
				if c := decodeError(t, res.body).Error.Code; c != tc.wantCode {
					t.Errorf("code %q, want %q", c, tc.wantCode)
				}
			}
			if tc.check != nil {
				tc.check(t, res)
			}
		})
	}
	// The calls nginx aborts are those of the chunked bodies over its limit.
	if f := gw.emu.Stats().Failures; f != 2 {
		t.Errorf("%d calls to the runner failed, want 2", f)
	}
}

// After a restart the runner has lost every conf token: the first call gets
// CONF_TOKEN_NOT_FOUND, the emulator prepares again and retries.
func TestRunnerRestartReprepares(t *testing.T) {
	gw := startGateway(t, apisixtest.Options{DisableLimitCount: true})
	first := echoOf(t, do(t, "GET", gw.url+"/api/v1/echo", nil))
	before := gw.emu.Stats()

	gw.runner.Restart()
	res := do(t, "GET", gw.url+"/api/v1/echo", nil)
	if res.status != 200 {
		t.Fatalf("after restart: status %d: %s", res.status, truncate(res.body))
	}
	second := echoOf(t, res)
	after := gw.emu.Stats()
	if second.PID == first.PID {
		t.Errorf("answered by the same process %d", first.PID)
	}
	if after.TokenRetries-before.TokenRetries != 1 || after.Prepares-before.Prepares != 1 {
		t.Errorf("retries %d, prepares %d; want 1 and 1", after.TokenRetries-before.TokenRetries, after.Prepares-before.Prepares)
	}
	if after.Discarded == 0 {
		t.Error("the pooled connections of the old runner were not discarded")
	}
	if after.Failures != 0 {
		t.Errorf("%d failures", after.Failures)
	}
}

// 50 clients at once, 5 calls each: every answer right, connections reused.
func TestConcurrentCallsReuseConnections(t *testing.T) {
	const clients, calls = 50, 5
	gw := startGateway(t, apisixtest.Options{DisableLimitCount: true, MaxIdleConns: 64})
	transport := &http.Transport{MaxIdleConnsPerHost: clients}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second}

	var wg sync.WaitGroup
	errs := make(chan error, clients*calls)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < calls; i++ {
				want := fmt.Sprintf(`{"client":%d,"call":%d}`, c, i)
				resp, err := client.Post(gw.url+"/api/v1/executions?c="+strconv.Itoa(c), "application/json", strings.NewReader(want))
				if err != nil {
					errs <- err
					return
				}
				var e toyapi.Echo
				err = json.NewDecoder(resp.Body).Decode(&e)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || e.Body != want || e.Query["c"][0] != strconv.Itoa(c) {
					errs <- fmt.Errorf("client %d call %d: status %d, body %q, err %v", c, i, resp.StatusCode, e.Body, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	s := gw.emu.Stats()
	total := int64(clients * calls)
	// Each call uses one connection; the first prepare may use one more.
	if s.Calls != total || s.Dials > clients+1 || s.Reuses < total-clients-1 {
		t.Errorf("stats %+v: want %d calls on at most %d connections", s, total, clients+1)
	}
	if s.Prepares != 1 {
		t.Errorf("%d prepares, want 1 (tokens cached per key)", s.Prepares)
	}
}

// The real route's limit-count (100 per minute) and cors, in front of the plugin.
func TestLimitCountAndCORS(t *testing.T) {
	gw := startGateway(t, apisixtest.Options{})

	pre := do(t, "OPTIONS", gw.url+"/api/v1/functions", nil,
		"Origin", "https://app.example", "Access-Control-Request-Method", "POST")
	if pre.status != 200 || pre.header.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(pre.header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Fatalf("preflight: %d %v", pre.status, pre.header)
	}
	if gw.emu.Stats().Calls != 0 {
		t.Fatal("the preflight reached the runner")
	}

	var last result
	for i := 1; i <= 101; i++ {
		last = do(t, "GET", gw.url+"/api/v1/echo", nil, "Origin", "https://app.example")
		if i <= 100 && last.status != 200 {
			t.Fatalf("call %d: status %d", i, last.status)
		}
		if i == 100 && last.header.Get("X-RateLimit-Remaining") != "0" {
			t.Errorf("call 100: X-RateLimit-Remaining %q", last.header.Get("X-RateLimit-Remaining"))
		}
	}
	if last.status != 429 {
		t.Fatalf("call 101: status %d, want 429", last.status)
	}
	if c := decodeError(t, last.body).Error.Code; c != "rate_limited" {
		t.Errorf("429 code %q", c)
	}
	if last.header.Get("Access-Control-Allow-Origin") != "*" || last.header.Get("X-RateLimit-Limit") != "100" {
		t.Errorf("429 headers %v", last.header)
	}
	if calls := gw.emu.Stats().Calls; calls != 100 {
		t.Errorf("%d calls reached the runner, want 100", calls)
	}
}

// The traps of the runner, as the clients see them.
func TestFailureModes(t *testing.T) {
	t.Run("conf the plugin refuses: plugin skipped, 503", func(t *testing.T) {
		gw := startGateway(t, apisixtest.Options{}, apiRoute(t, `{"max_body_bytes": "big"}`))
		res := do(t, "GET", gw.url+"/api/v1/echo", nil)
		if res.status != 503 {
			t.Fatalf("status %d: %s", res.status, truncate(res.body))
		}
		if !gw.runner.WaitForOutput("bad faas plugin conf", 5*time.Second) {
			t.Error("the runner did not log the refused conf")
		}
	})
	t.Run("path outside api_prefix: not answered, 503", func(t *testing.T) {
		gw := startGateway(t, apisixtest.Options{}, apiRoute(t, `{"api_prefix": "/api/v2"}`))
		if res := do(t, "GET", gw.url+"/api/v1/echo", nil); res.status != 503 {
			t.Fatalf("status %d: %s", res.status, truncate(res.body))
		}
	})
	t.Run("conf with a smaller body limit", func(t *testing.T) {
		gw := startGateway(t, apisixtest.Options{}, apiRoute(t, `{"max_body_bytes": 100}`))
		res := do(t, "POST", gw.url+"/api/v1/echo", bytes.NewReader(jsonBody(101)))
		if res.status != 413 || !strings.Contains(decodeError(t, res.body).Error.Message, "exceeds 100 bytes") {
			t.Fatalf("status %d: %s", res.status, truncate(res.body))
		}
	})
	t.Run("runner down: 503, then back", func(t *testing.T) {
		gw := startGateway(t, apisixtest.Options{})
		gw.runner.Stop()
		if res := do(t, "GET", gw.url+"/api/v1/echo", nil); res.status != 503 {
			t.Fatalf("runner down: status %d", res.status)
		}
		gw.runner.Restart()
		if res := do(t, "GET", gw.url+"/api/v1/echo", nil); res.status != 200 {
			t.Fatalf("runner back: status %d: %s", res.status, truncate(res.body))
		}
	})
	t.Run("read timeout: 503, connection not reused", func(t *testing.T) {
		gw := startGateway(t, apisixtest.Options{ReadTimeout: 200 * time.Millisecond})
		if res := do(t, "GET", gw.url+"/api/v1/echo?sleep_ms=1000", nil); res.status != 503 {
			t.Fatalf("slow call: status %d", res.status)
		}
		if res := do(t, "GET", gw.url+"/api/v1/echo", nil); res.status != 200 {
			t.Fatalf("next call: status %d: %s", res.status, truncate(res.body))
		}
	})
}

// The runner keeps a conf per key, so a changed conf only applies under a
// new key: a reload of apisix.yaml changes the conf version in the key.
func TestConfChangeAppliesAfterReload(t *testing.T) {
	gw := startGateway(t, apisixtest.Options{}, apiRoute(t, `{"max_body_bytes": 100}`))
	body := jsonBody(101)
	if res := do(t, "POST", gw.url+"/api/v1/echo", bytes.NewReader(body)); res.status != 413 {
		t.Fatalf("with max_body_bytes 100: status %d", res.status)
	}
	gw.emu.SetRoutes(apiRoute(t, `{}`))
	if res := do(t, "POST", gw.url+"/api/v1/echo", bytes.NewReader(body)); res.status != 200 {
		t.Fatalf("after the reload: status %d: %s", res.status, truncate(res.body))
	}
	if p := gw.emu.Stats().Prepares; p != 2 {
		t.Errorf("%d prepares, want 2", p)
	}
}

// APISIX stops the runner with SIGTERM: it must exit cleanly and remove its socket.
func TestRunnerExitsOnSIGTERM(t *testing.T) {
	gw := startGateway(t, apisixtest.Options{})
	do(t, "GET", gw.url+"/api/v1/echo", nil)
	gw.runner.Stop()
	if err := gw.runner.ExitErr(); err != nil {
		t.Fatalf("exit: %v\n%s", err, gw.runner.Output())
	}
	if _, err := os.Stat(gw.runner.SocketPath()); !os.IsNotExist(err) {
		t.Errorf("socket still there: %v", err)
	}
}

// A bad setting stops "faas plugin" at once with a message naming it.
func TestRunnerRefusesBadEnvironment(t *testing.T) {
	bin := apisixtest.GoBuild(t, testRunnerPkg)
	cases := []struct {
		name string
		env  []string
		want string
	}{
		{"no socket", nil, "APISIX_LISTEN_ADDRESS is not set"},
		{"tcp socket", []string{"APISIX_LISTEN_ADDRESS=tcp:127.0.0.1:9"}, "APISIX_LISTEN_ADDRESS must be unix:"},
		{"bad ttl", []string{"APISIX_LISTEN_ADDRESS=unix:" + filepath.Join(t.TempDir(), "s"), "APISIX_CONF_EXPIRE_TIME=-1"}, "APISIX_CONF_EXPIRE_TIME"},
		{"bad log level", []string{"APISIX_LISTEN_ADDRESS=unix:" + filepath.Join(t.TempDir(), "s"), "LOG_LEVEL=chatty"}, "LOG_LEVEL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin)
			cmd.Env = tc.env
			out, err := cmd.CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Fatalf("exit %v, want status 1; output %s", err, out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Errorf("output %q does not mention %q", out, tc.want)
			}
		})
	}
}

package tests

// The two gateways of contract §3 serve one platform: the standalone gateway
// (the API handler over HTTP) and APISIX, here the emulator of
// apisix/apisixtest speaking the real ext-plugin protocol to the REAL
// `faas plugin` binary, started as APISIX starts ext-plugin.cmd, with the
// environment config.yaml lets through, the routes of apisix.yaml, and
// config.yaml's body limit and error pages. Both sit on the same embedded
// NATS (the plugin connects to it at NATS_URL), so state made through one is
// seen through the other.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faasplatform/faas/api/apitest"
	"github.com/faasplatform/faas/apisix/apisixtest"
	"github.com/faasplatform/faas/internal/eventually"
	"github.com/faasplatform/faas/plugin"
)

const (
	faasPkg          = "github.com/faasplatform/faas/cmd/faas"
	apisixConfigPath = "../apisix/config.yaml"
	apisixRoutesPath = "../apisix/apisix.yaml"
	unknownID        = "0190b7d2-7c4e-7000-8000-000000000000"
)

// gateways is a platform (env: stack, standalone gateway, workers) served
// through APISIX as well.
type gateways struct {
	*env
	cfg    *apisixtest.Config
	routes []apisixtest.Route
	runner *apisixtest.Runner
	emu    *apisixtest.Emulator // limit-count off, so that case tables never meet it
	apisix string               // emu's base URL
	// objects is the base URL of `faas gateway`, the objects service that
	// APISIX's objects route proxies to.
	objects string
}

// newGateways starts newEnv(workers, maxConcurrent), then `faas plugin` and
// `faas gateway` (the objects service, upstream of the objects route) on the
// same NATS and an emulator in front of them.
func newGateways(t *testing.T, workers, maxConcurrent int) *gateways {
	t.Helper()
	e := newEnv(t, workers, maxConcurrent)
	cfg, routes := loadAPISIX(t)
	bin := apisixtest.GoBuild(t, faasPkg)
	// Only what config.yaml's nginx_config.envs lists reaches the runner.
	env := cfg.RunnerEnv(map[string]string{
		"NATS_URL":         e.stack.URL,
		"JWT_SECRET":       string(e.stack.Secret),
		"TOKEN_EXPIRATION": "1h", // the stack's token lifetime
		"LOG_LEVEL":        "warn",
		"DATA_DIR":         t.TempDir(),
	})
	g := &gateways{env: e, cfg: cfg, routes: routes}
	g.runner = apisixtest.StartRunner(t, bin, []string{"plugin"}, env)
	g.objects = startGatewayProcess(t, bin, e.stack)
	g.emu, g.apisix = g.emulator(t, false)
	return g
}

// loadAPISIX reads apisix/config.yaml and apisix/apisix.yaml.
func loadAPISIX(t *testing.T) (*apisixtest.Config, []apisixtest.Route) {
	t.Helper()
	cfg, err := apisixtest.LoadConfig(apisixConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	routes, err := apisixtest.LoadRoutes(apisixRoutesPath)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, routes
}

// emulator starts another emulator (its own conf tokens, pool and
// limit-count windows) in front of the runner, served over HTTP until the
// test ends.
func (g *gateways) emulator(t *testing.T, limitCount bool) (*apisixtest.Emulator, string) {
	t.Helper()
	opts := g.cfg.EmulatorOptions() // config.yaml's client_max_body_size and 413 page
	opts.DisableLimitCount = !limitCount
	opts.Logf = t.Logf
	opts.Upstreams = objectsUpstream(t, g.objects)
	emu := apisixtest.NewWithOptions(g.runner.SocketPath(), opts, g.routes...)
	srv := httptest.NewServer(emu)
	t.Cleanup(func() {
		srv.Close() // waits for requests in progress: no t.Logf after the test
		emu.Close()
	})
	return emu, srv.URL
}

// apisixDiffers are the API cases of apitest.Suites whose answer through
// APISIX differs by design, keyed "suite/case", with the answer APISIX gives
// instead. A JSON body is capped at 1 MiB by the API but at 200 KiB by
// APISIX (config.yaml's client_max_body_size and the plugin's max_body_bytes,
// below what runner v0.5.0 can read): a body of exactly 1 MiB is read and
// judged by the standalone gateway, refused by APISIX.
var apisixDiffers = map[string]func(c apitest.Case) apitest.Case{
	// nginx removes dot segments from the uri before routing (RFC 3986
	// §5.2.4): ".../{function_id}/.." is "/api/function-objects", which no
	// objects route matches, so the fallback route's JSON 404 answers; the
	// objects service never sees it (its own 400 is the standalone answer).
	"objects/bad name only dot-dot": func(c apitest.Case) apitest.Case {
		c.Status, c.Code = http.StatusNotFound, "invalid_input"
		return c
	},
	// nginx also merges slashes and resolves ".." before the plugin sees the
	// path (the runner gets ngx.var.uri), so these reach the route they
	// normalize to; the API itself answers them as written.
	"routing/empty segment 400": func(c apitest.Case) apitest.Case {
		c.Status, c.Code = http.StatusOK, ""
		return c
	},
	"routing/dot-dot is not resolved to another route": func(c apitest.Case) apitest.Case {
		c.Status, c.Code = http.StatusOK, ""
		return c
	},
	"json/exactly 1 MiB is read": func(c apitest.Case) apitest.Case {
		c.Status, c.Code, c.Check = http.StatusRequestEntityTooLarge, "payload_too_large", func(t *testing.T, r *apitest.Response) {
			if !bytes.Equal(r.Body, plugin.PayloadTooLargeBody(plugin.DefaultMaxBodyBytes)) {
				t.Errorf("body %s, want the plugin's 413", r.Body)
			}
		}
		return c
	},
}

// TestGatewaysSameAPICases runs the API's whole case table (apitest.Suites)
// through both gateways, then checks that deterministic requests get the same
// status, headers and body, byte for byte, from both.
func TestGatewaysSameAPICases(t *testing.T) {
	g := newGateways(t, 0, 0) // no worker: the suites expect executions to stay pending

	t.Run("standalone", func(t *testing.T) { apitest.RunAll(t, g.base, g.stack.Secret) })
	t.Run("apisix", func(t *testing.T) {
		used := map[string]int{}
		for _, s := range apitest.Suites() {
			t.Run(s.Name, func(t *testing.T) {
				f := apitest.NewFixture(t, g.apisix, g.stack.Secret)
				cases := s.Cases(t, f)
				for i, c := range cases {
					if differ, ok := apisixDiffers[s.Name+"/"+c.Name]; ok {
						cases[i] = differ(c)
						used[s.Name+"/"+c.Name]++
					}
				}
				apitest.Run(t, f.BaseURL, cases)
			})
		}
		for name := range apisixDiffers {
			if used[name] != 1 {
				t.Errorf("case %q of apisixDiffers matched %d cases of apitest.Suites, want 1", name, used[name])
			}
		}
	})

	t.Run("byte for byte", func(t *testing.T) {
		u := g.Register(t, "bytes")
		fn := g.CreateFunction(t, u, "bytes-fn", map[string]any{"description": "same everywhere", "env": map[string]string{"A": "1"}})
		g.Register(t, "taken")
		input193 := map[string]any{"function_id": fn, "input": strings.Repeat("i", 192<<10+1)}
		probes := []struct {
			name, method, path, token string
			body                      any
			header                    map[string]string
			status                    int
			code                      string
		}{
			{name: "unknown route", method: "GET", path: "/api/v1/nope", token: u.Token, status: 404, code: "invalid_input"},
			{name: "root", method: "GET", path: "/", status: 404, code: "invalid_input"},
			{name: "other version", method: "GET", path: "/api/v2/functions", token: u.Token, status: 404, code: "invalid_input"},
			{name: "wrong method", method: "GET", path: "/api/v1/users/register", status: 405, code: "invalid_input"},
			{name: "wrong method with a token", method: "DELETE", path: "/api/v1/functions", token: u.Token, status: 405, code: "invalid_input"},
			{name: "bad JSON", method: "POST", path: "/api/v1/functions", token: u.Token, body: `{"name":`, status: 400, code: "invalid_input"},
			{name: "unknown field", method: "POST", path: "/api/v1/functions", token: u.Token, body: `{"nme":"x"}`, status: 400, code: "invalid_input"},
			{name: "bad query", method: "GET", path: "/api/v1/executions?limit=abc", token: u.Token, status: 400, code: "invalid_input"},
			{name: "no token", method: "GET", path: "/api/v1/functions", status: 401, code: "unauthorized"},
			{name: "bad token", method: "GET", path: "/api/v1/users/me", header: map[string]string{"Authorization": "Bearer x.y.z"}, status: 401, code: "unauthorized"},
			{name: "wrong password", method: "POST", path: "/api/v1/users/login", body: map[string]string{"username": u.Username, "password": "wrong-password"}, status: 401, code: "unauthorized"},
			{name: "taken username", method: "POST", path: "/api/v1/users/register",
				body: map[string]string{"username": g.Name("taken"), "password": "password-1", "email": "t@example.com"}, status: 409, code: "conflict"},
			{name: "unknown function", method: "GET", path: "/api/v1/functions/" + unknownID, token: u.Token, status: 404, code: "function_not_found"},
			{name: "unknown execution", method: "GET", path: "/api/v1/executions/" + unknownID + "/logs", token: u.Token, status: 404, code: "execution_not_found"},
			{name: "execute an unknown function", method: "POST", path: "/api/v1/executions", token: u.Token, body: map[string]any{"function_id": unknownID}, status: 404, code: "function_not_found"},
			// Under both body limits: the API's own 413, from both.
			{name: "input over 192 KiB", method: "POST", path: "/api/v1/executions", token: u.Token, body: input193, status: 413, code: "payload_too_large"},
			{name: "get a function", method: "GET", path: "/api/v1/functions/" + fn, token: u.Token, status: 200},
			{name: "list functions", method: "GET", path: "/api/v1/functions", token: u.Token, status: 200},
			{name: "me", method: "GET", path: "/api/v1/users/me", token: u.Token, status: 200},
		}
		for _, p := range probes {
			t.Run(p.name, func(t *testing.T) {
				c := apitest.Case{Name: p.name, Method: p.method, Path: p.path, Status: p.status, Code: p.code}
				s := apitest.Do(t, g.base, p.method, p.path, p.token, p.body, p.header)
				a := apitest.Do(t, g.apisix, p.method, p.path, p.token, p.body, p.header)
				apitest.Check(t, c, s)
				apitest.Check(t, c, a)
				if !bytes.Equal(s.Body, a.Body) {
					t.Errorf("bodies differ:\nstandalone %s\n    apisix %s", short(s.Body), short(a.Body))
				}
				for _, h := range []string{"Content-Type", "Allow"} {
					if s.Header.Get(h) != a.Header.Get(h) {
						t.Errorf("%s: standalone %q, apisix %q", h, s.Header.Get(h), a.Header.Get(h))
					}
				}
			})
		}
	})
	if s := g.emu.Stats(); s.Prepares < 2 || s.Calls == 0 {
		t.Errorf("emulator stats %+v: want calls on both routes (two confs prepared)", s)
	}
}

// TestGatewaysRunContainers runs real functions in real containers through
// both gateways, and checks the request body limits of each around them.
func TestGatewaysRunContainers(t *testing.T) {
	g := newGateways(t, 1, 4)
	u := g.Register(t, "containers")
	echo := g.function(t, u, "gw-echo", "cat", nil)
	shout := g.function(t, u, "gw-shout", `echo "shouting now" >&2; tr a-z A-Z`, nil)
	bases := []struct{ name, url string }{{"standalone", g.base}, {"apisix", g.apisix}}

	t.Run("synchronous", func(t *testing.T) {
		for _, b := range bases {
			for _, fn := range []struct{ id, input, output string }{{echo, "hello, world", "hello, world"}, {shout, "shout", "SHOUT"}} {
				code, x := runVia(t, b.url, u, fn.id, fn.input)
				if code != 200 || x.Status != "complete" || x.output() != fn.output || x.FunctionID != fn.id {
					t.Errorf("%s: %d %s output %q error %q; want 200 complete %q", b.name, code, x.Status, x.output(), x.Error, fn.output)
				}
			}
		}
	})

	t.Run("asynchronous through apisix", func(t *testing.T) {
		r := apitest.Do(t, g.apisix, "POST", "/api/v1/executions", u.Token, map[string]any{"function_id": shout, "input": "later"}, nil)
		var x execution
		r.Decode(t, &x)
		if r.Status != 202 || x.Status != "pending" || x.ID == "" {
			t.Fatalf("enqueue: %d %s", r.Status, short(r.Body))
		}
		eventually.NoError(t, 30*time.Second, func() error {
			if x.Status != "pending" && x.Status != "running" {
				return nil
			}
			r = apitest.Do(t, g.apisix, "GET", "/api/v1/executions/"+x.ID, u.Token, nil, nil)
			if r.Status != 200 {
				t.Fatalf("get: %d %s", r.Status, short(r.Body))
			}
			r.Decode(t, &x)
			return fmt.Errorf("execution %s still %s", x.ID, x.Status)
		})
		if x.Status != "complete" || x.output() != "LATER" {
			t.Fatalf("execution %s output %q error %q", x.Status, x.output(), x.Error)
		}
		r = apitest.Do(t, g.apisix, "GET", "/api/v1/executions/"+x.ID+"/logs", u.Token, nil, nil)
		var logs struct {
			ExecutionID string `json:"execution_id"`
			Logs        string `json:"logs"`
			Truncated   bool   `json:"truncated"`
		}
		r.Decode(t, &logs)
		if r.Status != 200 || logs.ExecutionID != x.ID || !strings.Contains(logs.Logs, "shouting now") || logs.Truncated {
			t.Errorf("logs: %d %+v", r.Status, logs)
		}
		// The same execution, read through the standalone gateway.
		s := apitest.Do(t, g.base, "GET", "/api/v1/executions/"+x.ID, u.Token, nil, nil)
		a := apitest.Do(t, g.apisix, "GET", "/api/v1/executions/"+x.ID, u.Token, nil, nil)
		if !bytes.Equal(s.Body, a.Body) {
			t.Errorf("the ended execution reads differently:\nstandalone %s\n    apisix %s", short(s.Body), short(a.Body))
		}
	})

	t.Run("150 KiB input passes through the plugin", func(t *testing.T) {
		var b strings.Builder
		for b.Len() < 150<<10 {
			fmt.Fprintf(&b, "line %06d: the quick brown fox\n", b.Len())
		}
		input := b.String()[:150<<10]
		for _, base := range bases {
			code, x := runVia(t, base.url, u, echo, input)
			if code != 200 || x.Status != "complete" || x.output() != input || x.Input == nil || *x.Input != input {
				t.Errorf("%s: %d %s, output of %d bytes (want the %d of the input), error %q",
					base.name, code, x.Status, len(x.output()), len(input), x.Error)
			}
		}
	})

	t.Run("bodies over the limits: clean JSON 413s", func(t *testing.T) {
		tooLarge := plugin.PayloadTooLargeBody(plugin.DefaultMaxBodyBytes)
		page := g.cfg.ErrorPages[http.StatusRequestEntityTooLarge]
		if page.Status != 413 || !bytes.Equal(page.Body, tooLarge) {
			t.Fatalf("config.yaml's 413 page %+v; want the plugin's 413 body", page)
		}
		body := func(inputBytes int) []byte {
			b, _ := json.Marshal(map[string]any{"function_id": echo, "input": strings.Repeat("x", inputBytes)})
			return b
		}
		b300, b1m := body(300<<10), body(1<<20)
		cases := []struct {
			name, base string
			body       any // []byte: with Content-Length; io.Reader: chunked
			want       []byte
		}{
			// The plugin refuses a Content-Length over its max without
			// reading the body (nginx checks its limit only on a read).
			{"apisix: 300 KiB with Content-Length, the plugin's 413", g.apisix, b300, tooLarge},
			// A chunked body is read: nginx stops at client_max_body_size
			// and answers config.yaml's error page for 413.
			{"apisix: 300 KiB chunked, nginx's 413 page", g.apisix, bytes.NewReader(b300), page.Body},
			{"apisix: 1 MiB chunked, nginx's 413 page", g.apisix, bytes.NewReader(b1m), page.Body},
			{"standalone: input over 192 KiB", g.base, b300, nil},
			{"standalone: body over 1 MiB", g.base, b1m, nil},
			{"standalone: body over 1 MiB, chunked", g.base, bytes.NewReader(b1m), nil},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				// apitest.Do fails the test on a broken connection.
				r := apitest.Do(t, tc.base, "POST", "/api/v1/executions", u.Token, tc.body, nil)
				apitest.Check(t, apitest.Case{Method: "POST", Path: "/api/v1/executions", Status: 413, Code: "payload_too_large"}, r)
				if tc.want != nil && !bytes.Equal(r.Body, tc.want) {
					t.Errorf("body %s, want %s", short(r.Body), tc.want)
				}
				if r.Header.Get("Content-Type") != "application/json" {
					t.Errorf("Content-Type %q", r.Header.Get("Content-Type"))
				}
			})
		}
		// The runner lost the connections nginx abandoned mid-body, not its
		// wits: the next call works.
		if code, x := runVia(t, g.apisix, u, echo, "still here"); code != 200 || x.output() != "still here" {
			t.Errorf("after the 413s: %d %+v", code, x)
		}
	})
}

// TestGatewaysConcurrentClientsAndRunnerRestart: 50 clients at once, each
// on its own keep-alive connection for all its calls, through both gateways;
// through APISIX the runner process is restarted half-way, losing its conf
// tokens, which the emulator prepares again.
func TestGatewaysConcurrentClientsAndRunnerRestart(t *testing.T) {
	g := newGateways(t, 0, 0)
	const clients, rounds, restartAfter = 50, 5, 3
	users := make([]*apitest.User, 5)
	want := map[string][]byte{} // path + token → the answer's body
	for i := range users {
		users[i] = g.Register(t, fmt.Sprintf("client%d", i))
		g.CreateFunction(t, users[i], "fn", nil)
		for _, p := range []string{"/api/v1/users/me", "/api/v1/functions"} {
			r := apitest.Do(t, g.base, "GET", p, users[i].Token, nil, nil)
			if r.Status != 200 {
				t.Fatalf("%s: %d", p, r.Status)
			}
			want[p+users[i].Token] = r.Body
		}
	}

	for _, gw := range []struct {
		name    string
		base    string
		restart bool
	}{{"standalone", g.base, false}, {"apisix", g.apisix, true}} {
		t.Run(gw.name, func(t *testing.T) {
			before := g.emu.Stats()
			var wg, halfway sync.WaitGroup
			resume := make(chan struct{})
			errs := make(chan error, clients*rounds*2)
			wg.Add(clients)
			halfway.Add(clients)
			for c := 0; c < clients; c++ {
				go func() {
					defer wg.Done()
					u := users[c%len(users)]
					cl := newKeepAliveClient()
					defer cl.close()
					for round := 0; round < rounds; round++ {
						if round == restartAfter {
							halfway.Done()
							<-resume
						}
						for _, p := range []string{"/api/v1/users/me", "/api/v1/functions"} {
							status, body, reused, err := cl.get(gw.base+p, u.Token)
							first := round == 0 && p == "/api/v1/users/me"
							switch {
							case err != nil:
								errs <- fmt.Errorf("client %d round %d %s: %v", c, round, p, err)
							case status != 200 || !bytes.Equal(body, want[p+u.Token]):
								errs <- fmt.Errorf("client %d round %d %s: %d %s", c, round, p, status, short(body))
							case !first && !reused:
								errs <- fmt.Errorf("client %d round %d %s: a new connection, want its keep-alive one", c, round, p)
							}
						}
					}
				}()
			}
			halfway.Wait()
			if gw.restart {
				g.runner.Restart()
			}
			close(resume)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if !gw.restart {
				return
			}
			s := g.emu.Stats()
			calls, prepares := s.Calls-before.Calls, s.Prepares-before.Prepares
			retries := s.TokenRetries - before.TokenRetries
			t.Logf("runner calls %d, prepares %d, token retries %d, dials %d, reuses %d, discarded %d, idle %d",
				calls, prepares, retries, s.Dials-before.Dials, s.Reuses-before.Reuses, s.Discarded-before.Discarded, g.emu.IdleConns())
			total := int64(clients * rounds * 2)
			switch {
			case s.Failures != before.Failures:
				t.Errorf("%d runner calls failed", s.Failures-before.Failures)
			case retries < 1 || prepares < 1:
				t.Errorf("%d CONF_TOKEN_NOT_FOUND retries and %d prepares: want the restarted runner's lost token prepared again", retries, prepares)
			case calls != total+retries:
				t.Errorf("%d runner calls, want %d (one per request, one more per retry)", calls, total+retries)
			case s.Discarded == before.Discarded:
				t.Error("no pooled connection of the old runner was discarded")
			}
			// Every exchange with the runner took one connection, from the
			// pool or a new one. The pool keeps 32 (APISIX's size) of the up
			// to 50 in use, and the restart empties it: even with every
			// client in flight at once, a third of the calls or more reuse.
			if d, r := s.Dials-before.Dials, s.Reuses-before.Reuses; d+r != calls+prepares || r < total/3 {
				t.Errorf("%d dials and %d reuses for %d calls and %d prepares: want pooled connections reused", d, r, calls, prepares)
			}
			if n := g.emu.IdleConns(); n == 0 || n > 32 {
				t.Errorf("%d idle runner connections, want some, at most APISIX's 32", n)
			}
		})
	}

	// The real route's limit-count (100 a minute per client address) in
	// front of the plugin, on an emulator of its own.
	t.Run("limit-count", func(t *testing.T) {
		emu, base := g.emulator(t, true)
		u := users[0]
		for i := 1; i <= 100; i++ {
			r := apitest.Do(t, base, "GET", "/api/v1/users/me", u.Token, nil, nil)
			if r.Status != 200 || !bytes.Equal(r.Body, want["/api/v1/users/me"+u.Token]) {
				t.Fatalf("call %d: %d %s", i, r.Status, short(r.Body))
			}
		}
		r := apitest.Do(t, base, "GET", "/api/v1/users/me", u.Token, nil, nil)
		if r.Status != 429 || r.ErrorCode() != "rate_limited" || r.ErrorMessage() == "" {
			t.Fatalf("call 101: %d %s; want 429 rate_limited", r.Status, short(r.Body))
		}
		if r.Header.Get("X-RateLimit-Limit") != "100" || r.Header.Get("X-RateLimit-Remaining") != "0" {
			t.Errorf("quota headers %v", r.Header)
		}
		if n := emu.Stats().Calls; n != 100 {
			t.Errorf("%d calls reached the runner, want 100", n)
		}
	})
}

// runVia runs fn synchronously through the gateway at base.
func runVia(t *testing.T, base string, u *apitest.User, fn, input string) (int, execution) {
	t.Helper()
	r := apitest.Do(t, base, "POST", "/api/v1/executions?wait=true", u.Token, map[string]any{"function_id": fn, "input": input}, nil)
	var x execution
	r.Decode(t, &x)
	return r.Status, x
}

// keepAliveClient is an HTTP client with at most one connection, which it
// keeps between calls.
type keepAliveClient struct {
	tr *http.Transport
	c  *http.Client
}

func newKeepAliveClient() *keepAliveClient {
	tr := &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1, IdleConnTimeout: time.Minute}
	return &keepAliveClient{tr: tr, c: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

func (k *keepAliveClient) close() { k.tr.CloseIdleConnections() }

// get sends a GET and reads the answer; reused tells whether the call went
// over a connection the client had already used.
func (k *keepAliveClient) get(url, token string) (status int, body []byte, reused bool, err error) {
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", url, nil)
	if err != nil {
		return 0, nil, false, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := k.c.Do(req)
	if err != nil {
		return 0, nil, false, err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	return resp.StatusCode, body, reused, err
}

func short(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

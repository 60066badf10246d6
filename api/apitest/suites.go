package apitest

import (
	"bytes"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Suite is a named group of cases built against a fresh Fixture. Building
// may set up state through the fixture (users, functions, executions); the
// cases then run in order.
type Suite struct {
	Name  string
	Cases func(t *testing.T, f *Fixture) []Case
}

// Suites is every suite of the API contract that needs no worker: users,
// authentication, routing, strict JSON, functions, validation, isolation
// between users, executions, hostile input, objects. Executions are expected to stay pending.
func Suites() []Suite {
	return []Suite{
		{"users", UserCases},
		{"auth", AuthCases},
		{"routing", RoutingCases},
		{"json", JSONCases},
		{"functions", FunctionCases},
		{"validation", ValidationCases},
		{"isolation", IsolationCases},
		{"executions", ExecutionCases},
		{"hostile", HostileCases},
		{"objects", ObjectCases},
		{"security", SecurityCases},
	}
}

// RunAll runs every suite of Suites against the API at baseURL, whose JWT
// secret is secret, each suite with its own fixture.
func RunAll(t *testing.T, baseURL string, secret []byte) {
	t.Helper()
	for _, s := range Suites() {
		t.Run(s.Name, func(t *testing.T) {
			f := NewFixture(t, baseURL, secret)
			Run(t, f.BaseURL, s.Cases(t, f))
		})
	}
}

const (
	get  = http.MethodGet
	post = http.MethodPost
	put  = http.MethodPut
	del  = http.MethodDelete
)

// Status codes, short.
const (
	s200 = http.StatusOK
	s201 = http.StatusCreated
	s202 = http.StatusAccepted
	s204 = http.StatusNoContent
	s400 = http.StatusBadRequest
	s401 = http.StatusUnauthorized
	s404 = http.StatusNotFound
	s405 = http.StatusMethodNotAllowed
	s409 = http.StatusConflict
	s413 = http.StatusRequestEntityTooLarge
)

// Error codes of the contract.
const (
	invalid     = "invalid_input"
	unauth      = "unauthorized"
	conflict    = "conflict"
	tooLarge    = "payload_too_large"
	fnNotFound  = "function_not_found"
	exNotFound  = "execution_not_found"
	unknownUUID = "0190b7d2-7c4e-7000-8000-000000000000"
)

// UserCases: register, login, me (get, update, delete).
func UserCases(t *testing.T, f *Fixture) []Case {
	alice := f.Register(t, "alice")
	bob := f.Register(t, "bob")
	dan := f.Register(t, "dan")
	bobFn := f.CreateFunction(t, bob, "bobs-fn", nil)
	f.Enqueue(t, bob, bobFn, "x")
	carol := f.Name("carol")
	carolPw := "carol-password"
	newPw := "alice-new-password"
	newEmail := "alice.new@example.com"
	reg := func(username, password, email string) map[string]string {
		return map[string]string{"username": username, "password": password, "email": email}
	}
	badLogin := func(t *testing.T, r *Response) {
		if m := r.ErrorMessage(); m != "invalid username or password" {
			t.Errorf("message %q; want the same text for any wrong pair", m)
		}
	}
	cases := []Case{
		{Name: "register", Method: post, Path: "/api/v1/users/register", Body: reg(carol, carolPw, "carol@example.com"),
			Status: s201, Check: func(t *testing.T, r *Response) {
				m := wantFields(t, r, map[string]any{"username": carol, "email": "carol@example.com"})
				if id, _ := m["id"].(string); id == "" {
					t.Error("no id")
				}
				if _, err := time.Parse(time.RFC3339Nano, fmt.Sprint(m["created_at"])); err != nil {
					t.Errorf("created_at: %v", err)
				}
				for k := range m {
					if strings.Contains(k, "password") || strings.Contains(k, "hash") {
						t.Errorf("answer has %q", k)
					}
				}
				if bytes.Contains(r.Body, []byte(carolPw)) {
					t.Error("answer contains the password")
				}
			}},
		{Name: "register taken username", Method: post, Path: "/api/v1/users/register",
			Body: reg(carol, carolPw, "c2@example.com"), Status: s409, Code: conflict},
		{Name: "register taken username in another case", Method: post, Path: "/api/v1/users/register",
			Body: reg(strings.ToUpper(carol), carolPw, "c3@example.com"), Status: s409, Code: conflict},
	}
	for _, bad := range []struct{ name, user, pw, email string }{
		{"short username", "ab", carolPw, "x@example.com"},
		{"long username", strings.Repeat("a", 33), carolPw, "x@example.com"},
		{"username with space", "a b c", carolPw, "x@example.com"},
		{"username with dot", "a.b.c", carolPw, "x@example.com"},
		{"short password", f.Name("dave"), "short", "x@example.com"},
		{"password over 72 bytes", f.Name("dave"), strings.Repeat("p", 73), "x@example.com"},
		{"bad email", f.Name("dave"), carolPw, "not-an-email"},
		{"empty email", f.Name("dave"), carolPw, ""},
		{"nothing", "", "", ""},
	} {
		cases = append(cases, Case{Name: "register rejects " + bad.name, Method: post, Path: "/api/v1/users/register",
			Body: reg(bad.user, bad.pw, bad.email), Status: s400, Code: invalid})
	}
	cases = append(cases,
		Case{Name: "login", Method: post, Path: "/api/v1/users/login",
			Body: map[string]string{"username": carol, "password": carolPw}, Status: s200,
			Check: func(t *testing.T, r *Response) {
				var l struct {
					Token     string    `json:"token"`
					ExpiresAt time.Time `json:"expires_at"`
					User      struct {
						Username string `json:"username"`
					} `json:"user"`
				}
				r.Decode(t, &l)
				if l.Token == "" || !l.ExpiresAt.After(time.Now()) || l.User.Username != carol {
					t.Fatalf("login answer %s", truncate(r.Body))
				}
				if me := f.Do(t, get, "/api/v1/users/me", l.Token, nil); me.Status != s200 {
					t.Errorf("the new token gets %d on /users/me", me.Status)
				}
			}},
		Case{Name: "login ignores the case of the username", Method: post, Path: "/api/v1/users/login",
			Body: map[string]string{"username": strings.ToUpper(carol), "password": carolPw}, Status: s200},
		Case{Name: "login with a wrong password", Method: post, Path: "/api/v1/users/login",
			Body: map[string]string{"username": carol, "password": "wrong-password"}, Status: s401, Code: unauth, Check: badLogin},
		Case{Name: "login of an unknown user", Method: post, Path: "/api/v1/users/login",
			Body: map[string]string{"username": f.Name("nobody"), "password": carolPw}, Status: s401, Code: unauth, Check: badLogin},
		Case{Name: "login without a password", Method: post, Path: "/api/v1/users/login",
			Body: map[string]string{"username": carol}, Status: s400, Code: invalid},
		Case{Name: "get me", Method: get, Path: "/api/v1/users/me", Token: alice.Token, Status: s200,
			Check: func(t *testing.T, r *Response) {
				wantFields(t, r, map[string]any{"id": alice.ID, "username": alice.Username, "email": alice.Email})
			}},
		Case{Name: "update my email", Method: put, Path: "/api/v1/users/me", Token: alice.Token,
			Body: map[string]string{"email": newEmail}, Status: s200,
			Check: func(t *testing.T, r *Response) {
				wantFields(t, r, map[string]any{"id": alice.ID, "email": newEmail})
			}},
		Case{Name: "update with nothing", Method: put, Path: "/api/v1/users/me", Token: alice.Token,
			Body: map[string]string{}, Status: s400, Code: invalid},
		Case{Name: "update with a bad email", Method: put, Path: "/api/v1/users/me", Token: alice.Token,
			Body: map[string]string{"email": "nope"}, Status: s400, Code: invalid},
		Case{Name: "update with a short password", Method: put, Path: "/api/v1/users/me", Token: alice.Token,
			Body: map[string]string{"password": "short"}, Status: s400, Code: invalid},
		Case{Name: "update of the username is refused", Method: put, Path: "/api/v1/users/me", Token: alice.Token,
			Body: map[string]string{"username": "other"}, Status: s400, Code: invalid},
		Case{Name: "failed updates changed nothing", Method: get, Path: "/api/v1/users/me", Token: alice.Token, Status: s200,
			Check: func(t *testing.T, r *Response) {
				wantFields(t, r, map[string]any{"email": newEmail, "username": alice.Username})
			}},
		Case{Name: "update my password", Method: put, Path: "/api/v1/users/me", Token: alice.Token,
			Body: map[string]string{"password": newPw}, Status: s200,
			Check: func(t *testing.T, r *Response) {
				if bytes.Contains(r.Body, []byte(newPw)) {
					t.Error("answer contains the password")
				}
				fresh := f.Login(t, alice.Username, newPw)
				if r := f.Do(t, get, "/api/v1/users/me", alice.Token, nil); r.Status != s401 || r.ErrorCode() != unauth {
					t.Errorf("token from before the password change: %d %s, want 401", r.Status, r.ErrorCode())
				}
				f.must(t, s200, get, "/api/v1/users/me", fresh, nil)
				old := f.Do(t, post, "/api/v1/users/login", "", map[string]string{"username": alice.Username, "password": alice.Password})
				if old.Status != s401 {
					t.Errorf("old password: status %d, want 401", old.Status)
				}
			}},
		Case{Name: "logout", Method: post, Path: "/api/v1/users/logout", Token: dan.Token, Status: s204},
		Case{Name: "token after logout", Method: get, Path: "/api/v1/users/me", Token: dan.Token, Status: s401, Code: unauth},
		Case{Name: "logout again with the revoked token", Method: post, Path: "/api/v1/users/logout", Token: dan.Token, Status: s401, Code: unauth},
		Case{Name: "logout without a token", Method: post, Path: "/api/v1/users/logout", Status: s401, Code: unauth},
		Case{Name: "login after logout", Method: post, Path: "/api/v1/users/login",
			Body: map[string]string{"username": dan.Username, "password": dan.Password}, Status: s200,
			Check: func(t *testing.T, r *Response) {
				var l struct{ Token string }
				r.Decode(t, &l)
				f.must(t, s200, get, "/api/v1/users/me", l.Token, nil)
			}},
		Case{Name: "delete me", Method: del, Path: "/api/v1/users/me", Token: bob.Token, Status: s204},
		Case{Name: "deleted user's token on me", Method: get, Path: "/api/v1/users/me", Token: bob.Token, Status: s401, Code: unauth},
		Case{Name: "deleted user's token on functions", Method: get, Path: "/api/v1/functions", Token: bob.Token, Status: s401, Code: unauth},
		Case{Name: "deleted user's token on delete", Method: del, Path: "/api/v1/users/me", Token: bob.Token, Status: s401, Code: unauth},
		Case{Name: "deleted user cannot log in", Method: post, Path: "/api/v1/users/login",
			Body: map[string]string{"username": bob.Username, "password": bob.Password}, Status: s401, Code: unauth},
		Case{Name: "deleted user's name is free again", Method: post, Path: "/api/v1/users/register",
			Body: reg(bob.Username, bob.Password, bob.Email), Status: s201,
			Check: func(t *testing.T, r *Response) {
				m := r.Map(t)
				if m["id"] == bob.ID {
					t.Error("the new account has the deleted one's id")
				}
				tok := f.Login(t, bob.Username, bob.Password)
				var fl struct{ Functions []any }
				f.must(t, s200, get, "/api/v1/functions", tok, nil).Decode(t, &fl)
				var el struct{ Executions []any }
				f.must(t, s200, get, "/api/v1/executions", tok, nil).Decode(t, &el)
				if len(fl.Functions) != 0 || len(el.Executions) != 0 {
					t.Errorf("the new account sees %d functions and %d executions", len(fl.Functions), len(el.Executions))
				}
			}},
	)
	return cases
}

// authRoutes are the routes that need a token, with a body that would be
// acceptable, so that only the token decides.
var authRoutes = []struct {
	method, path string
	body         any
}{
	{get, "/api/v1/users/me", nil},
	{put, "/api/v1/users/me", map[string]string{"email": "x@example.com"}},
	{del, "/api/v1/users/me", nil},
	{post, "/api/v1/functions", map[string]string{"name": "x", "image_url": "x"}},
	{get, "/api/v1/functions", nil},
	{get, "/api/v1/functions/" + unknownUUID, nil},
	{put, "/api/v1/functions/" + unknownUUID, map[string]string{"name": "x"}},
	{del, "/api/v1/functions/" + unknownUUID, nil},
	{post, "/api/v1/executions", map[string]string{"function_id": unknownUUID}},
	{get, "/api/v1/executions", nil},
	{get, "/api/v1/executions/" + unknownUUID, nil},
	{del, "/api/v1/executions/" + unknownUUID, nil},
	{get, "/api/v1/executions/" + unknownUUID + "/logs", nil},
	{get, "/api/v1/workers/status", nil},
}

// AuthCases: every authenticated route without a token, and every kind of
// bad token.
func AuthCases(t *testing.T, f *Fixture) []Case {
	u := f.Register(t, "auth")
	now := time.Now()
	var cases []Case
	for _, r := range authRoutes {
		cases = append(cases, Case{Name: "no token " + r.method + " " + r.path, Method: r.method, Path: r.path,
			Body: r.body, Status: s401, Code: unauth})
	}
	noneToken := Token(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, u.ID, now, now.Add(time.Hour))
	for _, bad := range []struct{ name, header string }{
		{"empty bearer", "Bearer "},
		{"basic scheme", "Basic dXNlcjpwYXNzd29yZA=="},
		{"token without scheme", u.Token},
		{"garbage", "Bearer not-a-token"},
		{"wrong key", "Bearer " + Token(t, jwt.SigningMethodHS256, []byte("some-other-secret-0123456789abcd"), u.ID, now, now.Add(time.Hour))},
		{"expired", "Bearer " + Token(t, jwt.SigningMethodHS256, f.Secret, u.ID, now.Add(-2*time.Hour), now.Add(-time.Hour))},
		{"alg none", "Bearer " + noneToken},
		{"HS512 with the right key", "Bearer " + Token(t, jwt.SigningMethodHS512, f.Secret, u.ID, now, now.Add(time.Hour))},
		{"no exp", "Bearer " + Token(t, jwt.SigningMethodHS256, f.Secret, u.ID, now, time.Time{})},
		{"empty sub", "Bearer " + Token(t, jwt.SigningMethodHS256, f.Secret, "", now, now.Add(time.Hour))},
		{"unknown user", "Bearer " + Token(t, jwt.SigningMethodHS256, f.Secret, unknownUUID, now, now.Add(time.Hour))},
		{"tampered signature", "Bearer " + u.Token[:len(u.Token)-2] + flip(u.Token[len(u.Token)-2:])},
	} {
		cases = append(cases, Case{Name: "bad token: " + bad.name, Method: get, Path: "/api/v1/users/me",
			Header: map[string]string{"Authorization": bad.header}, Status: s401, Code: unauth})
	}
	cases = append(cases,
		Case{Name: "a forged but valid token works", Method: get, Path: "/api/v1/users/me",
			Token: Token(t, jwt.SigningMethodHS256, f.Secret, u.ID, now, now.Add(time.Hour)), Status: s200},
		Case{Name: "scheme is case-insensitive", Method: get, Path: "/api/v1/users/me",
			Header: map[string]string{"Authorization": "bearer " + u.Token}, Status: s200},
	)
	return cases
}

// flip changes a base64url fragment so that it decodes differently.
func flip(s string) string {
	if s == "AA" {
		return "BB"
	}
	return "AA"
}

// RoutingCases: unknown routes, wrong methods, the open routes.
func RoutingCases(t *testing.T, f *Fixture) []Case {
	u := f.Register(t, "routing")
	return []Case{
		{Name: "unknown route", Method: get, Path: "/api/v1/nope", Status: s404, Code: invalid},
		{Name: "root", Method: get, Path: "/", Status: s404, Code: invalid},
		{Name: "unknown version", Method: get, Path: "/api/v2/functions", Token: u.Token, Status: s404, Code: invalid},
		{Name: "trailing slash", Method: get, Path: "/api/v1/functions/", Token: u.Token, Status: s404, Code: invalid},
		{Name: "extra segment", Method: get, Path: "/api/v1/functions/a/b", Token: u.Token, Status: s404, Code: invalid},
		{Name: "empty segment 400", Method: get, Path: "/api/v1//functions", Token: u.Token, Status: s400, Code: invalid},
		{Name: "dot-dot is not resolved to another route", Method: get, Path: "/api/v1/functions/../users/me", Token: u.Token, Status: s404, Code: invalid},
		{Name: "HEAD on a GET-only route 405", Method: http.MethodHead, Path: "/api/v1/functions", Token: u.Token, Status: s405, Allow: "GET, POST"},
		{Name: "POST on me", Method: post, Path: "/api/v1/users/me", Token: u.Token, Body: "{}", Status: s405, Code: invalid, Allow: "DELETE, GET, PUT"},
		{Name: "PATCH on a function", Method: http.MethodPatch, Path: "/api/v1/functions/x", Token: u.Token, Body: "{}", Status: s405, Code: invalid, Allow: "DELETE, GET, PUT"},
		{Name: "GET on register", Method: get, Path: "/api/v1/users/register", Status: s405, Code: invalid, Allow: "POST"},
		{Name: "DELETE on functions", Method: del, Path: "/api/v1/functions", Token: u.Token, Status: s405, Code: invalid, Allow: "GET, POST"},
		{Name: "PUT on logs", Method: put, Path: "/api/v1/executions/x/logs", Token: u.Token, Body: "{}", Status: s405, Code: invalid, Allow: "GET"},
		{Name: "wrong method without a token is still 405", Method: del, Path: "/api/v1/health", Status: s405, Code: invalid, Allow: "GET"},
		{Name: "health", Method: get, Path: "/api/v1/health", Status: s200, Check: wantHealthy},
		{Name: "health ignores a bad token", Method: get, Path: "/api/v1/health", Token: "garbage", Status: s200},
		{Name: "workers status", Method: get, Path: "/api/v1/workers/status", Token: u.Token, Status: s200,
			Check: func(t *testing.T, r *Response) {
				var w struct {
					Workers []map[string]any `json:"workers"`
					Pending *int             `json:"pending"`
				}
				r.Decode(t, &w)
				if w.Workers == nil || w.Pending == nil {
					t.Errorf("workers status %s; want workers [] and pending", truncate(r.Body))
				}
			}},
	}
}

// JSONCases: strict decoding on every route with a body, and the 1 MiB cap.
func JSONCases(t *testing.T, f *Fixture) []Case {
	u := f.Register(t, "json")
	fn := f.CreateFunction(t, u, "json-fn", nil)
	targets := []struct {
		name, method, path, token string
		wrongType                 string // a body with a field of the wrong type
		field                     string // that field's name
	}{
		{"register", post, "/api/v1/users/register", "", `{"username":5,"password":"password1","email":"a@b.co"}`, "username"},
		{"login", post, "/api/v1/users/login", "", `{"username":"someone","password":true}`, "password"},
		{"update me", put, "/api/v1/users/me", u.Token, `{"email":["a@b.co"]}`, "email"},
		{"create function", post, "/api/v1/functions", u.Token, `{"name":"x","image_url":"x","timeout":"5"}`, "timeout"},
		{"update function", put, "/api/v1/functions/" + fn, u.Token, `{"memory_mb":"big"}`, "memory_mb"},
		{"create execution", post, "/api/v1/executions", u.Token, `{"function_id":7}`, "function_id"},
	}
	over := `{"username":"` + strings.Repeat("a", 1<<20) + `"}`
	var cases []Case
	for _, tg := range targets {
		c := func(name string, body any, status int, code string, check func(*testing.T, *Response)) Case {
			return Case{Name: tg.name + ": " + name, Method: tg.method, Path: tg.path, Token: tg.token,
				Body: body, Status: status, Code: code, Check: check}
		}
		mentions := func(s string) func(*testing.T, *Response) {
			return func(t *testing.T, r *Response) {
				if !strings.Contains(r.ErrorMessage(), s) {
					t.Errorf("message %q does not mention %q", r.ErrorMessage(), s)
				}
			}
		}
		cases = append(cases,
			c("unknown field", `{"bogus_field":1}`, s400, invalid, mentions("bogus_field")),
			c("wrong type", tg.wrongType, s400, invalid, mentions(tg.field)),
			c("trailing garbage", `{} xyz`, s400, invalid, nil),
			c("two objects", `{}{}`, s400, invalid, nil),
			c("empty body", "", s400, invalid, mentions("empty")),
			c("whitespace body", "  \n ", s400, invalid, nil),
			c("null", "null", s400, invalid, nil),
			c("array", `[{}]`, s400, invalid, nil),
			c("string", `"hello"`, s400, invalid, nil),
			c("truncated", `{"a":`, s400, invalid, nil),
			c("not JSON", `hello`, s400, invalid, nil),
			c("over 1 MiB", over, s413, tooLarge, nil),
			c("over 1 MiB, chunked", bytes.NewReader([]byte(over)), s413, tooLarge, nil),
		)
	}
	// Just under the cap is read and judged on its content.
	under := `{"username":"` + strings.Repeat("a", 1<<20-len(`{"username":""}`)) + `"}`
	cases = append(cases, Case{Name: "exactly 1 MiB is read", Method: post, Path: "/api/v1/users/register",
		Body: under, Status: s400, Code: invalid})
	return cases
}

// FunctionCases: create, list, get, update (partial and round trip),
// rename, delete.
func FunctionCases(t *testing.T, f *Fixture) []Case {
	u := f.Register(t, "functions")
	hello := f.CreateFunction(t, u, "hello", nil)
	full := f.CreateFunction(t, u, "full", map[string]any{
		"description": "everything set", "timeout": 30, "memory_mb": 128, "cpus": 0.5,
		"env": map[string]string{"GREETING": "hi", "LANG_X": "fr"}, "network": "internal",
	})
	doomed := f.CreateFunction(t, u, "doomed", nil)
	fullBefore := f.GetFunction(t, u, full)
	return []Case{
		{Name: "create with defaults", Method: post, Path: "/api/v1/functions", Token: u.Token,
			Body: map[string]any{"name": "minimal", "image_url": "busybox"}, Status: s201,
			Check: func(t *testing.T, r *Response) {
				m := wantFields(t, r, map[string]any{"name": "minimal", "image_url": "busybox", "owner": u.ID,
					"timeout": 300, "memory_mb": 512, "cpus": 1, "network": "none", "description": "", "env": map[string]any{}})
				if m["id"] == "" || m["created_at"] != m["updated_at"] {
					t.Errorf("id %v, created_at %v, updated_at %v", m["id"], m["created_at"], m["updated_at"])
				}
			}},
		{Name: "create with every field", Method: post, Path: "/api/v1/functions", Token: u.Token,
			Body: map[string]any{"name": "every", "image_url": "registry.local:5000/team/echo:1.2", "description": "d",
				"timeout": 1, "memory_mb": 6, "cpus": 0.01, "env": map[string]string{"K": "v"}, "network": "internal"},
			Status: s201, Check: func(t *testing.T, r *Response) {
				wantFields(t, r, map[string]any{"timeout": 1, "memory_mb": 6, "cpus": 0.01, "network": "internal",
					"env": map[string]any{"K": "v"}, "description": "d"})
			}},
		{Name: "create a taken name", Method: post, Path: "/api/v1/functions", Token: u.Token,
			Body: map[string]any{"name": "hello", "image_url": "busybox"}, Status: s409, Code: conflict},
		{Name: "list", Method: get, Path: "/api/v1/functions", Token: u.Token, Status: s200,
			Check: func(t *testing.T, r *Response) {
				var l struct {
					Functions []struct{ Name, Owner string }
				}
				r.Decode(t, &l)
				var names []string
				for _, fn := range l.Functions {
					names = append(names, fn.Name)
					if fn.Owner != u.ID {
						t.Errorf("listed a function of %s", fn.Owner)
					}
				}
				sort.Strings(names)
				if strings.Join(names, ",") != "doomed,every,full,hello,minimal" {
					t.Errorf("listed %v", names)
				}
			}},
		{Name: "get", Method: get, Path: "/api/v1/functions/" + full, Token: u.Token, Status: s200,
			Check: func(t *testing.T, r *Response) {
				wantFields(t, r, map[string]any{"id": full, "name": "full", "timeout": 30, "memory_mb": 128,
					"cpus": 0.5, "network": "internal", "env": map[string]any{"GREETING": "hi", "LANG_X": "fr"}})
			}},
		{Name: "partial update keeps absent fields", Method: put, Path: "/api/v1/functions/" + full, Token: u.Token,
			Body: map[string]any{"description": "changed"}, Status: s200,
			Check: func(t *testing.T, r *Response) {
				m := wantFields(t, r, map[string]any{"description": "changed", "name": "full", "timeout": 30,
					"memory_mb": 128, "cpus": 0.5, "network": "internal", "image_url": fullBefore["image_url"],
					"env": fullBefore["env"], "created_at": fullBefore["created_at"]})
				if m["updated_at"] == fullBefore["updated_at"] {
					t.Error("updated_at did not change")
				}
			}},
		{Name: "env given replaces the whole map", Method: put, Path: "/api/v1/functions/" + full, Token: u.Token,
			Body: map[string]any{"env": map[string]string{"ONLY": "one"}}, Status: s200,
			Check: func(t *testing.T, r *Response) {
				wantFields(t, r, map[string]any{"env": map[string]any{"ONLY": "one"}, "description": "changed"})
			}},
		{Name: "null counts as absent", Method: put, Path: "/api/v1/functions/" + full, Token: u.Token,
			Body: `{"env":null,"timeout":null,"description":"again"}`, Status: s200,
			Check: func(t *testing.T, r *Response) {
				wantFields(t, r, map[string]any{"env": map[string]any{"ONLY": "one"}, "timeout": 30, "description": "again"})
			}},
		{Name: "what GET returns can be sent back", Method: put, Path: "/api/v1/functions/" + hello, Token: u.Token,
			Body: func() map[string]any {
				m := f.GetFunction(t, u, hello)
				m["timeout"] = 60
				m["owner"] = "someone-else" // read-only: ignored
				return m
			}(), Status: s200,
			Check: func(t *testing.T, r *Response) {
				wantFields(t, r, map[string]any{"timeout": 60, "owner": u.ID, "id": hello, "name": "hello"})
			}},
		{Name: "rename to a taken name", Method: put, Path: "/api/v1/functions/" + hello, Token: u.Token,
			Body: map[string]any{"name": "full"}, Status: s409, Code: conflict},
		{Name: "the refused rename changed nothing", Method: get, Path: "/api/v1/functions/" + hello, Token: u.Token,
			Status: s200, Check: func(t *testing.T, r *Response) { wantFields(t, r, map[string]any{"name": "hello", "timeout": 60}) }},
		{Name: "rename", Method: put, Path: "/api/v1/functions/" + hello, Token: u.Token,
			Body: map[string]any{"name": "hello-2"}, Status: s200,
			Check: func(t *testing.T, r *Response) { wantFields(t, r, map[string]any{"name": "hello-2", "id": hello}) }},
		{Name: "the old name is free after a rename", Method: post, Path: "/api/v1/functions", Token: u.Token,
			Body: map[string]any{"name": "hello", "image_url": "busybox"}, Status: s201},
		{Name: "delete", Method: del, Path: "/api/v1/functions/" + doomed, Token: u.Token, Status: s204},
		{Name: "get deleted", Method: get, Path: "/api/v1/functions/" + doomed, Token: u.Token, Status: s404, Code: fnNotFound},
		{Name: "update deleted", Method: put, Path: "/api/v1/functions/" + doomed, Token: u.Token,
			Body: map[string]any{"description": "x"}, Status: s404, Code: fnNotFound},
		{Name: "delete deleted", Method: del, Path: "/api/v1/functions/" + doomed, Token: u.Token, Status: s404, Code: fnNotFound},
		{Name: "the deleted name is free", Method: post, Path: "/api/v1/functions", Token: u.Token,
			Body: map[string]any{"name": "doomed", "image_url": "busybox"}, Status: s201},
		{Name: "get unknown", Method: get, Path: "/api/v1/functions/" + unknownUUID, Token: u.Token, Status: s404, Code: fnNotFound},
		{Name: "get with an id that is no key", Method: get, Path: "/api/v1/functions/a.b*c", Token: u.Token, Status: s400, Code: invalid},
	}
}

// ValidationCases: every function field's bounds, on create and on update;
// a refused update leaves the stored function as it was.
func ValidationCases(t *testing.T, f *Fixture) []Case {
	u := f.Register(t, "validation")
	id := f.CreateFunction(t, u, "valid", map[string]any{"description": "orig", "timeout": 10, "memory_mb": 256,
		"cpus": 0.5, "env": map[string]string{"A": "1"}})
	before := f.GetFunction(t, u, id)
	manyEnv := map[string]string{}
	for i := range 65 {
		manyEnv[fmt.Sprintf("V%d", i)] = "x"
	}
	invalidCases := []struct {
		name   string
		fields map[string]any
	}{
		{"empty name", map[string]any{"name": ""}},
		{"upper-case name", map[string]any{"name": "Hello"}},
		{"name with underscore", map[string]any{"name": "a_b"}},
		{"name with space", map[string]any{"name": "a b"}},
		{"name with dot", map[string]any{"name": "a.b"}},
		{"name of 64 characters", map[string]any{"name": strings.Repeat("n", 64)}},
		{"empty image", map[string]any{"image_url": ""}},
		{"upper-case image", map[string]any{"image_url": "Busybox"}},
		{"image with space", map[string]any{"image_url": "bad image"}},
		{"image with scheme", map[string]any{"image_url": "https://registry/x"}},
		{"image of 256 characters", map[string]any{"image_url": strings.Repeat("i", 256)}},
		{"timeout 0", map[string]any{"timeout": 0}},
		{"timeout -1", map[string]any{"timeout": -1}},
		{"timeout 301", map[string]any{"timeout": 301}},
		{"timeout as string", map[string]any{"timeout": "5"}},
		{"timeout fractional", map[string]any{"timeout": 1.5}},
		{"memory 0", map[string]any{"memory_mb": 0}},
		{"memory 5", map[string]any{"memory_mb": 5}},
		{"memory 16385", map[string]any{"memory_mb": 16385}},
		{"cpus 0", map[string]any{"cpus": 0}},
		{"cpus negative", map[string]any{"cpus": -1}},
		{"cpus 65", map[string]any{"cpus": 65}},
		{"cpus 0.001", map[string]any{"cpus": 0.001}},
		{"env key starting with a digit", map[string]any{"env": map[string]string{"1ABC": "x"}}},
		{"env key with dash", map[string]any{"env": map[string]string{"HAS-DASH": "x"}}},
		{"env key empty", map[string]any{"env": map[string]string{"": "x"}}},
		{"env key reserved", map[string]any{"env": map[string]string{"FAAS_TOKEN": "x"}}},
		{"env key reserved, lower case", map[string]any{"env": map[string]string{"faas_x": "x"}}},
		{"env key of 129 characters", map[string]any{"env": map[string]string{strings.Repeat("K", 129): "x"}}},
		{"env value with NUL", map[string]any{"env": map[string]string{"K": "a\x00b"}}},
		{"env value over 4096 bytes", map[string]any{"env": map[string]string{"K": strings.Repeat("v", 4097)}}},
		{"env value a number", map[string]any{"env": map[string]any{"K": 5}}},
		{"env an array", map[string]any{"env": []string{"K=v"}}},
		{"65 env variables", map[string]any{"env": manyEnv}},
		{"network host", map[string]any{"network": "host"}},
		{"network empty", map[string]any{"network": ""}},
		{"network upper-case", map[string]any{"network": "NONE"}},
		{"description over 1024 bytes", map[string]any{"description": strings.Repeat("d", 1025)}},
	}
	var cases []Case
	for _, ic := range invalidCases {
		body := map[string]any{"name": "created", "image_url": "busybox"}
		for k, v := range ic.fields {
			body[k] = v
		}
		cases = append(cases,
			Case{Name: "create: " + ic.name, Method: post, Path: "/api/v1/functions", Token: u.Token,
				Body: body, Status: s400, Code: invalid},
			Case{Name: "update: " + ic.name, Method: put, Path: "/api/v1/functions/" + id, Token: u.Token,
				Body: ic.fields, Status: s400, Code: invalid},
		)
	}
	cases = append(cases, Case{Name: "refused updates left the function intact", Method: get,
		Path: "/api/v1/functions/" + id, Token: u.Token, Status: s200,
		Check: func(t *testing.T, r *Response) { wantFields(t, r, before) }})

	env64 := map[string]string{}
	for i := range 64 {
		env64[fmt.Sprintf("V%d", i)] = "x"
	}
	// Bounds within any host's default admission caps (FUNCTION_MAX_MEMORY_MB, FUNCTION_MAX_CPUS).
	for i, ok := range []map[string]any{
		{"timeout": 1}, {"timeout": 300}, {"memory_mb": 6}, {"memory_mb": 512},
		{"cpus": 0.01}, {"cpus": 1}, {"network": "internal"}, {"network": "none"},
		{"env": env64}, {"env": map[string]string{"_x": "", "faas": "ok"}},
		{"env": map[string]string{strings.Repeat("K", 128): strings.Repeat("v", 4096)}},
		{"description": strings.Repeat("d", 1024)},
		{"name": strings.Repeat("n", 63)},
		{"image_url": "registry.local:5000/team/echo@sha256:" + strings.Repeat("ab", 32)},
	} {
		body := map[string]any{"name": fmt.Sprintf("ok-%d", i), "image_url": "busybox"}
		for k, v := range ok {
			body[k] = v
		}
		cases = append(cases, Case{Name: fmt.Sprintf("create accepts %v", keysOf(ok)) + fmt.Sprint(" #", i),
			Method: post, Path: "/api/v1/functions", Token: u.Token, Body: body, Status: s201})
	}
	return cases
}

func keysOf(m map[string]any) string {
	var ks []string
	for k, v := range m {
		s := fmt.Sprint(v)
		if len(s) > 20 {
			s = s[:20] + "…"
		}
		ks = append(ks, k+"="+s)
	}
	sort.Strings(ks)
	return strings.Join(ks, ",")
}

// IsolationCases: another user's function and execution answer 404 on every
// route, as if absent, and stay untouched.
func IsolationCases(t *testing.T, f *Fixture) []Case {
	a := f.Register(t, "owner")
	b := f.Register(t, "other")
	fa := f.CreateFunction(t, a, "private", map[string]any{"description": "a's"})
	ea := f.Enqueue(t, a, fa, "secret input")
	emptyList := func(key string) func(*testing.T, *Response) {
		return func(t *testing.T, r *Response) {
			if l, _ := r.Map(t)[key].([]any); len(l) != 0 {
				t.Errorf("%s of the other user: %v", key, l)
			}
		}
	}
	return []Case{
		{Name: "get function", Method: get, Path: "/api/v1/functions/" + fa, Token: b.Token, Status: s404, Code: fnNotFound},
		{Name: "update function", Method: put, Path: "/api/v1/functions/" + fa, Token: b.Token,
			Body: map[string]any{"description": "b's"}, Status: s404, Code: fnNotFound},
		{Name: "delete function", Method: del, Path: "/api/v1/functions/" + fa, Token: b.Token, Status: s404, Code: fnNotFound},
		{Name: "list functions", Method: get, Path: "/api/v1/functions", Token: b.Token, Status: s200, Check: emptyList("functions")},
		{Name: "execute function", Method: post, Path: "/api/v1/executions", Token: b.Token,
			Body: map[string]any{"function_id": fa}, Status: s404, Code: fnNotFound},
		{Name: "get execution", Method: get, Path: "/api/v1/executions/" + ea, Token: b.Token, Status: s404, Code: exNotFound},
		{Name: "cancel execution", Method: del, Path: "/api/v1/executions/" + ea, Token: b.Token, Status: s404, Code: exNotFound},
		{Name: "execution logs", Method: get, Path: "/api/v1/executions/" + ea + "/logs", Token: b.Token, Status: s404, Code: exNotFound},
		{Name: "list executions", Method: get, Path: "/api/v1/executions", Token: b.Token, Status: s200, Check: emptyList("executions")},
		{Name: "list executions by the other's function", Method: get, Path: "/api/v1/executions?function_id=" + fa,
			Token: b.Token, Status: s200, Check: emptyList("executions")},
		{Name: "same function name for another user", Method: post, Path: "/api/v1/functions", Token: b.Token,
			Body: map[string]any{"name": "private", "image_url": "busybox"}, Status: s201},
		{Name: "owner's function untouched", Method: get, Path: "/api/v1/functions/" + fa, Token: a.Token, Status: s200,
			Check: func(t *testing.T, r *Response) { wantFields(t, r, map[string]any{"description": "a's"}) }},
		{Name: "owner's execution untouched", Method: get, Path: "/api/v1/executions/" + ea, Token: a.Token, Status: s200,
			Check: func(t *testing.T, r *Response) {
				wantFields(t, r, map[string]any{"status": "pending", "input": "secret input"})
			}},
	}
}

// ExecutionCases: enqueue (input forms, limits), list with filters, get,
// logs, cancel. No worker runs, so executions stay pending.
func ExecutionCases(t *testing.T, f *Fixture) []Case {
	u := f.Register(t, "executions")
	fn := f.CreateFunction(t, u, "runner", nil)
	fn2 := f.CreateFunction(t, u, "other-runner", nil)
	e1 := f.Enqueue(t, u, fn, "first")
	e2 := f.Enqueue(t, u, fn, "second")
	e3 := f.Enqueue(t, u, fn2, "third")
	exec := func(name string, body any, status int, code string, check func(*testing.T, *Response)) Case {
		return Case{Name: name, Method: post, Path: "/api/v1/executions", Token: u.Token, Body: body,
			Status: status, Code: code, Check: check}
	}
	inputIs := func(want string) func(*testing.T, *Response) {
		return func(t *testing.T, r *Response) {
			m := wantFields(t, r, map[string]any{"status": "pending", "function_id": fn})
			if m["input"] != want {
				t.Errorf("input %q, want %q", m["input"], want)
			}
		}
	}
	raw := func(input string) string { return `{"function_id":"` + fn + `","input":` + input + `}` }
	listCheck := func(want ...string) func(*testing.T, *Response) {
		return func(t *testing.T, r *Response) {
			var l struct{ Executions []map[string]any }
			r.Decode(t, &l)
			var ids []string
			var prev time.Time
			for i, e := range l.Executions {
				ids = append(ids, fmt.Sprint(e["id"]))
				if _, ok := e["input"]; ok {
					t.Error("a listed execution has input")
				}
				if _, ok := e["output"]; ok {
					t.Error("a listed execution has output")
				}
				ts, err := time.Parse(time.RFC3339Nano, fmt.Sprint(e["created_at"]))
				if err != nil {
					t.Fatalf("created_at: %v", err)
				}
				if i > 0 && ts.After(prev) {
					t.Error("not newest first")
				}
				prev = ts
			}
			if want != nil && strings.Join(ids, ",") != strings.Join(want, ",") {
				t.Errorf("listed %v, want %v", ids, want)
			}
		}
	}
	return []Case{
		exec("enqueue", map[string]any{"function_id": fn, "input": "hello"}, s202, "",
			func(t *testing.T, r *Response) {
				m := wantFields(t, r, map[string]any{"status": "pending", "function_id": fn, "input": "hello",
					"output": "", "error": "", "attempts": 0, "start_time": nil, "end_time": nil, "duration": 0})
				if id, _ := m["id"].(string); id == "" {
					t.Error("no id")
				}
				if _, err := time.Parse(time.RFC3339Nano, fmt.Sprint(m["created_at"])); err != nil {
					t.Errorf("created_at: %v", err)
				}
			}),
		exec("a JSON string is passed as its text", raw(`"line\nnext \u00e9"`), s202, "", inputIs("line\nnext é")),
		exec("an object is passed as sent", raw(`{"a": 1, "b":[true,null]}`), s202, "", inputIs(`{"a": 1, "b":[true,null]}`)),
		exec("a number is passed as its text", raw(`42`), s202, "", inputIs("42")),
		exec("an array is passed as sent", raw(`[1,2]`), s202, "", inputIs("[1,2]")),
		exec("null is no input", raw(`null`), s202, "", inputIs("")),
		exec("absent is no input", `{"function_id":"`+fn+`"}`, s202, "", inputIs("")),
		exec("input of 192 KiB", map[string]any{"function_id": fn, "input": strings.Repeat("i", 192<<10)}, s202, "", nil),
		exec("input over 192 KiB", map[string]any{"function_id": fn, "input": strings.Repeat("i", 192<<10+1)}, s413, tooLarge, nil),
		exec("unknown function", map[string]any{"function_id": unknownUUID}, s404, fnNotFound, nil),
		exec("no function_id", map[string]any{"input": "x"}, s400, invalid, nil),
		{Name: "wait must be a boolean", Method: post, Path: "/api/v1/executions?wait=maybe", Token: u.Token,
			Body: map[string]any{"function_id": fn}, Status: s400, Code: invalid},
		{Name: "wait=false answers at once", Method: post, Path: "/api/v1/executions?wait=false", Token: u.Token,
			Body: map[string]any{"function_id": fn}, Status: s202},
		{Name: "list", Method: get, Path: "/api/v1/executions", Token: u.Token, Status: s200,
			Check: func(t *testing.T, r *Response) {
				listCheck()(t, r)
				var l struct{ Executions []any }
				r.Decode(t, &l)
				// 3 from the fixture, 9 enqueued by the cases above.
				if len(l.Executions) != 3+9 {
					t.Errorf("listed %d executions, want 12", len(l.Executions))
				}
				if _, ok := r.Map(t)["next"]; ok {
					t.Error(`"next" on the only page`)
				}
			}},
		{Name: "list by function", Method: get, Path: "/api/v1/executions?function_id=" + fn2, Token: u.Token,
			Status: s200, Check: listCheck(e3)},
		{Name: "list by status", Method: get, Path: "/api/v1/executions?status=complete", Token: u.Token,
			Status: s200, Check: listCheck()},
		{Name: "list with limit", Method: get, Path: "/api/v1/executions?limit=1&function_id=" + fn, Token: u.Token,
			Status: s200, Check: func(t *testing.T, r *Response) {
				var l struct{ Executions []map[string]any }
				r.Decode(t, &l)
				if len(l.Executions) != 1 {
					t.Fatalf("listed %d, want 1", len(l.Executions))
				}
				if l.Executions[0]["id"] == e1 || l.Executions[0]["id"] == e2 {
					t.Error("limit=1 did not give the newest")
				}
				if next, _ := r.Map(t)["next"].(string); next == "" {
					t.Error(`no "next" although more executions match`)
				}
			}},
		{Name: "list with a malformed cursor", Method: get, Path: "/api/v1/executions?cursor=not-a-cursor", Token: u.Token, Status: s400, Code: invalid},
		{Name: "list with limit 1000", Method: get, Path: "/api/v1/executions?limit=1000", Token: u.Token, Status: s200},
		{Name: "list with an unknown status", Method: get, Path: "/api/v1/executions?status=done", Token: u.Token, Status: s400, Code: invalid},
		{Name: "list with limit 0", Method: get, Path: "/api/v1/executions?limit=0", Token: u.Token, Status: s400, Code: invalid},
		{Name: "list with limit -1", Method: get, Path: "/api/v1/executions?limit=-1", Token: u.Token, Status: s400, Code: invalid},
		{Name: "list with limit 1001", Method: get, Path: "/api/v1/executions?limit=1001", Token: u.Token, Status: s400, Code: invalid},
		{Name: "list with limit abc", Method: get, Path: "/api/v1/executions?limit=abc", Token: u.Token, Status: s400, Code: invalid},
		{Name: "get", Method: get, Path: "/api/v1/executions/" + e1, Token: u.Token, Status: s200,
			Check: func(t *testing.T, r *Response) {
				wantFields(t, r, map[string]any{"id": e1, "status": "pending", "input": "first", "function_id": fn})
			}},
		{Name: "logs of a pending execution", Method: get, Path: "/api/v1/executions/" + e1 + "/logs", Token: u.Token, Status: s200,
			Check: func(t *testing.T, r *Response) {
				wantFields(t, r, map[string]any{"execution_id": e1, "logs": "", "truncated": false})
			}},
		{Name: "cancel a pending execution", Method: del, Path: "/api/v1/executions/" + e1, Token: u.Token, Status: s200,
			Check: func(t *testing.T, r *Response) {
				m := wantFields(t, r, map[string]any{"id": e1, "status": "cancelled", "error": "cancelled by user", "start_time": nil})
				if m["end_time"] == nil {
					t.Error("no end_time")
				}
			}},
		{Name: "the cancelled execution stays cancelled", Method: get, Path: "/api/v1/executions/" + e1, Token: u.Token, Status: s200,
			Check: func(t *testing.T, r *Response) { wantFields(t, r, map[string]any{"status": "cancelled"}) }},
		{Name: "cancel again", Method: del, Path: "/api/v1/executions/" + e1, Token: u.Token, Status: s409, Code: conflict,
			Check: func(t *testing.T, r *Response) {
				if !strings.Contains(r.ErrorMessage(), "cancelled") {
					t.Errorf("message %q does not name the status", r.ErrorMessage())
				}
			}},
		{Name: "list cancelled", Method: get, Path: "/api/v1/executions?status=cancelled", Token: u.Token,
			Status: s200, Check: listCheck(e1)},
		{Name: "list pending by function", Method: get, Path: "/api/v1/executions?status=pending&function_id=" + fn2, Token: u.Token,
			Status: s200, Check: listCheck(e3)},
		{Name: "get unknown", Method: get, Path: "/api/v1/executions/" + unknownUUID, Token: u.Token, Status: s404, Code: exNotFound},
		{Name: "cancel unknown", Method: del, Path: "/api/v1/executions/" + unknownUUID, Token: u.Token, Status: s404, Code: exNotFound},
		{Name: "logs of unknown", Method: get, Path: "/api/v1/executions/" + unknownUUID + "/logs", Token: u.Token, Status: s404, Code: exNotFound},
		{Name: "the other executions are still pending", Method: get, Path: "/api/v1/executions/" + e2, Token: u.Token, Status: s200,
			Check: func(t *testing.T, r *Response) { wantFields(t, r, map[string]any{"status": "pending"}) }},
	}
}

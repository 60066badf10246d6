package apitest

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// securityRoute is one authenticated route with a body it would accept, its
// path written with ID where an id of the caller's choice goes.
type securityRoute struct {
	method, path string
	body         any
	// notFound is the code of another tenant's id on this route.
	notFound string
}

// securityRoutes lists every authenticated route of contract §3 (the
// objects routes included); ID stands for the id in the path.
func securityRoutes() []securityRoute {
	const fnNF, exNF = "function_not_found", "execution_not_found"
	return []securityRoute{
		{get, "/api/v1/users/me", nil, ""},
		{put, "/api/v1/users/me", map[string]string{"email": "x@example.com"}, ""},
		{post, "/api/v1/users/logout", nil, ""},
		{get, "/api/v1/functions", nil, ""},
		{post, "/api/v1/functions", map[string]string{"name": "x", "image_url": "faas-examples/echo:latest"}, ""},
		{get, "/api/v1/functions/ID", nil, fnNF},
		{put, "/api/v1/functions/ID", map[string]string{"description": "x"}, fnNF},
		{del, "/api/v1/functions/ID", nil, fnNF},
		{get, "/api/v1/executions", nil, ""},
		{get, "/api/v1/executions/ID", nil, exNF},
		{del, "/api/v1/executions/ID", nil, exNF},
		{get, "/api/v1/executions/ID/logs", nil, exNF},
		{get, "/api/v1/deadletters", nil, ""},
		{post, "/api/v1/deadletters/ID/redrive", nil, exNF},
		{del, "/api/v1/deadletters/ID", nil, exNF},
		{get, "/api/v1/workers/status", nil, ""},
		{get, "/api/function-objects/FN", nil, fnNF},
		{put, "/api/function-objects/FN/data.bin", "x", fnNF},
		{get, "/api/function-objects/FN/data.bin", nil, fnNF},
		{del, "/api/function-objects/FN/data.bin", nil, fnNF},
		{del, "/api/v1/users/me", nil, ""}, // last: it would delete the caller
	}
}

// SecurityCases is the security table of issue 8, run against both
// gateways: every authenticated route × {no token, garbage, expired, wrong
// key, alg none} answers 401 unauthorized; with a good token, another
// tenant's id answers that route's 404, an oversized id and one with a
// control character 400; never a 500; and after all of it the API still
// serves, and the other tenant's function and execution are intact.
func SecurityCases(t *testing.T, f *Fixture) []Case {
	attacker := f.Register(t, "attacker")
	victim := f.Register(t, "victim")
	vfn := f.CreateFunction(t, victim, "victim-fn", nil)
	vex := f.Enqueue(t, victim, vfn, "secret input")
	now := time.Now()
	badTokens := []struct{ name, header string }{
		{"no token", ""},
		{"garbage", "Bearer not-a-token"},
		{"expired", "Bearer " + Token(t, jwt.SigningMethodHS256, f.Secret, attacker.ID, now.Add(-2*time.Hour), now.Add(-time.Hour))},
		{"wrong key", "Bearer " + Token(t, jwt.SigningMethodHS256, []byte("some-other-secret-0123456789abcd"), attacker.ID, now, now.Add(time.Hour))},
		{"alg none", "Bearer " + Token(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, attacker.ID, now, now.Add(time.Hour))},
	}
	fill := func(path, id, fn string) string {
		return strings.NewReplacer("ID", id, "FN", fn).Replace(path)
	}
	var cases []Case
	for _, r := range securityRoutes() {
		path := fill(r.path, vex, vfn)
		if strings.Contains(r.path, "/functions/ID") {
			path = fill(r.path, vfn, vfn)
		}
		for _, bt := range badTokens {
			c := Case{Name: r.method + " " + r.path + " with " + bt.name, Method: r.method, Path: path, Body: r.body,
				Status: s401, Code: unauth}
			if bt.header != "" {
				c.Header = map[string]string{"Authorization": bt.header}
			}
			cases = append(cases, c)
		}
		if r.notFound == "" {
			continue
		}
		cases = append(cases, Case{Name: r.method + " " + r.path + " with another tenant's id", Method: r.method,
			Path: path, Token: attacker.Token, Body: r.body, Status: s404, Code: r.notFound})
		for _, bad := range []struct{ name, id string }{
			{"an oversized id", strings.Repeat("z", 300)},
			{"a control character in the id", "ab%07cd"},
		} {
			cases = append(cases, Case{Name: r.method + " " + r.path + " with " + bad.name, Method: r.method,
				Path: fill(r.path, bad.id, bad.id), Token: attacker.Token, Body: r.body, Status: s400, Code: invalid})
		}
	}
	return append(cases,
		Case{Name: "the API still serves: health", Method: get, Path: "/api/v1/health", Status: s200},
		Case{Name: "the API still serves: the attacker's own account", Method: get, Path: "/api/v1/users/me",
			Token: attacker.Token, Status: s200},
		Case{Name: "the victim's function is intact", Method: get, Path: "/api/v1/functions/" + vfn,
			Token: victim.Token, Status: s200},
		Case{Name: "the victim's execution is intact", Method: get, Path: "/api/v1/executions/" + vex,
			Token: victim.Token, Status: s200, Check: func(t *testing.T, r *Response) {
				if in, _ := r.Map(t)["input"].(string); in != "secret input" {
					t.Errorf("the victim's execution input is %q", in)
				}
			}},
		Case{Name: "the victim's token still works", Method: get, Path: "/api/v1/users/me",
			Token: victim.Token, Status: s200, Check: func(t *testing.T, r *Response) {
				if r.Status == http.StatusOK && r.Map(t)["id"] != victim.ID {
					t.Error("me is not the victim")
				}
			}},
	)
}

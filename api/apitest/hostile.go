package apitest

import (
	"net/url"
	"strings"
	"testing"
)

// HostileCases: input an attacker controls that would reach NATS keys as it
// is — oversized and odd ids, names, queries and headers — answers 400
// invalid_input (401 without a token), and the API goes on serving: the
// last cases log in, read a function and find health "ok" after all of it.
func HostileCases(t *testing.T, f *Fixture) []Case {
	u := f.Register(t, "hostile")
	fn := f.CreateFunction(t, u, "hostile-fn", nil)
	huge := strings.Repeat("a", 5000)
	odd := []struct{ name, id string }{
		{"a 5,000-byte id", huge},
		{"a 65-byte id", strings.Repeat("b", 65)},
		{"a control character", "ab%01cd"},
		{"a NUL", "ab%00cd"},
		{"a dot", "a.b"},
		{"a wildcard", "a*"},
		{"a space", "a%20b"},
		{"a greater-than sign", "a%3Eb"},
		{"non-ASCII", "%C3%A9t%C3%A9"},
	}
	var cases []Case
	for _, o := range odd {
		for _, r := range []struct{ method, path string }{
			{get, "/api/v1/functions/" + o.id},
			{put, "/api/v1/functions/" + o.id},
			{del, "/api/v1/functions/" + o.id},
			{get, "/api/v1/executions/" + o.id},
			{del, "/api/v1/executions/" + o.id},
			{get, "/api/v1/executions/" + o.id + "/logs"},
			{post, "/api/v1/deadletters/" + o.id + "/redrive"},
			{del, "/api/v1/deadletters/" + o.id},
		} {
			var body any
			if r.method == put {
				body = map[string]any{"description": "x"}
			}
			cases = append(cases,
				Case{Name: r.method + " " + o.name + " in the path", Method: r.method, Path: r.path, Token: u.Token,
					Body: body, Status: s400, Code: invalid},
				Case{Name: r.method + " " + o.name + " in the path without a token", Method: r.method, Path: r.path,
					Body: body, Status: s401, Code: unauth})
		}
	}
	q := url.QueryEscape
	cases = append(cases,
		Case{Name: "login with a 5,000-byte username", Method: post, Path: "/api/v1/users/login",
			Body: map[string]string{"username": huge, "password": "some-password"}, Status: s400, Code: invalid},
		Case{Name: "login with a control character in the username", Method: post, Path: "/api/v1/users/login",
			Body: map[string]string{"username": "ab\x01cd", "password": "some-password"}, Status: s400, Code: invalid},
		Case{Name: "login with a dotted username", Method: post, Path: "/api/v1/users/login",
			Body: map[string]string{"username": "a.b.c", "password": "some-password"}, Status: s400, Code: invalid},
		Case{Name: "register with a 5,000-byte username", Method: post, Path: "/api/v1/users/register",
			Body: map[string]string{"username": huge, "password": "some-password", "email": "x@example.com"}, Status: s400, Code: invalid},
		Case{Name: "a 5,000-byte function_id filter", Method: get, Path: "/api/v1/executions?function_id=" + huge,
			Token: u.Token, Status: s400, Code: invalid},
		Case{Name: "a dotted function_id filter", Method: get, Path: "/api/v1/executions?function_id=" + q("a.>"),
			Token: u.Token, Status: s400, Code: invalid},
		Case{Name: "a 5,000-byte cursor", Method: get, Path: "/api/v1/executions?cursor=" + huge,
			Token: u.Token, Status: s400, Code: invalid},
		Case{Name: "a 5,000-byte function_id to run", Method: post, Path: "/api/v1/executions",
			Token: u.Token, Body: map[string]any{"function_id": huge}, Status: s400, Code: invalid},
		Case{Name: "a function_id to run with a wildcard", Method: post, Path: "/api/v1/executions",
			Token: u.Token, Body: map[string]any{"function_id": "*"}, Status: s400, Code: invalid},
		Case{Name: "a 5,000-byte Idempotency-Key", Method: post, Path: "/api/v1/executions",
			Token: u.Token, Header: map[string]string{"Idempotency-Key": huge}, Body: map[string]any{"function_id": fn},
			Status: s400, Code: invalid},
		Case{Name: "a 5,000-byte function name", Method: post, Path: "/api/v1/functions",
			Token: u.Token, Body: map[string]any{"name": huge, "image_url": "faas-examples/echo:latest"}, Status: s400, Code: invalid},
		Case{Name: "a 5,000-byte env key", Method: put, Path: "/api/v1/functions/" + fn,
			Token: u.Token, Body: map[string]any{"env": map[string]string{huge: "x"}}, Status: s400, Code: invalid},
		// The API still serves.
		Case{Name: "login still works", Method: post, Path: "/api/v1/users/login",
			Body: map[string]string{"username": u.Username, "password": u.Password}, Status: s200},
		Case{Name: "the function is intact", Method: get, Path: "/api/v1/functions/" + fn, Token: u.Token, Status: s200,
			Check: func(t *testing.T, r *Response) { wantFields(t, r, map[string]any{"id": fn, "name": "hostile-fn"}) }},
		Case{Name: "health is ok", Method: get, Path: "/api/v1/health", Status: s200, Check: wantHealthy},
	)
	return cases
}

// wantHealthy checks a health answer: status "ok" and every check "ok".
func wantHealthy(t *testing.T, r *Response) {
	t.Helper()
	var h struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	r.Decode(t, &h)
	if h.Status != "ok" || len(h.Checks) == 0 {
		t.Errorf("health %s", truncate(r.Body))
	}
	for name, v := range h.Checks {
		if v != "ok" {
			t.Errorf("check %s = %q", name, v)
		}
	}
}

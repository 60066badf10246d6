package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/faasplatform/faas/domain"
)

func TestParsePattern(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		ok      bool
	}{
		{"/api/v1/functions", true},
		{"/api/v1/functions/{id}", true},
		{"/api/function-objects/{fid}/{name...}", true},
		{"api/v1", false},
		{"/api//x", false},
		{"/api/{}", false},
		{"/api/{name...}/x", false},
		{"/api/a{b}", false},
		{"/", false},
	} {
		_, _, err := parsePattern(tc.pattern)
		if (err == nil) != tc.ok {
			t.Errorf("parsePattern(%q) error %v, want ok=%v", tc.pattern, err, tc.ok)
		}
	}
}

// TestRouterMatch: the ServeMux router's matches, path values, 404s and
// 405s (with the methods allowed), including what ServeMux alone would
// redirect or let through.
func TestRouterMatch(t *testing.T) {
	rt := newRouter()
	var got string
	var params map[string]string
	serve := func(r *route, _ http.ResponseWriter, req *http.Request) {
		got = r.pattern
		params = map[string]string{}
		for _, name := range append(slices.Clone(r.ids), r.rest) {
			if name != "" {
				params[name] = req.PathValue(name)
			}
		}
	}
	for _, r := range []struct{ method, pattern string }{
		{"GET", "/api/v1/functions"},
		{"POST", "/api/v1/functions"},
		{"GET", "/api/v1/functions/{id}"},
		{"PUT", "/api/v1/functions/{id}"},
		{"GET", "/api/v1/executions/{id}/logs"},
		{"GET", "/api/v1/users/me"},
		{"GET", "/api/v1/users/{id}"},
		{"GET", "/objects/{fid}/{name...}"},
		{"HEAD", "/objects/{fid}/{name...}"},
	} {
		rt.add(&route{method: r.method, pattern: r.pattern}, serve)
	}
	for _, tc := range []struct {
		method, path string
		pattern      string // "" when no route
		params       map[string]string
		allowed      string
		err          bool
	}{
		{"GET", "/api/v1/functions", "/api/v1/functions", map[string]string{}, "", false},
		{"POST", "/api/v1/functions", "/api/v1/functions", map[string]string{}, "", false},
		{"DELETE", "/api/v1/functions", "", nil, "GET, POST", false},
		{"HEAD", "/api/v1/functions", "", nil, "GET, POST", false},
		{"GET", "/api/v1/functions/abc", "/api/v1/functions/{id}", map[string]string{"id": "abc"}, "", false},
		{"PATCH", "/api/v1/functions/abc", "", nil, "GET, PUT", false},
		{"GET", "/api/v1/functions/", "", nil, "", false},
		{"GET", "/api/v1/functions/a/b", "", nil, "", false},
		{"GET", "/api/v1/functions/a%2Fb", "/api/v1/functions/{id}", map[string]string{"id": "a/b"}, "", false},
		{"GET", "/api/v1/functions/..", "/api/v1/functions/{id}", map[string]string{"id": ".."}, "", false},
		{"GET", "/api/v1/functions/../users/me", "", nil, "", false},
		{"GET", "/api/v1//functions", "", nil, "", true},
		{"GET", "/api/v1/executions/x/logs", "/api/v1/executions/{id}/logs", map[string]string{"id": "x"}, "", false},
		{"GET", "/api/v1/executions/x", "", nil, "", false},
		{"GET", "/api/v1/users/me", "/api/v1/users/me", map[string]string{}, "", false},
		{"GET", "/api/v1/users/u1", "/api/v1/users/{id}", map[string]string{"id": "u1"}, "", false},
		{"GET", "/objects/f/a/b/c", "/objects/{fid}/{name...}", map[string]string{"fid": "f", "name": "a/b/c"}, "", false},
		{"HEAD", "/objects/f/a", "/objects/{fid}/{name...}", map[string]string{"fid": "f", "name": "a"}, "", false},
		{"GET", "/objects/f/a/./b", "/objects/{fid}/{name...}", map[string]string{"fid": "f", "name": "a/./b"}, "", false},
		{"GET", "/objects/f/a/../b", "/objects/{fid}/{name...}", map[string]string{"fid": "f", "name": "a/../b"}, "", false},
		{"GET", "/objects/f/a/", "/objects/{fid}/{name...}", map[string]string{"fid": "f", "name": "a/"}, "", false},
		{"PUT", "/objects/f/a", "", nil, "GET, HEAD", false},
		{"GET", "/objects/f//a", "", nil, "", true},
		{"GET", "/objects/f", "", nil, "", false}, // ServeMux alone redirects to /objects/f/
		{"GET", "/objects/f/", "", nil, "", false},
		{"GET", "", "", nil, "", false},
		{"GET", "/", "", nil, "", false},
	} {
		got, params = "", nil
		req := &http.Request{Method: tc.method, URL: &url.URL{Path: tc.path}, Host: "api.test"}
		if tc.path != "" {
			u, err := url.ParseRequestURI(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			req.URL = u
		}
		routed, allowed, err := rt.lookup(req)
		if routed != nil {
			w := httptest.NewRecorder()
			rt.mux.ServeHTTP(w, routed)
			if got == "" {
				t.Errorf("%s %q: lookup found a route, the mux answered %d", tc.method, tc.path, w.Code)
			}
		}
		if got != tc.pattern || fmt.Sprint(params) != fmt.Sprint(tc.params) ||
			strings.Join(allowed, ", ") != tc.allowed || (err != nil) != tc.err {
			t.Errorf("%s %q = %q %v %v %v; want %q %v %q err=%v", tc.method, tc.path, got, params, allowed, err,
				tc.pattern, tc.params, tc.allowed, tc.err)
		}
	}
}

func TestClassify(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("layer: %w", err) }
	for _, tc := range []struct {
		name   string
		err    error
		status int
		code   string
		msg    string
	}{
		{"invalid", wrap(domain.Invalid("name is bad")), 400, "invalid_input", "name is bad"},
		{"plain invalid", wrap(domain.ErrInvalidInput), 400, "invalid_input", "invalid input"},
		{"unauthorized", wrap(domain.ErrUnauthorized), 401, "unauthorized", "authentication required"},
		{"forbidden", domain.ErrForbidden, 403, "forbidden", "forbidden"},
		{"function", wrap(domain.ErrFunctionNotFound), 404, "function_not_found", "function not found"},
		{"execution", wrap(domain.ErrExecutionNotFound), 404, "execution_not_found", "execution not found"},
		{"user", domain.ErrUserNotFound, 404, "user_not_found", "user not found"},
		{"object", domain.ErrObjectNotFound, 404, "object_not_found", "object not found"},
		{"conflict", wrap(domain.Errorf(domain.ErrConflict, "taken")), 409, "conflict", "taken"},
		{"too large", domain.ErrPayloadTooLarge, 413, "payload_too_large", "payload too large"},
		{"rate", domain.ErrRateLimited, 429, "rate_limited", "too many requests"},
		{"timeout", domain.ErrExecutionTimeout, 500, "execution_timeout", "execution timed out"},
		{"unavailable", domain.ErrUnavailable, 503, "unavailable", "service unavailable, try again later"},
		{"internal hides details", errors.New("open /etc/secret: permission denied"), 500, "internal_error", "internal error"},
		{"image not found is internal", domain.ErrImageNotFound, 500, "internal_error", "internal error"},
		{"max bytes", &http.MaxBytesError{Limit: 1}, 413, "payload_too_large", "request body exceeds 1 MiB"},
		{"cancelled", wrap(context.Canceled), 503, "unavailable", "the request was cancelled or timed out"},
		// A public part decides over other sentinels in the chain.
		{"public first", fmt.Errorf("%w: %w", domain.Errorf(domain.ErrUnauthorized, "bad login"), domain.ErrUserNotFound),
			401, "unauthorized", "bad login"},
		{"public of an unknown kind", &domain.PublicError{Kind: errors.New("odd"), Message: "x"}, 500, "internal_error", "internal error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, code, msg := Classify(tc.err)
			if status != tc.status || code != tc.code || msg != tc.msg {
				t.Errorf("Classify = %d %q %q; want %d %q %q", status, code, msg, tc.status, tc.code, tc.msg)
			}
		})
	}
}

func TestDecodeBytes(t *testing.T) {
	type body struct {
		Name  *string           `json:"name"`
		Count *int              `json:"count"`
		Env   map[string]string `json:"env"`
	}
	for _, tc := range []struct {
		name, in string
		ok       bool
		mention  string
	}{
		{"object", `{"name":"x","count":2,"env":{"A":"b"}}`, true, ""},
		{"surrounding whitespace", " \n{\"name\":\"x\"}\n ", true, ""},
		{"empty object", `{}`, true, ""},
		{"empty", ``, false, "empty"},
		{"spaces", "   ", false, "empty"},
		{"unknown field", `{"nme":"x"}`, false, `"nme"`},
		{"wrong type", `{"count":"2"}`, false, `"count"`},
		{"fraction for int", `{"count":2.5}`, false, `"count"`},
		{"wrong map value", `{"env":{"A":1}}`, false, `"env`},
		{"trailing garbage", `{"name":"x"} garbage`, false, "after"},
		{"second object", `{}{}`, false, "after"},
		{"trailing comma", `{"name":"x",}`, false, "not valid JSON"},
		{"truncated", `{"name":`, false, "ends too early"},
		{"array", `[]`, false, "JSON object"},
		{"null", `null`, false, "JSON object"},
		{"number", `12`, false, "JSON object"},
		{"bare word", `hello`, false, "not valid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b body
			err := decodeBytes([]byte(tc.in), &b)
			if tc.ok {
				if err != nil {
					t.Fatalf("decode: %v", err)
				}
				return
			}
			var pe *domain.PublicError
			if !errors.As(err, &pe) || !errors.Is(err, domain.ErrInvalidInput) {
				t.Fatalf("error %v; want a public invalid_input", err)
			}
			if !strings.Contains(pe.Message, tc.mention) {
				t.Errorf("message %q does not mention %q", pe.Message, tc.mention)
			}
		})
	}
}

func TestDecodeJSONLimit(t *testing.T) {
	for _, tc := range []struct {
		name          string
		size          int
		contentLength int64 // -1: unknown (chunked)
		tooLarge      bool
	}{
		{"declared over the cap", 10, MaxBodyBytes + 1, true},
		{"read over the cap", MaxBodyBytes + 1, -1, true},
		{"at the cap", MaxBodyBytes, -1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := `{"name":"` + strings.Repeat("a", max(tc.size-len(`{"name":""}`), 0)) + `"}`
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(in))
			r.ContentLength = tc.contentLength
			var dst struct {
				Name string `json:"name"`
			}
			err := decodeJSON(httptest.NewRecorder(), r, &dst)
			if got := errors.Is(err, domain.ErrPayloadTooLarge); got != tc.tooLarge {
				t.Errorf("decodeJSON error %v; too large = %v, want %v", err, got, tc.tooLarge)
			}
		})
	}
}

func TestInputBytes(t *testing.T) {
	for _, tc := range []struct{ raw, want string }{
		{``, ``},
		{`null`, ``},
		{`"hello"`, `hello`},
		{`"a\nb\u00e9"`, "a\nbé"},
		{`""`, ``},
		{`{"a": 1}`, `{"a": 1}`},
		{`[1, 2]`, `[1, 2]`},
		{`42`, `42`},
		{`true`, `true`},
	} {
		got, err := inputBytes(json.RawMessage(tc.raw))
		if err != nil || string(got) != tc.want {
			t.Errorf("inputBytes(%s) = %q, %v; want %q", tc.raw, got, err, tc.want)
		}
	}
}

// TestExecutionSummaryOmitsInputAndOutput guards the shadowing trick of
// executionSummary against a change of encoding/json or of the domain type.
func TestExecutionSummaryOmitsInputAndOutput(t *testing.T) {
	e := &domain.Execution{ID: "e1", Status: domain.StatusComplete, Input: "in", Output: "out", Logs: "logs", Error: "err"}
	data, err := json.Marshal(executionSummary{Execution: e})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"input", "output", "logs"} {
		if _, ok := m[k]; ok {
			t.Errorf("summary has %q: %s", k, data)
		}
	}
	if m["id"] != "e1" || m["status"] != "complete" || m["error"] != "err" {
		t.Errorf("summary lost fields: %s", data)
	}
}

func TestWriteJSON(t *testing.T) {
	w := httptest.NewRecorder()
	WriteJSON(w, http.StatusTeapot, map[string]string{"html": "<b>&</b>"})
	if w.Code != http.StatusTeapot || w.Header().Get("Content-Type") != "application/json" ||
		w.Body.String() != `{"html":"<b>&</b>"}`+"\n" {
		t.Errorf("WriteJSON: %d %q %q", w.Code, w.Header().Get("Content-Type"), w.Body.String())
	}
	w = httptest.NewRecorder()
	WriteJSON(w, http.StatusOK, func() {}) // cannot be encoded
	if w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), "internal_error") {
		t.Errorf("unencodable: %d %s", w.Code, w.Body.String())
	}
}

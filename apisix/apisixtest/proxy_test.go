package apisixtest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestProxiedRouteBodyLimit: a route without the plugin is proxied with the
// body nginx read under the route's client-control max_body_size (or the
// global client_max_body_size without it); over it, nginx's 413.
func TestProxiedRouteBodyLimit(t *testing.T) {
	var got []string
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, string(b))
		w.WriteHeader(http.StatusCreated)
	})
	ten, zero := int64(10), int64(0)
	routes := []Route{
		{ID: "limited", URI: "/limited/*", HasUpstream: true, MaxBodySize: &ten},
		{ID: "unlimited", URI: "/unlimited/*", HasUpstream: true, MaxBodySize: &zero},
		{ID: "global", URI: "/global/*", HasUpstream: true},
	}
	opts := Options{ClientMaxBodySize: 5, Upstreams: map[string]http.Handler{"limited": up, "unlimited": up, "global": up}}
	e := newTestEmulator(t, &fakeRunner{path: t.TempDir() + "/none.sock"}, opts, routes...)
	cases := []struct {
		path, body string
		chunked    bool
		status     int
	}{
		{"/limited/x", strings.Repeat("a", 10), false, http.StatusCreated},
		{"/limited/x", strings.Repeat("a", 11), false, http.StatusRequestEntityTooLarge},
		{"/limited/x", strings.Repeat("a", 11), true, http.StatusRequestEntityTooLarge},
		{"/unlimited/x", strings.Repeat("a", 100), true, http.StatusCreated},
		{"/global/x", strings.Repeat("a", 5), false, http.StatusCreated},
		{"/global/x", strings.Repeat("a", 6), false, http.StatusRequestEntityTooLarge},
	}
	for _, c := range cases {
		var body io.Reader = strings.NewReader(c.body)
		if c.chunked {
			body = struct{ io.Reader }{body}
		}
		r := httptest.NewRequest(http.MethodPut, c.path, body)
		if c.chunked {
			r.ContentLength = -1
		}
		if w := serve(e, r); w.Code != c.status {
			t.Errorf("PUT %s of %d bytes (chunked %v): %d, want %d", c.path, len(c.body), c.chunked, w.Code, c.status)
		}
	}
	if len(got) != 3 || got[0] != strings.Repeat("a", 10) {
		t.Errorf("upstream got %d bodies (%q...), want the 3 within limits whole", len(got), got)
	}
}

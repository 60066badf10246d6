package apisix_test

import (
	"bytes"
	"net"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/faasplatform/faas/apisix/apisixtest"
	"github.com/faasplatform/faas/objects"
)

// upstreamsOf reads the upstreams of the standalone file as generic JSON.
func upstreamsOf(t *testing.T, path string) []any {
	t.Helper()
	ups, _ := docOf(t, path)["upstreams"].([]any)
	return ups
}

func (s *schemas) upstream(t *testing.T) *jsonschema.Schema {
	t.Helper()
	sch, err := s.c.Compile(schemaURL + "#/main/upstream")
	if err != nil {
		t.Fatalf("compile main.upstream: %v", err)
	}
	return sch
}

// TestUpstreamsValidAgainstAPISIXSchemas: every upstream passes main.upstream,
// ids are unique, and every route's upstream_id names one of them.
func TestUpstreamsValidAgainstAPISIXSchemas(t *testing.T) {
	s := loadSchemas(t)
	sch := s.upstream(t)
	ups := upstreamsOf(t, routesFile)
	if len(ups) == 0 {
		t.Fatal("no upstreams: the objects route needs one")
	}
	ids := map[string]bool{}
	for _, u := range ups {
		m, _ := u.(map[string]any)
		id, _ := m["id"].(string)
		if err := sch.Validate(u); err != nil {
			t.Errorf("upstream %q: %v", id, err)
		}
		if id == "" || ids[id] {
			t.Errorf("upstream id %q empty or repeated", id)
		}
		ids[id] = true
	}
	routes, err := apisixtest.LoadRoutes(routesFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range routes {
		if r.UpstreamID != "" && !ids[r.UpstreamID] {
			t.Errorf("route %s: upstream_id %q is not defined", r.ID, r.UpstreamID)
		}
	}
}

// TestBrokenUpstreamsFailValidation makes sure the upstream check can fail.
func TestBrokenUpstreamsFailValidation(t *testing.T) {
	s := loadSchemas(t)
	sch := s.upstream(t)
	cases := []struct {
		name    string
		breakIt func(u map[string]any)
	}{
		{"no nodes", func(u map[string]any) { delete(u, "nodes") }},
		{"no type", func(u map[string]any) { delete(u, "type") }},
		{"unknown scheme", func(u map[string]any) { u["scheme"] = "ftp" }},
		{"timeout without read", func(u map[string]any) { delete(u["timeout"].(map[string]any), "read") }},
		{"zero connect timeout", func(u map[string]any) { u["timeout"].(map[string]any)["connect"] = 0 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := deepCopy(t, upstreamsOf(t, routesFile)[0]).(map[string]any)
			tc.breakIt(u)
			if err := sch.Validate(normalize(t, u)); err == nil {
				t.Fatal("the broken upstream passed validation")
			}
		})
	}
}

// TestObjectsRouteIsProxied: /api/function-objects/* never passes through the
// plugin (runner v0.5.0 cannot carry its bodies), goes to the objects
// service's upstream, lets bodies up to OBJECT_MAX_BYTES through nginx, and
// has the API's limit-count.
func TestObjectsRouteIsProxied(t *testing.T) {
	byURI := routesByURI(t)
	obj, api := byURI["/api/function-objects/*"], byURI["/api/v1/*"]
	if obj == nil || api == nil {
		t.Fatal("want the routes /api/function-objects/* and /api/v1/*")
	}
	var node string
	for _, u := range upstreamsOf(t, routesFile) {
		m := u.(map[string]any)
		if m["id"] == obj.UpstreamID {
			for n := range m["nodes"].(map[string]any) {
				node = n
			}
		}
	}
	_, port, _ := net.SplitHostPort(node)
	cors := string(obj.Plugins["cors"])
	checks := []struct {
		name string
		ok   bool
	}{
		{"no ext-plugin: bodies never reach the runner", obj.ExtConf == nil},
		{"an upstream", obj.HasUpstream && obj.UpstreamID != ""},
		{"all methods", len(obj.Methods) == 0},
		{"the upstream is faas gateway's SERVER_ADDRESS port 8080", port == "8080"},
		{"client-control max_body_size at least OBJECT_MAX_BYTES' default",
			obj.MaxBodySize != nil && (*obj.MaxBodySize == 0 || *obj.MaxBodySize >= objects.DefaultLimits.MaxObjectBytes)},
		{"the API route's limit-count", bytes.Equal(obj.Plugins["limit-count"], api.Plugins["limit-count"])},
		{"cors lets Range and If-None-Match in, ETag and Content-Range out",
			strings.Contains(cors, "Range") && strings.Contains(cors, "If-None-Match") && strings.Contains(cors, "ETag") &&
				strings.Contains(cors, "Content-Range") && strings.Contains(cors, "HEAD") && strings.Contains(cors, "PUT")},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("objects route: want %s", c.name)
		}
	}
}

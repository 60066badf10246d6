package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/faasplatform/faas/domain"
)

// route is one row of the routing table.
type route struct {
	method  string
	pattern string
	// ids are the "{name}" wildcards, each checked with domain.ValidateID
	// before the route runs; rest is the final "{name...}" wildcard, if any.
	ids    []string
	rest   string
	auth   bool
	handle func(w http.ResponseWriter, r *http.Request) error
	// limitBody: a built-in JSON route, whose declared body size is
	// checked against maxBodyBytes before anything else.
	limitBody bool
}

// key is the route's net/http ServeMux pattern ("GET /api/v1/functions/{id}").
func (r *route) key() string { return r.method + " " + r.pattern }

// router matches requests with net/http's ServeMux, whose patterns (method
// and wildcards) do the matching and set r.PathValue. What ServeMux would
// answer on its own is kept to the contract instead:
//   - an unknown path or method: ServeMux's plain text becomes the JSON
//     envelope (404, or 405 with Allow), decided by lookup;
//   - a "." or ".." segment: ServeMux would redirect to the cleaned path
//     (301), rewriting an object name behind the caller's back; here the
//     segment is matched as it is, so a name with ".." gets its 400 from
//     the name rules and "a/./b" stays the name it is;
//   - an empty segment ("//") is a 400: no route has one;
//   - "/x" when only "/x/{name...}" exists: ServeMux would redirect to
//     "/x/"; here it is not found, and so is an empty "{name...}";
//   - ServeMux lets a GET route answer HEAD; here HEAD is a route of its
//     own (the objects service has one), else 405.
type router struct {
	mux    *http.ServeMux
	routes []*route
	byKey  map[string]*route
}

func newRouter() *router {
	return &router{mux: http.NewServeMux(), byKey: map[string]*route{}}
}

// parsePattern checks a pattern such as "/api/v1/functions/{id}" against
// the table's rules (stricter than ServeMux's: no empty segment, so no
// trailing-slash subtree) and returns its wildcards.
func parsePattern(pattern string) (ids []string, rest string, err error) {
	if !strings.HasPrefix(pattern, "/") {
		return nil, "", fmt.Errorf("route pattern %q must start with /", pattern)
	}
	parts := strings.Split(pattern[1:], "/")
	for i, p := range parts {
		switch {
		case p == "":
			return nil, "", fmt.Errorf("route pattern %q has an empty segment", pattern)
		case strings.HasPrefix(p, "{") && strings.HasSuffix(p, "...}"):
			if i != len(parts)-1 {
				return nil, "", fmt.Errorf("route pattern %q: %s must be the last segment", pattern, p)
			}
			rest = p[1 : len(p)-4]
			if rest == "" {
				return nil, "", fmt.Errorf("route pattern %q: empty wildcard name", pattern)
			}
		case strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}"):
			name := p[1 : len(p)-1]
			if name == "" || strings.ContainsAny(name, "{}") {
				return nil, "", fmt.Errorf("route pattern %q: bad wildcard %q", pattern, p)
			}
			ids = append(ids, name)
		case strings.ContainsAny(p, "{}"):
			return nil, "", fmt.Errorf("route pattern %q: bad segment %q", pattern, p)
		}
	}
	return ids, rest, nil
}

// add registers r, to be run by serve once matched. A bad or conflicting
// pattern is a programming error (ServeMux panics on a conflict too).
func (rt *router) add(r *route, serve func(*route, http.ResponseWriter, *http.Request)) {
	ids, rest, err := parsePattern(r.pattern)
	if err != nil {
		panic(err)
	}
	r.ids, r.rest = ids, rest
	if _, dup := rt.byKey[r.key()]; dup {
		panic(fmt.Sprintf("route %s registered twice", r.key()))
	}
	rt.byKey[r.key()] = r
	rt.routes = append(rt.routes, r)
	rt.mux.HandleFunc(r.key(), func(w http.ResponseWriter, req *http.Request) { serve(r, w, req) })
}

// errEmptySegment answers a path with "//" in it.
var errEmptySegment = domain.Invalid("the path has an empty segment")

// lookup decides whether a route serves r. When one does, it returns the
// request to hand to rt.mux (r itself, or a copy whose dot segments are
// escaped so ServeMux matches them instead of redirecting). When none
// does, it returns nil and the methods r's path accepts (none: an unknown
// path).
func (rt *router) lookup(r *http.Request) (*http.Request, []string, error) {
	p := r.URL.EscapedPath()
	if !strings.HasPrefix(p, "/") {
		return nil, nil, nil
	}
	if strings.Contains(p, "//") {
		return nil, nil, errEmptySegment
	}
	if escaped, ok := escapeDotSegments(p); ok {
		u := *r.URL
		u.RawPath = escaped
		r = r.WithContext(r.Context())
		r.URL = &u
	}
	if rt.find(r, r.Method) != nil {
		return r, nil, nil
	}
	var allowed []string
	for _, m := range []string{http.MethodDelete, http.MethodGet, http.MethodHead, http.MethodPatch,
		http.MethodPost, http.MethodPut} {
		if m != r.Method && rt.find(r, m) != nil {
			allowed = append(allowed, m)
		}
	}
	slices.Sort(allowed)
	return nil, allowed, nil
}

// find returns the route the mux would run for r with the given method,
// or nil: no pattern, a trailing-slash redirect, a GET pattern taking a
// HEAD, or an empty "{name...}".
func (rt *router) find(r *http.Request, method string) *route {
	probe := &http.Request{Method: method, URL: r.URL, Host: r.Host}
	_, key := rt.mux.Handler(probe)
	x := rt.byKey[key]
	if x == nil || x.method != method {
		return nil
	}
	if x.rest != "" {
		// Fewer slashes than the pattern: ServeMux's redirect of "/x" to
		// "/x/" (it names the pattern it would redirect to). As many,
		// the last one final: an empty wildcard.
		p := r.URL.EscapedPath()
		n, want := strings.Count(p, "/"), strings.Count(x.pattern, "/")
		if n < want || (n == want && strings.HasSuffix(p, "/")) {
			return nil
		}
	}
	return x
}

// escapeDotSegments returns p with each "." and ".." segment written as
// "%2E" and "%2E%2E" (ServeMux cleans the escaped path, then unescapes
// each segment), and whether there was any.
func escapeDotSegments(p string) (string, bool) {
	parts := strings.Split(p, "/")
	found := false
	for i, s := range parts {
		if s == "." || s == ".." {
			parts[i] = strings.Repeat("%2E", len(s))
			found = true
		}
	}
	if !found {
		return p, false
	}
	return strings.Join(parts, "/"), true
}

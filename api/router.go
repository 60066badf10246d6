package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// segment is one path segment of a route pattern: a literal, a "{name}"
// parameter matching one non-empty segment, or a final "{name...}"
// matching the non-empty rest of the path.
type segment struct {
	literal string
	param   string
	rest    bool
}

// route is one row of the routing table.
type route struct {
	method  string
	pattern string
	segs    []segment
	auth    bool
	handle  func(w http.ResponseWriter, r *http.Request) error
	// limitBody: a built-in JSON route, whose declared body size is
	// checked against maxBodyBytes before anything else.
	limitBody bool
}

// router is a small table router: method plus a pattern of literal and
// {param} segments. Unlike http.ServeMux it reports "no such path" and
// "path exists, wrong method" separately, so both answer with the JSON
// envelope (404, or 405 with an Allow header).
type router struct {
	routes []*route
}

// parsePattern splits a pattern such as "/api/v1/functions/{id}".
func parsePattern(pattern string) ([]segment, error) {
	if !strings.HasPrefix(pattern, "/") {
		return nil, fmt.Errorf("route pattern %q must start with /", pattern)
	}
	parts := strings.Split(pattern[1:], "/")
	segs := make([]segment, len(parts))
	for i, p := range parts {
		switch {
		case p == "":
			return nil, fmt.Errorf("route pattern %q has an empty segment", pattern)
		case strings.HasPrefix(p, "{") && strings.HasSuffix(p, "...}"):
			if i != len(parts)-1 {
				return nil, fmt.Errorf("route pattern %q: %s must be the last segment", pattern, p)
			}
			segs[i] = segment{param: p[1 : len(p)-4], rest: true}
		case strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}"):
			segs[i] = segment{param: p[1 : len(p)-1]}
		case strings.ContainsAny(p, "{}"):
			return nil, fmt.Errorf("route pattern %q: bad segment %q", pattern, p)
		default:
			segs[i] = segment{literal: p}
		}
		if segs[i].param == "" && segs[i].literal == "" {
			return nil, fmt.Errorf("route pattern %q: empty parameter name", pattern)
		}
	}
	return segs, nil
}

// add registers a route; a bad pattern is a programming error.
func (rt *router) add(r *route) {
	segs, err := parsePattern(r.pattern)
	if err != nil {
		panic(err)
	}
	r.segs = segs
	rt.routes = append(rt.routes, r)
}

// matchPath reports whether path fits segs and returns the parameters.
func matchPath(segs []segment, parts []string) (map[string]string, bool) {
	var params map[string]string
	for i, s := range segs {
		if i >= len(parts) {
			return nil, false
		}
		switch {
		case s.rest:
			rest := strings.Join(parts[i:], "/")
			if rest == "" {
				return nil, false
			}
			if params == nil {
				params = map[string]string{}
			}
			params[s.param] = rest
			return params, true
		case s.param != "":
			if parts[i] == "" {
				return nil, false
			}
			if params == nil {
				params = map[string]string{}
			}
			params[s.param] = parts[i]
		default:
			if parts[i] != s.literal {
				return nil, false
			}
		}
	}
	return params, len(parts) == len(segs)
}

// match finds the route for method and path. With no route for the method
// it returns nil and the methods the path does accept (empty: unknown path).
func (rt *router) match(method, path string) (*route, map[string]string, []string) {
	if path == "" {
		path = "/"
	}
	parts := strings.Split(path[1:], "/")
	var allowed []string
	for _, r := range rt.routes {
		params, ok := matchPath(r.segs, parts)
		if !ok {
			continue
		}
		if r.method == method {
			return r, params, nil
		}
		if !slices.Contains(allowed, r.method) {
			allowed = append(allowed, r.method)
		}
	}
	slices.Sort(allowed)
	return nil, nil, allowed
}

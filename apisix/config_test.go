package apisix_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"

	"github.com/faasplatform/faas/apisix/apisixtest"
	"github.com/faasplatform/faas/plugin"
)

const (
	configFile = "config.yaml"
	routesFile = "apisix.yaml"
	// schemaFile is the repository's copy of APISIX 3.0's schemas.
	schemaFile = "testdata/schema-3.0.json"
	schemaURL  = "https://schemas.faas.local/apisix/schema-3.0.json"
)

// schemas compiles the route schema and, on demand, plugin schemas.
type schemas struct {
	c       *jsonschema.Compiler
	route   *jsonschema.Schema
	plugins map[string]any // the "plugins" object of the dump, to know names
}

func loadSchemas(t *testing.T) *schemas {
	t.Helper()
	data, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatalf("read %s: %v", schemaFile, err)
	}
	reportSharedDrift(t, data)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("parse %s: %v", schemaFile, err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(schemaURL, doc); err != nil {
		t.Fatalf("add schema: %v", err)
	}
	route, err := c.Compile(schemaURL + "#/main/route")
	if err != nil {
		t.Fatalf("compile main.route: %v", err)
	}
	plugins, _ := doc.(map[string]any)["plugins"].(map[string]any)
	if len(plugins) == 0 {
		t.Fatal("schema dump has no plugins")
	}
	return &schemas{c: c, route: route, plugins: plugins}
}

// reportSharedDrift logs when the shared folder holds a different schema
// dump than the repository's copy (FAAS_SHARED_DIR, or ../shared beside the
// repository root).
func reportSharedDrift(t *testing.T, ours []byte) {
	dirs := []string{os.Getenv("FAAS_SHARED_DIR"), filepath.Join("..", "..", "shared")}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		shared, err := os.ReadFile(filepath.Join(d, "apisix", "schema-3.0.json"))
		if err != nil {
			continue
		}
		if !bytes.Equal(shared, ours) {
			t.Logf("note: %s differs from the shared copy in %s; copy it again if the shared one is newer", schemaFile, d)
		}
		return
	}
}

func (s *schemas) plugin(name string) (*jsonschema.Schema, error) {
	if _, ok := s.plugins[name]; !ok {
		return nil, fmt.Errorf("unknown plugin %q (not in APISIX 3.0's schemas)", name)
	}
	sch, err := s.c.Compile(schemaURL + "#/plugins/" + strings.ReplaceAll(name, "/", "~1") + "/schema")
	if err != nil {
		return nil, fmt.Errorf("compile plugin %s schema: %w", name, err)
	}
	return sch, nil
}

// validateRoute checks one route (decoded by jsonschema.UnmarshalJSON) as
// APISIX would load it: the route schema, each plugin's schema, each plugin
// enabled in config.yaml, and our own rules for ext-plugin-post-req.
func validateRoute(s *schemas, enabled []string, route any) error {
	var errs []error
	if err := s.route.Validate(route); err != nil {
		errs = append(errs, fmt.Errorf("route schema: %w", err))
	}
	obj, _ := route.(map[string]any)
	plugins, _ := obj["plugins"].(map[string]any)
	for name, conf := range plugins {
		if !slices.Contains(enabled, name) {
			errs = append(errs, fmt.Errorf("plugin %s is not in config.yaml's plugins list", name))
		}
		sch, err := s.plugin(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := sch.Validate(conf); err != nil {
			errs = append(errs, fmt.Errorf("plugin %s: %w", name, err))
		}
	}
	if ext, ok := plugins[apisixtest.PluginName].(map[string]any); ok {
		errs = append(errs, checkExtPlugin(ext)...)
	}
	return errors.Join(errs...)
}

// checkExtPlugin applies the rules APISIX cannot check: the faas entry's
// value must parse (a ParseConf error makes the runner skip the plugin, and
// the route answers 503), and no _meta.error_response (it would replace the
// body of every API error the plugin answers).
func checkExtPlugin(ext map[string]any) []error {
	var errs []error
	if meta, ok := ext["_meta"].(map[string]any); ok && meta["error_response"] != nil {
		errs = append(errs, errors.New("ext-plugin-post-req must not set _meta.error_response"))
	}
	conf, _ := ext["conf"].([]any)
	found := false
	for _, e := range conf {
		entry, _ := e.(map[string]any)
		if entry["name"] != plugin.Name {
			continue
		}
		found = true
		value, ok := entry["value"].(string)
		if !ok {
			continue // the schema reports it
		}
		if _, err := plugin.ParseConf([]byte(value)); err != nil {
			errs = append(errs, fmt.Errorf("ext-plugin-post-req: faas conf: %w", err))
		}
	}
	if !found {
		errs = append(errs, errors.New("ext-plugin-post-req: no conf entry named faas"))
	}
	return errs
}

// routesOf reads the routes of a standalone file as generic JSON values.
func routesOf(t *testing.T, path string) []any {
	t.Helper()
	routes, _ := docOf(t, path)["routes"].([]any)
	return routes
}

// docOf reads a standalone file as a generic JSON object.
func docOf(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	m, _ := doc.(map[string]any)
	return m
}

func loadConfig(t *testing.T) *apisixtest.Config {
	t.Helper()
	cfg, err := apisixtest.LoadConfig(configFile)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestRoutesValidAgainstAPISIXSchemas(t *testing.T) {
	s := loadSchemas(t)
	cfg := loadConfig(t)

	// LoadRoutes also refuses a file without the final #END line.
	parsed, err := apisixtest.LoadRoutes(routesFile)
	if err != nil {
		t.Fatal(err)
	}
	routes := routesOf(t, routesFile)
	if len(routes) == 0 || len(routes) != len(parsed) {
		t.Fatalf("%s: %d routes, %d parsed; want the same, at least one", routesFile, len(routes), len(parsed))
	}
	for i, r := range routes {
		id := parsed[i].ID
		t.Run(id, func(t *testing.T) {
			if err := validateRoute(s, cfg.Plugins, r); err != nil {
				t.Errorf("route %s: %v", id, err)
			}
		})
	}
}

func TestAPIRouteIsTheContractsRoute(t *testing.T) {
	routes, err := apisixtest.LoadRoutes(routesFile)
	if err != nil {
		t.Fatal(err)
	}
	var api *apisixtest.Route
	for i := range routes {
		if routes[i].URI == "/api/v1/*" {
			api = &routes[i]
		}
	}
	if api == nil {
		t.Fatal("no route for /api/v1/*")
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"all methods (no methods list)", len(api.Methods) == 0},
		{"no upstream: the plugin answers", !api.HasUpstream},
		{"cors", api.CORS != nil},
		{"limit-count answers 429", api.LimitCount != nil && api.LimitCount.RejectedCode == 429},
		{"limit-count error in the contract's shape", strings.Contains(string(api.ErrorResponses["limit-count"]), `"code":"rate_limited"`)},
		{"ext-plugin-post-req calls faas", len(api.ExtConf) == 1 && api.ExtConf[0].Name == plugin.Name},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("api route: want %s", c.name)
		}
	}
}

// The fallback route answers every other path through the plugin (the API's
// JSON 404), in front of the same cors and limit-count as the API route.
func TestFallbackRouteAnswersJSON404s(t *testing.T) {
	byURI := routesByURI(t)
	api, fallback := byURI["/api/v1/*"], byURI["/*"]
	if api == nil || fallback == nil {
		t.Fatal("want the routes /api/v1/* and /*")
	}
	var conf plugin.Conf
	var err error
	if len(fallback.ExtConf) == 1 && fallback.ExtConf[0].Name == plugin.Name {
		conf, err = plugin.ParseConf([]byte(fallback.ExtConf[0].Value))
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"all methods (no methods list)", len(fallback.Methods) == 0},
		{"no upstream: the plugin answers", !fallback.HasUpstream},
		{"ext-plugin-post-req calls faas for every path", err == nil && conf.APIPrefix == "/"},
		{"the API route's cors", bytes.Equal(fallback.Plugins["cors"], api.Plugins["cors"])},
		{"the API route's limit-count", bytes.Equal(fallback.Plugins["limit-count"], api.Plugins["limit-count"])},
		{"no priority over the API route", fallback.Priority <= api.Priority},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("fallback route: want %s", c.name)
		}
	}
}

// TestBrokenRoutesFailValidation makes sure the validation above can fail:
// each case breaks a copy of the real API route.
func TestBrokenRoutesFailValidation(t *testing.T) {
	s := loadSchemas(t)
	cfg := loadConfig(t)
	routes := routesOf(t, routesFile)

	plugins := func(r map[string]any) map[string]any { return r["plugins"].(map[string]any) }
	pluginConf := func(r map[string]any, name string) map[string]any { return plugins(r)[name].(map[string]any) }
	faasEntry := func(r map[string]any) map[string]any {
		return pluginConf(r, apisixtest.PluginName)["conf"].([]any)[0].(map[string]any)
	}
	cases := []struct {
		name    string
		breakIt func(r map[string]any)
		want    string // part of the error
	}{
		{"uri is a number", func(r map[string]any) { r["uri"] = 42 }, "route schema"},
		{"no uri", func(r map[string]any) { delete(r, "uri") }, "route schema"},
		{"id with a space", func(r map[string]any) { r["id"] = "api v1" }, "route schema"},
		{"methods has an unknown method", func(r map[string]any) { r["methods"] = []any{"FETCH"} }, "route schema"},
		{"plugin unknown to APISIX", func(r map[string]any) { plugins(r)["faas"] = map[string]any{} }, "unknown plugin"},
		{"plugin not enabled in config.yaml", func(r map[string]any) { plugins(r)["echo"] = map[string]any{} }, "not in config.yaml"},
		{"ext-plugin conf value is an object", func(r map[string]any) { faasEntry(r)["value"] = map[string]any{} }, "plugin ext-plugin-post-req"},
		{"ext-plugin conf list empty", func(r map[string]any) { pluginConf(r, apisixtest.PluginName)["conf"] = []any{} }, "plugin ext-plugin-post-req"},
		{"ext-plugin conf entry without name", func(r map[string]any) { delete(faasEntry(r), "name") }, "plugin ext-plugin-post-req"},
		{"faas conf refused by ParseConf", func(r map[string]any) { faasEntry(r)["value"] = `{"max_body_bytes": 0}` }, "faas conf"},
		{"faas conf with an unknown field", func(r map[string]any) { faasEntry(r)["value"] = `{"max_body": 10}` }, "faas conf"},
		{"ext-plugin error_response", func(r map[string]any) {
			pluginConf(r, apisixtest.PluginName)["_meta"] = map[string]any{"error_response": "oops"}
		}, "error_response"},
		{"limit-count count 0", func(r map[string]any) { pluginConf(r, "limit-count")["count"] = 0 }, "plugin limit-count"},
		{"limit-count without time_window", func(r map[string]any) { delete(pluginConf(r, "limit-count"), "time_window") }, "plugin limit-count"},
		{"limit-count rejected_code 700", func(r map[string]any) { pluginConf(r, "limit-count")["rejected_code"] = 700 }, "plugin limit-count"},
		{"limit-count unknown policy", func(r map[string]any) { pluginConf(r, "limit-count")["policy"] = "cluster" }, "plugin limit-count"},
		{"cors origin not a URL", func(r map[string]any) { pluginConf(r, "cors")["allow_origins"] = "example.com" }, "plugin cors"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := deepCopy(t, routes[0]).(map[string]any)
			tc.breakIt(r)
			err := validateRoute(s, cfg.Plugins, normalize(t, r))
			if err == nil {
				t.Fatal("the broken route passed validation")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

// routesByURI loads the routes file's routes, by uri.
func routesByURI(t *testing.T) map[string]*apisixtest.Route {
	t.Helper()
	routes, err := apisixtest.LoadRoutes(routesFile)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*apisixtest.Route{}
	for i := range routes {
		out[routes[i].URI] = &routes[i]
	}
	return out
}

func deepCopy(t *testing.T, v any) any {
	t.Helper()
	return normalize(t, v)
}

// normalize round-trips v through JSON so that it has the value types
// jsonschema.UnmarshalJSON produces.
func normalize(t *testing.T, v any) any {
	t.Helper()
	js, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRoutesFileMustEndWithEND(t *testing.T) {
	data, err := os.ReadFile(routesFile)
	if err != nil {
		t.Fatal(err)
	}
	cut := strings.TrimSuffix(strings.TrimRight(string(data), "\n"), "#END")
	if cut == strings.TrimRight(string(data), "\n") {
		t.Fatalf("%s does not end with #END", routesFile)
	}
	if _, err := apisixtest.ParseRoutes([]byte(cut)); err == nil {
		t.Fatal("a routes file without #END was accepted")
	}
}

func TestConfigYAML(t *testing.T) {
	cfg := loadConfig(t)
	const kib = 1 << 10
	checks := []struct {
		name string
		ok   bool
		got  any
	}{
		{"deployment.role is data_plane", cfg.Role == "data_plane", cfg.Role},
		{"config_provider is yaml", cfg.ConfigProvider == "yaml", cfg.ConfigProvider},
		{"ext-plugin.cmd runs faas plugin", slices.Equal(cfg.ExtPluginCmd, []string{"/usr/local/bin/faas", "plugin"}), cfg.ExtPluginCmd},
		{"plugins include cors, limit-count, ext-plugin-post-req",
			slices.Contains(cfg.Plugins, "cors") && slices.Contains(cfg.Plugins, "limit-count") && slices.Contains(cfg.Plugins, apisixtest.PluginName), cfg.Plugins},
		// Runner v0.5.0 reads a frame with one read(2): a body frame over
		// about 214 KiB breaks the call. nginx must never hand it one.
		{"client_max_body_size set, below the runner's ~214 KiB single read",
			cfg.ClientMaxBodySize > 0 && cfg.ClientMaxBodySize < 214*kib, cfg.ClientMaxBodySize},
		// Not below the plugin's max: every body the plugin accepts passes
		// nginx (a chunked one of exactly max_body_bytes, too).
		{"client_max_body_size at least the plugin's max_body_bytes",
			cfg.ClientMaxBodySize >= plugin.DefaultMaxBodyBytes && cfg.ClientMaxBodySize >= plugin.MaxMaxBodyBytes, cfg.ClientMaxBodySize},
		{"the emulator's default is config.yaml's", cfg.ClientMaxBodySize == apisixtest.DefaultClientMaxBodySize, cfg.ClientMaxBodySize},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("config.yaml: want %s; got %v", c.name, c.got)
		}
	}
	for _, name := range []string{"NATS_URL", "NATS_USER", "NATS_PASSWORD", "NATS_REPLICAS", "JWT_SECRET", "TOKEN_EXPIRATION", "LOG_LEVEL", "DATA_DIR", "MAX_CONCURRENT_EXECUTIONS"} {
		if !slices.Contains(cfg.Envs, name) {
			t.Errorf("config.yaml: nginx_config.envs lacks %s: the runner would not see it", name)
		}
	}
}

// TestNginx413IsTheContractsJSON checks the error page that replaces nginx's
// HTML 413 (a chunked body over client_max_body_size): the contract's error
// envelope as JSON, the same bytes as the plugin's own 413.
func TestNginx413IsTheContractsJSON(t *testing.T) {
	cfg := loadConfig(t)
	if !strings.Contains(cfg.ServerSnippet, "error_page 413 @") {
		t.Fatalf("config.yaml: nginx_config.http_server_configuration_snippet has no error_page 413 to a named location:\n%s", cfg.ServerSnippet)
	}
	page, ok := cfg.ErrorPages[413]
	if !ok {
		t.Fatalf("config.yaml: no error page for 413 (pages %v)", cfg.ErrorPages)
	}
	if page.Status != 413 {
		t.Errorf("the 413 page answers status %d", page.Status)
	}
	if page.ContentType != "application/json" {
		t.Errorf("the 413 page's Content-Type is %q, want application/json (default_type)", page.ContentType)
	}
	var env map[string]map[string]any
	if err := json.Unmarshal(page.Body, &env); err != nil {
		t.Fatalf("the 413 page is not JSON: %v\n%s", err, page.Body)
	}
	e := env["error"]
	if len(env) != 1 || len(e) != 2 || e["code"] != "payload_too_large" {
		t.Errorf(`the 413 page is not {"error":{"code":"payload_too_large","message":"..."}}: %s`, page.Body)
	}
	if msg, _ := e["message"].(string); msg == "" {
		t.Errorf("the 413 page has no message: %s", page.Body)
	}
	if want := plugin.PayloadTooLargeBody(plugin.DefaultMaxBodyBytes); !bytes.Equal(page.Body, want) {
		t.Errorf("the 413 page differs from the plugin's 413:\n got %s\nwant %s", page.Body, want)
	}
	if !strings.Contains(string(page.Body), strconv.FormatInt(cfg.ClientMaxBodySize, 10)) {
		t.Errorf("the 413 page does not name the limit, %d bytes: %s", cfg.ClientMaxBodySize, page.Body)
	}
}

// TestBrokenServerSnippetsFail makes sure config.yaml's snippet is really
// read: each case breaks it, and LoadConfig's parse must say so.
func TestBrokenServerSnippetsFail(t *testing.T) {
	data, err := os.ReadFile(configFile)
	if err != nil {
		t.Fatal(err)
	}
	const target = "@faas_413"
	if strings.Count(string(data), target) != 2 {
		t.Fatalf("%s: want %s twice (error_page and location)", configFile, target)
	}
	cases := []struct{ name, from, to, want string }{
		{"error_page to an unknown location", "error_page 413 " + target, "error_page 413 @nowhere", "not a named location"},
		{"no return", "return 413", "add_header X-A", "not emulated"},
		{"unterminated string", "}}';", "}};", "unterminated"},
		{"missing semicolon", "default_type application/json;", "default_type application/json", "default_type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			broken := strings.Replace(string(data), tc.from, tc.to, 1)
			if broken == string(data) {
				t.Fatalf("%q not found in %s", tc.from, configFile)
			}
			_, err := apisixtest.ParseConfig([]byte(broken))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestParseNginxSize(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"200k", 200 << 10, true}, {"1m", 1 << 20, true}, {"1M", 1 << 20, true}, {"2g", 2 << 30, true},
		{"1024", 1024, true}, {"0", 0, true}, {"", 0, false}, {"k", 0, false}, {"-1k", 0, false}, {"1.5m", 0, false},
	}
	for _, c := range cases {
		got, err := apisixtest.ParseNginxSize(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseNginxSize(%q) = %d, %v; want %d, ok %v", c.in, got, err, c.want, c.ok)
		}
	}
}

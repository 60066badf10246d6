package apisixtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// PluginName is the APISIX plugin that calls the runner after limit-count and
// cors (access phase, priority -3000).
const PluginName = "ext-plugin-post-req"

// ConfEntry is one {name, value} item of ext-plugin-post-req's conf list:
// the runner plugin's name and its configuration as a JSON string.
type ConfEntry struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// LimitCount is the part of limit-count's settings the emulator honours
// (policy "local", fixed window).
type LimitCount struct {
	Count                int64  `json:"count"`
	TimeWindow           int64  `json:"time_window"`
	KeyType              string `json:"key_type"`
	Key                  string `json:"key"`
	RejectedCode         int    `json:"rejected_code"`
	RejectedMsg          string `json:"rejected_msg"`
	ShowLimitQuotaHeader *bool  `json:"show_limit_quota_header"`
}

// CORS is the part of the cors plugin's settings the emulator honours.
type CORS struct {
	AllowOrigins    string `json:"allow_origins"`
	AllowMethods    string `json:"allow_methods"`
	AllowHeaders    string `json:"allow_headers"`
	ExposeHeaders   string `json:"expose_headers"`
	MaxAge          *int   `json:"max_age"`
	AllowCredential bool   `json:"allow_credential"`
}

// Route is one route of apisix.yaml, as the emulator uses it.
type Route struct {
	ID      string   // the route's id, as a string
	URI     string   // "uri"; a trailing "*" matches any rest
	URIs    []string // "uris"
	Methods []string // empty: every method
	// Priority orders routes with the same uri (higher first; default 0).
	Priority int
	// Plugins holds every plugin's settings as raw JSON.
	Plugins map[string]json.RawMessage
	// ExtConf is plugins.ext-plugin-post-req.conf, nil without that plugin.
	ExtConf []ConfEntry
	// LimitCount and CORS are the settings of those plugins, nil without them.
	LimitCount *LimitCount
	CORS       *CORS
	// ErrorResponses are the plugins' _meta.error_response bodies, by plugin
	// name: APISIX sends one instead of the body whenever that plugin ends
	// the request with a status >= 400.
	ErrorResponses map[string][]byte
	// HasUpstream is true when the route names an upstream; the emulator
	// proxies nothing, so such a route answers 502 where APISIX would proxy.
	HasUpstream bool
	// UpstreamID is the route's upstream_id ("" when none).
	UpstreamID string
	// MaxBodySize is client-control's max_body_size (the route's own
	// client_max_body_size; 0: no limit), nil without that plugin.
	MaxBodySize *int64
}

// LoadRoutes reads the routes of an APISIX standalone file (apisix.yaml). Like
// APISIX, it refuses a file that does not end with the "#END" line.
func LoadRoutes(path string) ([]Route, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load routes: %w", err)
	}
	routes, err := ParseRoutes(data)
	if err != nil {
		return nil, fmt.Errorf("load routes from %s: %w", path, err)
	}
	return routes, nil
}

// ParseRoutes parses the routes of an APISIX standalone file's content.
func ParseRoutes(data []byte) ([]Route, error) {
	lines := strings.Split(strings.TrimRight(string(data), " \t\r\n"), "\n")
	if strings.TrimSpace(lines[len(lines)-1]) != "#END" {
		return nil, errors.New(`the file does not end with "#END": APISIX would not load it`)
	}
	var doc struct {
		Routes []struct {
			ID          json.RawMessage            `json:"id"`
			URI         string                     `json:"uri"`
			URIs        []string                   `json:"uris"`
			Methods     []string                   `json:"methods"`
			Priority    int                        `json:"priority"`
			Plugins     map[string]json.RawMessage `json:"plugins"`
			Upstream    json.RawMessage            `json:"upstream"`
			UpstreamID  json.RawMessage            `json:"upstream_id"`
			ServiceID   json.RawMessage            `json:"service_id"`
			Status      *int                       `json:"status"`
			PluginCfgID json.RawMessage            `json:"plugin_config_id"`
		} `json:"routes"`
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("parse yaml: %w", err)
	}
	if err := json.Unmarshal(js, &doc); err != nil {
		return nil, fmt.Errorf("decode routes: %w", err)
	}
	var out []Route
	for i, r := range doc.Routes {
		if r.Status != nil && *r.Status == 0 {
			continue // disabled route
		}
		rt := Route{
			ID: idString(r.ID), URI: r.URI, URIs: r.URIs, Methods: r.Methods, Priority: r.Priority, Plugins: r.Plugins,
			HasUpstream: r.Upstream != nil || r.UpstreamID != nil || r.ServiceID != nil,
			UpstreamID:  idString(r.UpstreamID),
		}
		if rt.ID == "" {
			return nil, fmt.Errorf("route %d: no id", i)
		}
		for name, raw := range r.Plugins {
			body, err := errorResponse(raw)
			if err != nil {
				return nil, fmt.Errorf("route %s: %s: _meta.error_response: %w", rt.ID, name, err)
			}
			if body != nil {
				if rt.ErrorResponses == nil {
					rt.ErrorResponses = map[string][]byte{}
				}
				rt.ErrorResponses[name] = body
			}
		}
		if raw, ok := r.Plugins[PluginName]; ok {
			var ext struct {
				Conf []ConfEntry `json:"conf"`
			}
			if err := json.Unmarshal(raw, &ext); err != nil {
				return nil, fmt.Errorf("route %s: %s: %w", rt.ID, PluginName, err)
			}
			rt.ExtConf = ext.Conf
			if rt.ExtConf == nil {
				rt.ExtConf = []ConfEntry{}
			}
		}
		if raw, ok := r.Plugins["limit-count"]; ok {
			lc := &LimitCount{}
			if err := json.Unmarshal(raw, lc); err != nil {
				return nil, fmt.Errorf("route %s: limit-count: %w", rt.ID, err)
			}
			rt.LimitCount = lc
		}
		if raw, ok := r.Plugins["client-control"]; ok {
			var cc struct {
				MaxBodySize *int64 `json:"max_body_size"`
			}
			if err := json.Unmarshal(raw, &cc); err != nil {
				return nil, fmt.Errorf("route %s: client-control: %w", rt.ID, err)
			}
			rt.MaxBodySize = cc.MaxBodySize
		}
		if raw, ok := r.Plugins["cors"]; ok {
			c := &CORS{}
			if err := json.Unmarshal(raw, c); err != nil {
				return nil, fmt.Errorf("route %s: cors: %w", rt.ID, err)
			}
			rt.CORS = c
		}
		out = append(out, rt)
	}
	return out, nil
}

// errorResponse returns the body core.response.exit sends for a plugin's
// _meta.error_response: a string as it is, an object as JSON and a newline.
func errorResponse(raw json.RawMessage) ([]byte, error) {
	var p struct {
		Meta struct {
			ErrorResponse json.RawMessage `json:"error_response"`
		} `json:"_meta"`
	}
	if err := json.Unmarshal(raw, &p); err != nil || p.Meta.ErrorResponse == nil {
		return nil, nil // not an object, or no _meta: nothing to take
	}
	var s string
	if json.Unmarshal(p.Meta.ErrorResponse, &s) == nil {
		return []byte(s), nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, p.Meta.ErrorResponse); err != nil {
		return nil, fmt.Errorf("compact: %w", err)
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

func idString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return strings.TrimSpace(string(raw))
}

// Config is the part of APISIX's config.yaml the emulator and the tests use.
type Config struct {
	Role           string   // deployment.role
	ConfigProvider string   // deployment.role_data_plane.config_provider
	ExtPluginCmd   []string // ext-plugin.cmd
	// Envs are the names in nginx_config.envs: the only variables, besides
	// APISIX_LISTEN_ADDRESS and APISIX_CONF_EXPIRE_TIME, the runner gets.
	Envs []string
	// ClientMaxBodySize is nginx_config.http.client_max_body_size in bytes
	// (0: nginx's check is off).
	ClientMaxBodySize int64
	// ServerSnippet is nginx_config.http_server_configuration_snippet: nginx
	// configuration APISIX copies into the server block that serves the routes.
	ServerSnippet string
	// ErrorPages are the answers ServerSnippet's error_page directives give
	// instead of nginx's HTML pages, by status (see ErrorPage).
	ErrorPages map[int]ErrorPage
	// Plugins is the "plugins" list (the plugins APISIX loads).
	Plugins []string
}

// EmulatorOptions are the Options that make the emulator's nginx behave as
// this config.yaml asks: its client_max_body_size and its error pages.
func (c *Config) EmulatorOptions() Options {
	o := Options{ClientMaxBodySize: c.ClientMaxBodySize, ErrorPages: c.ErrorPages}
	if o.ClientMaxBodySize == 0 {
		o.ClientMaxBodySize = NoBodyLimit
	}
	return o
}

// LoadConfig reads an APISIX config.yaml.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("load config from %s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig parses the content of an APISIX config.yaml.
func ParseConfig(data []byte) (*Config, error) {
	var doc struct {
		Deployment struct {
			Role          string `json:"role"`
			RoleDataPlane struct {
				ConfigProvider string `json:"config_provider"`
			} `json:"role_data_plane"`
		} `json:"deployment"`
		ExtPlugin struct {
			Cmd []string `json:"cmd"`
		} `json:"ext-plugin"`
		NginxConfig struct {
			Envs          []string `json:"envs"`
			ServerSnippet string   `json:"http_server_configuration_snippet"`
			HTTP          struct {
				ClientMaxBodySize json.RawMessage `json:"client_max_body_size"`
			} `json:"http"`
		} `json:"nginx_config"`
		Plugins []string `json:"plugins"`
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("parse yaml: %w", err)
	}
	if err := json.Unmarshal(js, &doc); err != nil {
		return nil, fmt.Errorf("decode config: %w", err)
	}
	cfg := &Config{
		Role: doc.Deployment.Role, ConfigProvider: doc.Deployment.RoleDataPlane.ConfigProvider,
		ExtPluginCmd: doc.ExtPlugin.Cmd, Envs: doc.NginxConfig.Envs, Plugins: doc.Plugins,
		ClientMaxBodySize: 1 << 20, // nginx's default, 1m
	}
	if raw := doc.NginxConfig.HTTP.ClientMaxBodySize; raw != nil {
		s := strings.Trim(string(bytes.TrimSpace(raw)), `"`)
		n, err := ParseNginxSize(s)
		if err != nil {
			return nil, fmt.Errorf("nginx_config.http.client_max_body_size: %w", err)
		}
		cfg.ClientMaxBodySize = n
	}
	cfg.ServerSnippet = doc.NginxConfig.ServerSnippet
	if cfg.ServerSnippet != "" {
		pages, err := parseErrorPages(cfg.ServerSnippet)
		if err != nil {
			return nil, fmt.Errorf("nginx_config.http_server_configuration_snippet: %w", err)
		}
		cfg.ErrorPages = pages
	}
	return cfg, nil
}

// ParseNginxSize parses an nginx size ("200k", "1m", "1024", "0").
func ParseNginxSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty size")
	}
	mult := int64(1)
	switch s[len(s)-1] {
	case 'k', 'K':
		mult = 1 << 10
	case 'm', 'M':
		mult = 1 << 20
	case 'g', 'G':
		mult = 1 << 30
	}
	if mult != 1 {
		s = s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid nginx size %q", s)
	}
	return n * mult, nil
}

// RunnerEnv builds the runner's environment the way nginx does: only the
// variables named in nginx_config.envs, with their values from values (or,
// when absent there, from this process's environment); unset ones are left
// out. StartRunner adds APISIX_LISTEN_ADDRESS and APISIX_CONF_EXPIRE_TIME.
func (c *Config) RunnerEnv(values map[string]string) []string {
	var env []string
	for _, name := range c.Envs {
		name, fixed, hasFixed := strings.Cut(name, "=") // nginx allows "env NAME=value"
		if hasFixed {
			env = append(env, name+"="+fixed)
			continue
		}
		if v, ok := values[name]; ok {
			env = append(env, name+"="+v)
		} else if v, ok := os.LookupEnv(name); ok {
			env = append(env, name+"="+v)
		}
	}
	return env
}

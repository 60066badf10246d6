package plugin_test

import (
	"strings"
	"testing"

	"github.com/faasplatform/faas/plugin"
)

func TestParseConf(t *testing.T) {
	def := plugin.DefaultConf()
	cases := []struct {
		name    string
		in      string
		want    plugin.Conf
		wantErr string // part of the error; "" means success
	}{
		{"empty", "", def, ""},
		{"white space", " \n\t", def, ""},
		{"empty object", "{}", def, ""},
		{"object with spaces", " { } ", def, ""},
		{"max_body_bytes", `{"max_body_bytes": 1024}`, plugin.Conf{MaxBodyBytes: 1024, APIPrefix: "/api/v1"}, ""},
		{"max_body_bytes at the cap", `{"max_body_bytes": 204800}`, plugin.Conf{MaxBodyBytes: 204800, APIPrefix: "/api/v1"}, ""},
		{"max_body_bytes 1", `{"max_body_bytes": 1}`, plugin.Conf{MaxBodyBytes: 1, APIPrefix: "/api/v1"}, ""},
		{"api_prefix", `{"api_prefix": "/api/v2"}`, plugin.Conf{MaxBodyBytes: def.MaxBodyBytes, APIPrefix: "/api/v2"}, ""},
		{"api_prefix root", `{"api_prefix": "/"}`, plugin.Conf{MaxBodyBytes: def.MaxBodyBytes, APIPrefix: "/"}, ""},
		{"both", `{"api_prefix": "/x", "max_body_bytes": 5}`, plugin.Conf{MaxBodyBytes: 5, APIPrefix: "/x"}, ""},

		{"unknown field", `{"max_body": 10}`, plugin.Conf{}, "unknown field"},
		{"max_body_bytes 0", `{"max_body_bytes": 0}`, plugin.Conf{}, "from 1 to 204800"},
		{"max_body_bytes negative", `{"max_body_bytes": -1}`, plugin.Conf{}, "from 1 to 204800"},
		{"max_body_bytes above the cap", `{"max_body_bytes": 204801}`, plugin.Conf{}, "from 1 to 204800"},
		{"max_body_bytes string", `{"max_body_bytes": "1024"}`, plugin.Conf{}, "must be an integer"},
		{"max_body_bytes fraction", `{"max_body_bytes": 1.5}`, plugin.Conf{}, "must be an integer"},
		{"max_body_bytes exponent", `{"max_body_bytes": 1e3}`, plugin.Conf{}, "must be an integer"},
		{"max_body_bytes null", `{"max_body_bytes": null}`, plugin.Conf{}, "not null"},
		{"api_prefix empty", `{"api_prefix": ""}`, plugin.Conf{}, "must start with"},
		{"api_prefix relative", `{"api_prefix": "api"}`, plugin.Conf{}, "must start with"},
		{"api_prefix trailing slash", `{"api_prefix": "/api/"}`, plugin.Conf{}, "must not end with"},
		{"api_prefix with query", `{"api_prefix": "/api?x=1"}`, plugin.Conf{}, "bare path"},
		{"api_prefix with space", `{"api_prefix": "/a b"}`, plugin.Conf{}, "bare path"},
		{"api_prefix number", `{"api_prefix": 5}`, plugin.Conf{}, "must be a string"},
		{"api_prefix null", `{"api_prefix": null}`, plugin.Conf{}, "not null"},
		{"array", `[]`, plugin.Conf{}, "JSON object"},
		{"null", `null`, plugin.Conf{}, "JSON object"},
		{"string", `"{}"`, plugin.Conf{}, "JSON object"},
		{"two objects", `{}{}`, plugin.Conf{}, "trailing data"},
		{"garbage after", `{} x`, plugin.Conf{}, "trailing data"},
		{"unterminated", `{`, plugin.Conf{}, "faas plugin conf"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := plugin.ParseConf([]byte(tc.in))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseConf(%q): %v", tc.in, err)
				}
				if got != tc.want {
					t.Fatalf("ParseConf(%q) = %+v, want %+v", tc.in, got, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseConf(%q) = %+v, want an error", tc.in, got)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("ParseConf(%q) error %q does not mention %q", tc.in, err, tc.wantErr)
			}
		})
	}
}

func TestPluginParseConfReturnsConf(t *testing.T) {
	p := plugin.New(nil, nil)
	if p.Name() != "faas" {
		t.Fatalf("Name() = %q", p.Name())
	}
	v, err := p.ParseConf([]byte(`{"max_body_bytes": 10}`))
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := v.(plugin.Conf); !ok || c.MaxBodyBytes != 10 {
		t.Fatalf("ParseConf returned %#v", v)
	}
	if _, err := p.ParseConf([]byte(`{"x":1}`)); err == nil {
		t.Fatal("the plugin's ParseConf accepted an unknown field")
	}
}

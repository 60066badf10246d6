package plugin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Limits of the plugin's configuration.
const (
	// DefaultMaxBodyBytes is the largest request body the plugin accepts when the
	// route's conf does not say otherwise: 200 KiB. The contract caps an
	// execution's input at 192 KiB (196,608 bytes); the 8 KiB above it leave room
	// for the JSON around the input, so that a request with a 192 KiB input gets
	// the API's own answer and not the plugin's 413. apisix/config.yaml sets
	// nginx's client_max_body_size to the same 200k.
	DefaultMaxBodyBytes = 200 << 10

	// MaxMaxBodyBytes is the highest max_body_bytes a conf may set. Runner
	// v0.5.0 reads every frame with a single read(2) on the Unix socket, so a
	// body larger than about 214 KiB (the socket buffer, minus the frame's
	// overhead) breaks the call. 200 KiB keeps a margin below that.
	MaxMaxBodyBytes = 200 << 10

	// DefaultAPIPrefix is the path prefix the plugin serves by default.
	DefaultAPIPrefix = "/api/v1"
)

// Conf is the parsed configuration of one route's "faas" entry.
type Conf struct {
	// MaxBodyBytes is the largest request body, in bytes, the plugin reads
	// and hands to the API; a larger one is answered 413 payload_too_large.
	MaxBodyBytes int64
	// APIPrefix is the path prefix the plugin answers; see ParseConf.
	APIPrefix string
}

// DefaultConf is the configuration used for an empty value or "{}".
func DefaultConf() Conf {
	return Conf{MaxBodyBytes: DefaultMaxBodyBytes, APIPrefix: DefaultAPIPrefix}
}

// ParseConf parses the configuration APISIX sends for the "faas" entry of a
// route. In the route it is the value string of the entry named "faas" in the
// ext-plugin-post-req conf list:
//
//	ext-plugin-post-req:
//	  conf:
//	    - name: faas
//	      value: '{"max_body_bytes": 204800, "api_prefix": "/api/v1"}'
//
// The value is either empty (only white space) or a JSON object with these
// optional members, and nothing else:
//
//   - "max_body_bytes": an integer from 1 to 204800 (MaxMaxBodyBytes); default
//     204800 (200 KiB). A request whose body is larger gets a JSON 413.
//   - "api_prefix": a path starting with "/", without a trailing "/" (except
//     "/" itself), without query, fragment or white space; default "/api/v1".
//     Only requests whose path is the prefix or lies under "<prefix>/" are
//     answered; any other request is left alone (no Stop), so APISIX goes on
//     to the route's upstream, or answers 503 on a route without one.
//
// Unknown members, members of the wrong type, null members and trailing data
// are errors. Beware: when ParseConf fails, runner v0.5.0 only logs it and
// drops the plugin from the route's chain, so APISIX goes on as if the plugin
// were absent (it fails open); on our routes, which have no upstream, that
// means 503 for every request. This is why the format is small and every
// valid conf parses, and why apisix/apisix.yaml is checked by a test.
func ParseConf(in []byte) (Conf, error) {
	conf := DefaultConf()
	trimmed := bytes.TrimSpace(in)
	if len(trimmed) == 0 {
		return conf, nil
	}
	if trimmed[0] != '{' {
		return Conf{}, errors.New("faas plugin conf: must be a JSON object")
	}

	var raw struct {
		MaxBodyBytes json.RawMessage `json:"max_body_bytes"`
		APIPrefix    json.RawMessage `json:"api_prefix"`
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return Conf{}, fmt.Errorf("faas plugin conf: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Conf{}, errors.New("faas plugin conf: trailing data after the JSON object")
	}

	if raw.MaxBodyBytes != nil {
		n, err := parseMaxBodyBytes(raw.MaxBodyBytes)
		if err != nil {
			return Conf{}, fmt.Errorf("faas plugin conf: max_body_bytes: %w", err)
		}
		conf.MaxBodyBytes = n
	}
	if raw.APIPrefix != nil {
		p, err := parseAPIPrefix(raw.APIPrefix)
		if err != nil {
			return Conf{}, fmt.Errorf("faas plugin conf: api_prefix: %w", err)
		}
		conf.APIPrefix = p
	}
	return conf, nil
}

func parseMaxBodyBytes(raw json.RawMessage) (int64, error) {
	if isNull(raw) {
		return 0, errors.New("must be an integer, not null")
	}
	var n int64
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, fmt.Errorf("must be an integer: %w", err)
	}
	if n < 1 || n > MaxMaxBodyBytes {
		return 0, fmt.Errorf("must be from 1 to %d, got %d", MaxMaxBodyBytes, n)
	}
	return n, nil
}

func parseAPIPrefix(raw json.RawMessage) (string, error) {
	if isNull(raw) {
		return "", errors.New("must be a string, not null")
	}
	var p string
	if err := json.Unmarshal(raw, &p); err != nil {
		return "", fmt.Errorf("must be a string: %w", err)
	}
	switch {
	case !strings.HasPrefix(p, "/"):
		return "", fmt.Errorf("must start with \"/\", got %q", p)
	case len(p) > 1 && strings.HasSuffix(p, "/"):
		return "", fmt.Errorf("must not end with \"/\", got %q", p)
	case strings.ContainsAny(p, "?# \t\r\n"):
		return "", fmt.Errorf("must be a bare path (no query, fragment or white space), got %q", p)
	}
	return p, nil
}

func isNull(raw json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// servesPath reports whether path lies under the prefix.
func (c Conf) servesPath(path string) bool {
	if c.APIPrefix == "/" {
		return true
	}
	return path == c.APIPrefix || strings.HasPrefix(path, c.APIPrefix+"/")
}

// Package client is a Go client of the platform's HTTP API (contract §3):
// every route, with a context, typed errors (*Error, matching the sentinels
// of the contract's codes with errors.Is) and streaming object transfers.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/faasplatform/faas/wire"
)

// DefaultURL is the platform's address when none is given (contract §7).
const DefaultURL = "http://localhost:8080"

// Client talks to one platform. The zero value is not usable: use New.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// Option changes a Client.
type Option func(*Client)

// WithToken authenticates every request with a bearer token.
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// WithHTTPClient sends requests through hc (timeouts, transports).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// New returns a client of the platform at base (e.g. http://localhost:8080,
// without /api/v1; empty: DefaultURL).
func New(base string, opts ...Option) (*Client, error) {
	if base == "" {
		base = DefaultURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: %q is not an http(s) URL", base)
	}
	c := &Client{base: strings.TrimRight(base, "/"), http: http.DefaultClient}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// Token is the bearer token the client sends ("" for none).
func (c *Client) Token() string { return c.token }

// request is one call: method, path under the base, optional query, JSON
// body (or a raw one with its content type), and headers.
type request struct {
	method, path string
	query        url.Values
	json         any
	body         io.Reader
	contentType  string
	length       int64
	header       http.Header
}

// do sends r and returns the response when its status is one of ok;
// otherwise it reads the error envelope into an *Error.
func (c *Client) do(ctx context.Context, r request, ok ...int) (*http.Response, error) {
	u := c.base + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	body, ctype := r.body, r.contentType
	if r.json != nil {
		data, err := json.Marshal(r.json)
		if err != nil {
			return nil, fmt.Errorf("%s %s: encode: %w", r.method, r.path, err)
		}
		body, ctype = bytes.NewReader(data), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	if r.length > 0 {
		req.ContentLength = r.length
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	for _, s := range ok {
		if resp.StatusCode == s {
			return resp, nil
		}
	}
	defer resp.Body.Close()
	return nil, readError(resp)
}

// readError turns an error answer into an *Error.
func readError(resp *http.Response) error {
	e := &Error{Status: resp.StatusCode}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var env wire.ErrorBody
	if json.Unmarshal(data, &env) == nil && env.Error.Code != "" {
		e.Code, e.Message = env.Error.Code, env.Error.Message
	} else {
		e.Message = strings.TrimSpace(string(data))
		if e.Message == "" {
			e.Message = http.StatusText(resp.StatusCode)
		}
	}
	return e
}

// call sends r and decodes a JSON answer into out (nil: discard it).
func (c *Client) call(ctx context.Context, r request, out any, ok ...int) (*http.Response, error) {
	resp, err := c.do(ctx, r, ok...)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return resp, fmt.Errorf("%s %s: decode the answer: %w", r.method, r.path, err)
		}
	}
	return resp, nil
}

const v1 = "/api/v1"

func pathID(prefix, id string) string { return prefix + "/" + url.PathEscape(id) }

// Package apitest is the API's contract test suite as data: a table of HTTP
// cases (Case, Run), a Fixture that sets up users and functions through HTTP
// against any base URL, and the suites themselves (Suites, RunAll). The
// standalone gateway's tests and the APISIX emulator's tests run the same
// tables, so both gateways are held to identical answers. Stack builds the
// API on real stores (embedded NATS) for either.
package apitest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Response is an HTTP answer, read in full.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Decode unmarshals the body into v or fails the test.
func (r *Response) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %d answer %q: %v", r.Status, truncate(r.Body), err)
	}
}

// Map is the body as a JSON object.
func (r *Response) Map(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.Decode(t, &m)
	return m
}

// ErrorCode is the code of an error envelope, "" when the body is none.
func (r *Response) ErrorCode() string {
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal(r.Body, &e)
	return e.Error.Code
}

// ErrorMessage is the message of an error envelope.
func (r *Response) ErrorMessage() string {
	var e struct {
		Error struct{ Message string } `json:"error"`
	}
	_ = json.Unmarshal(r.Body, &e)
	return e.Error.Message
}

// Case is one request and what its answer must be.
type Case struct {
	Name   string
	Method string
	// Path is appended to the base URL; it may carry a query string.
	Path string
	// Token, when set, is sent as "Authorization: Bearer <Token>".
	Token string
	// Header holds extra request headers (a raw Authorization, say).
	Header map[string]string
	// Body: nil sends none; a string or []byte is sent as is; an
	// io.Reader is sent without Content-Length (chunked); anything else
	// is sent as its JSON encoding.
	Body any
	// Status is the expected status code.
	Status int
	// Code is the expected error code (answers of 400 and above always
	// carry the error envelope with a code and a message).
	Code string
	// Allow is the expected Allow header of a 405.
	Allow string
	// ContentType is the expected Content-Type of an answer below 400
	// other than 204 and 304; "" means JSON. Objects answer raw bytes.
	ContentType string
	// Check, when set, examines the answer further.
	Check func(t *testing.T, r *Response)
}

// client is the HTTP client of Run and Fixture: no redirects followed, a
// timeout well above the API's own bounds.
var client = &http.Client{
	Timeout: 90 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// Do sends one request to baseURL+path and reads the answer.
func Do(t testing.TB, baseURL, method, path, token string, body any, header map[string]string) *Response {
	t.Helper()
	var rd io.Reader
	var sent []byte // the body as sent, for the contract check; nil for a stream
	contentType := "application/json"
	switch b := body.(type) {
	case nil:
		sent = []byte{}
	case string:
		rd, sent = strings.NewReader(b), []byte(b)
	case []byte:
		rd, sent = bytes.NewReader(b), b
	case io.Reader:
		rd = struct{ io.Reader }{b} // hide the length: sent chunked
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("encode request body: %v", err)
		}
		rd, sent = bytes.NewReader(data), data
	}
	req, err := http.NewRequest(method, baseURL+path, rd)
	if err != nil {
		t.Fatalf("new request %s %s: %v", method, path, err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read answer: %v", method, path, err)
	}
	CheckContract(t, req, sent, resp.StatusCode, resp.Header, data)
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// Run runs each case as a subtest, in order (later cases may rely on the
// effects of earlier ones), against baseURL.
func Run(t *testing.T, baseURL string, cases []Case) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			r := Do(t, baseURL, tc.Method, tc.Path, tc.Token, tc.Body, tc.Header)
			Check(t, tc, r)
		})
	}
}

// Check applies a case's expectations to an answer; Run calls it, and a
// test that sends a request its own way may too.
func Check(t *testing.T, tc Case, r *Response) {
	t.Helper()
	if r.Status != tc.Status {
		t.Fatalf("%s %s: status %d, want %d; body %s", tc.Method, tc.Path, r.Status, tc.Status, truncate(r.Body))
	}
	switch ct := r.Header.Get("Content-Type"); {
	case r.Status == http.StatusNoContent || r.Status == http.StatusNotModified || tc.Method == http.MethodHead:
		if len(r.Body) != 0 {
			t.Errorf("%d with a body: %s", r.Status, truncate(r.Body))
		}
	case tc.ContentType != "" && r.Status < 400:
		if ct != tc.ContentType {
			t.Errorf("Content-Type %q, want %q", ct, tc.ContentType)
		}
	case !strings.HasPrefix(ct, "application/json"):
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if r.Status >= 400 && tc.Method != http.MethodHead { // a HEAD answer has no body
		code, msg := r.ErrorCode(), r.ErrorMessage()
		if code == "" || msg == "" {
			t.Errorf("error answer without the envelope {error:{code,message}}: %s", truncate(r.Body))
		}
		if tc.Code != "" && code != tc.Code {
			t.Errorf("error code %q, want %q (message %q)", code, tc.Code, msg)
		}
	}
	if tc.Allow != "" && r.Header.Get("Allow") != tc.Allow {
		t.Errorf("Allow %q, want %q", r.Header.Get("Allow"), tc.Allow)
	}
	if tc.Check != nil {
		tc.Check(t, r)
	}
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// User is an account the Fixture registered and logged in.
type User struct {
	ID       string
	Username string
	Password string
	Email    string
	Token    string
}

// Fixture sets up state through HTTP only, so it works against any gateway
// serving the API. Names carry a random suffix: fixtures of several tests
// may share one server.
type Fixture struct {
	BaseURL string
	// Secret is the server's JWT secret, for forging expired tokens and
	// tokens signed otherwise.
	Secret []byte
	suffix string
}

// NewFixture returns a Fixture for the API at baseURL whose JWT secret is
// secret.
func NewFixture(t testing.TB, baseURL string, secret []byte) *Fixture {
	t.Helper()
	if len(secret) == 0 {
		t.Fatal("apitest: the fixture needs the server's JWT secret")
	}
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return &Fixture{BaseURL: strings.TrimSuffix(baseURL, "/"), Secret: secret, suffix: hex.EncodeToString(b)}
}

// Name returns a username unique to this fixture built from base.
func (f *Fixture) Name(base string) string { return base + "-" + f.suffix }

// Do sends one request to the fixture's server.
func (f *Fixture) Do(t testing.TB, method, path, token string, body any) *Response {
	t.Helper()
	return Do(t, f.BaseURL, method, path, token, body, nil)
}

// must sends a request that has to answer want, and returns the answer.
func (f *Fixture) must(t testing.TB, want int, method, path, token string, body any) *Response {
	t.Helper()
	r := f.Do(t, method, path, token, body)
	if r.Status != want {
		t.Fatalf("fixture: %s %s: status %d, want %d; body %s", method, path, r.Status, want, truncate(r.Body))
	}
	return r
}

// Register registers a user named after alias and logs it in.
func (f *Fixture) Register(t testing.TB, alias string) *User {
	t.Helper()
	u := &User{Username: f.Name(alias), Password: "pw-" + alias + "-secret", Email: alias + "@example.com"}
	r := f.must(t, http.StatusCreated, http.MethodPost, "/api/v1/users/register", "",
		map[string]string{"username": u.Username, "password": u.Password, "email": u.Email})
	var created struct{ ID string }
	r.Decode(t, &created)
	u.ID = created.ID
	u.Token = f.Login(t, u.Username, u.Password)
	return u
}

// Login returns a fresh token for the pair.
func (f *Fixture) Login(t testing.TB, username, password string) string {
	t.Helper()
	r := f.must(t, http.StatusOK, http.MethodPost, "/api/v1/users/login", "",
		map[string]string{"username": username, "password": password})
	var l struct{ Token string }
	r.Decode(t, &l)
	if l.Token == "" {
		t.Fatal("fixture: login answered no token")
	}
	return l.Token
}

// CreateFunction creates a function of u named name with image
// "faas-examples/echo:latest", overridden and extended by fields, and
// returns its id.
func (f *Fixture) CreateFunction(t testing.TB, u *User, name string, fields map[string]any) string {
	t.Helper()
	body := map[string]any{"name": name, "image_url": "faas-examples/echo:latest"}
	for k, v := range fields {
		body[k] = v
	}
	r := f.must(t, http.StatusCreated, http.MethodPost, "/api/v1/functions", u.Token, body)
	var fn struct{ ID string }
	r.Decode(t, &fn)
	return fn.ID
}

// GetFunction returns u's function id as a JSON object.
func (f *Fixture) GetFunction(t testing.TB, u *User, id string) map[string]any {
	t.Helper()
	return f.must(t, http.StatusOK, http.MethodGet, "/api/v1/functions/"+id, u.Token, nil).Map(t)
}

// Enqueue starts an execution of u's function with input and returns its id.
func (f *Fixture) Enqueue(t testing.TB, u *User, functionID string, input any) string {
	t.Helper()
	r := f.must(t, http.StatusAccepted, http.MethodPost, "/api/v1/executions", u.Token,
		map[string]any{"function_id": functionID, "input": input})
	var e struct{ ID string }
	r.Decode(t, &e)
	return e.ID
}

// Token forges a token for sub signed with method and key, valid from iat
// to exp (a zero exp leaves the claim out).
func Token(t testing.TB, method jwt.SigningMethod, key any, sub string, iat, exp time.Time) string {
	t.Helper()
	claims := jwt.RegisteredClaims{Subject: sub, IssuedAt: jwt.NewNumericDate(iat)}
	if !exp.IsZero() {
		claims.ExpiresAt = jwt.NewNumericDate(exp)
	}
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatalf("forge token: %v", err)
	}
	return s
}

// field reads a top-level field of a JSON object, failing when absent.
func field(t testing.TB, m map[string]any, name string) any {
	t.Helper()
	v, ok := m[name]
	if !ok {
		t.Fatalf("answer has no %q: %v", name, m)
	}
	return v
}

// wantFields checks top-level fields of r's JSON object against want
// (numbers compare as float64, as JSON decodes them).
func wantFields(t testing.TB, r *Response, want map[string]any) map[string]any {
	t.Helper()
	m := r.Map(t)
	for k, v := range want {
		got := field(t, m, k)
		if fmt.Sprint(got) != fmt.Sprint(v) {
			t.Errorf("%s = %v, want %v", k, got, v)
		}
	}
	return m
}

package apitest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/faasplatform/faas/auth"
)

const (
	head            = http.MethodHead
	notModified     = http.StatusNotModified
	objNotFound     = "object_not_found"
	octetStream     = "application/octet-stream"
	objectsRoot     = "/api/function-objects/"
	roundTripBytes  = 5 << 20
	quotaPieceBytes = 4 << 20
)

// RandomBytes returns n random bytes.
func RandomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// ExecutionToken mints the FAAS_TOKEN of owner's execution of functionID
// with the server's secret, valid for ttl from now.
func (f *Fixture) ExecutionToken(t testing.TB, owner, functionID, executionID string, ttl time.Duration) string {
	t.Helper()
	tok, err := auth.NewExecutionTokens(f.Secret).Issue(owner, functionID, executionID, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// sha is the hex SHA-256 of b: an object's etag.
func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Object limits the objects suite expects of the server it runs against
// (platformtest.Stack sets them): small, so that ObjectCases reach them
// with a few MiB.
const (
	ObjectMaxBytes = 6 << 20
	ObjectsQuota   = 12 << 20
)

// ObjectCases: contract §3 Objects with the Stack's limits (ObjectMaxBytes,
// ObjectsQuota): a 5 MiB round trip, replace, Content-Type, list with a
// prefix, 304, 206, 416, HEAD, delete, bad names, size and quota 413 with
// nothing stored, another user's function, and execution tokens (their own
// function only, refused once the execution has ended).
func ObjectCases(t *testing.T, f *Fixture) []Case {
	u := f.Register(t, "objects")
	other := f.Register(t, "objects-other")
	fn := f.CreateFunction(t, u, "objects-fn", nil)
	fn2 := f.CreateFunction(t, u, "objects-fn2", nil)
	quotaFn := f.CreateFunction(t, u, "objects-quota", nil)
	foreign := f.CreateFunction(t, other, "objects-foreign", nil)
	live := f.Enqueue(t, u, fn, "running") // no worker: stays pending, not ended
	ended := f.Enqueue(t, u, fn, "cancel me")
	f.must(t, http.StatusOK, del, "/api/v1/executions/"+ended, u.Token, nil)
	ofFn2 := f.Enqueue(t, u, fn2, "other function")

	liveTok := f.ExecutionToken(t, u.ID, fn, live, time.Hour)
	endedTok := f.ExecutionToken(t, u.ID, fn, ended, time.Hour)
	fn2Tok := f.ExecutionToken(t, u.ID, fn2, ofFn2, time.Hour)
	mismatchTok := f.ExecutionToken(t, u.ID, fn, ofFn2, time.Hour) // claims fn, but the execution is fn2's
	expired := auth.NewExecutionTokens(f.Secret)
	expired.Now = func() time.Time { return time.Now().Add(-2 * time.Hour) }
	expiredTok, err := expired.Issue(u.ID, fn, live, time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	blob := RandomBytes(t, roundTripBytes)
	piece1, piece2 := RandomBytes(t, quotaPieceBytes), RandomBytes(t, quotaPieceBytes)
	tooBig := RandomBytes(t, ObjectMaxBytes+1)
	obj := func(fid, name string) string { return objectsRoot + fid + "/" + name }
	blobPath := obj(fn, "data/blob.bin")
	ctHeader := func(ct string) map[string]string { return map[string]string{"Content-Type": ct} }

	stored := func(name string, size int, etag, ct string) func(*testing.T, *Response) {
		return func(t *testing.T, r *Response) {
			wantFields(t, r, map[string]any{"function_id": r.Map(t)["function_id"], "name": name, "size": float64(size),
				"etag": etag, "content_type": ct})
			if got := r.Header.Get("ETag"); got != `"`+etag+`"` {
				t.Errorf("ETag header %q, want the quoted sha256", got)
			}
			if _, err := time.Parse(time.RFC3339Nano, fmt.Sprint(r.Map(t)["created_at"])); err != nil {
				t.Errorf("created_at: %v", err)
			}
		}
	}
	content := func(want []byte, contentRange string) func(*testing.T, *Response) {
		return func(t *testing.T, r *Response) {
			if !bytes.Equal(r.Body, want) {
				t.Errorf("body of %d bytes (sha %s), want %d bytes (sha %s)", len(r.Body), sha(r.Body), len(want), sha(want))
			}
			if got := r.Header.Get("Content-Length"); got != fmt.Sprint(len(want)) {
				t.Errorf("Content-Length %q, want %d", got, len(want))
			}
			if got := r.Header.Get("Content-Range"); got != contentRange {
				t.Errorf("Content-Range %q, want %q", got, contentRange)
			}
		}
	}
	headers := func(size int, etag string) func(*testing.T, *Response) {
		return func(t *testing.T, r *Response) {
			if r.Header.Get("Content-Length") != fmt.Sprint(size) || r.Header.Get("ETag") != `"`+etag+`"` {
				t.Errorf("Content-Length %q ETag %q, want %d and the quoted %s", r.Header.Get("Content-Length"),
					r.Header.Get("ETag"), size, etag)
			}
		}
	}
	names := func(want ...string) func(*testing.T, *Response) {
		return func(t *testing.T, r *Response) {
			var l struct{ Objects []struct{ Name string } }
			r.Decode(t, &l)
			got := make([]string, len(l.Objects))
			for i, o := range l.Objects {
				got[i] = o.Name
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("listed %v, want %v", got, want)
			}
		}
	}
	badName := func(label, name string) Case {
		return Case{Name: "bad name " + label, Method: put, Path: objectsRoot + fn + "/" + name, Token: u.Token,
			Body: "x", Status: s400, Code: invalid}
	}
	n := len(blob)
	var rawCreated string // created_at of data/raw as its PUT answered
	cases := []Case{
		// Round trip of a 5 MiB random binary.
		{Name: "put 5 MiB", Method: put, Path: blobPath, Token: u.Token, Body: blob, Header: ctHeader("application/x-test"),
			Status: s201, Check: stored("data/blob.bin", n, sha(blob), "application/x-test")},
		{Name: "get 5 MiB", Method: get, Path: blobPath, Token: u.Token, Status: s200, ContentType: "application/x-test",
			Check: content(blob, "")},
		{Name: "head", Method: head, Path: blobPath, Token: u.Token, Status: s200, ContentType: "application/x-test",
			Check: headers(n, sha(blob))},
		{Name: "if-none-match hit 304", Method: get, Path: blobPath, Token: u.Token,
			Header: map[string]string{"If-None-Match": `"` + sha(blob) + `"`}, Status: notModified},
		{Name: "if-none-match in a list 304", Method: get, Path: blobPath, Token: u.Token,
			Header: map[string]string{"If-None-Match": `"abc", W/"` + sha(blob) + `"`}, Status: notModified},
		{Name: "if-none-match miss 200", Method: get, Path: blobPath, Token: u.Token,
			Header: map[string]string{"If-None-Match": `"abc"`}, Status: s200, ContentType: "application/x-test",
			Check: content(blob, "")},
		{Name: "range a-b 206", Method: get, Path: blobPath, Token: u.Token, Header: map[string]string{"Range": "bytes=10-19"},
			Status: http.StatusPartialContent, ContentType: "application/x-test", Check: content(blob[10:20], fmt.Sprintf("bytes 10-19/%d", n))},
		{Name: "range a- 206", Method: get, Path: blobPath, Token: u.Token, Header: map[string]string{"Range": fmt.Sprintf("bytes=%d-", n-10)},
			Status: http.StatusPartialContent, ContentType: "application/x-test", Check: content(blob[n-10:], fmt.Sprintf("bytes %d-%d/%d", n-10, n-1, n))},
		{Name: "range -n 206", Method: get, Path: blobPath, Token: u.Token, Header: map[string]string{"Range": "bytes=-5"},
			Status: http.StatusPartialContent, ContentType: "application/x-test", Check: content(blob[n-5:], fmt.Sprintf("bytes %d-%d/%d", n-5, n-1, n))},
		{Name: "range past the end 416", Method: get, Path: blobPath, Token: u.Token, Header: map[string]string{"Range": fmt.Sprintf("bytes=%d-", n)},
			Status: http.StatusRequestedRangeNotSatisfiable, Code: invalid, Check: func(t *testing.T, r *Response) {
				if got := r.Header.Get("Content-Range"); got != fmt.Sprintf("bytes */%d", n) {
					t.Errorf("Content-Range %q", got)
				}
			}},
		{Name: "several ranges: the whole object", Method: get, Path: blobPath, Token: u.Token, Header: map[string]string{"Range": "bytes=0-1,5-6"},
			Status: s200, ContentType: "application/x-test", Check: content(blob, "")},

		// Replace, default Content-Type, list with a prefix.
		{Name: "replace 200", Method: put, Path: blobPath, Token: u.Token, Body: "v2", Header: ctHeader("text/plain"),
			Status: s200, Check: stored("data/blob.bin", 2, sha([]byte("v2")), "text/plain")},
		{Name: "get the replacement", Method: get, Path: blobPath, Token: u.Token, Status: s200, ContentType: "text/plain",
			Check: content([]byte("v2"), "")},
		{Name: "put without Content-Type", Method: put, Path: obj(fn, "data/raw"), Token: u.Token, Body: "raw",
			Header: ctHeader(""), Status: s201, Check: func(t *testing.T, r *Response) {
				stored("data/raw", 3, sha([]byte("raw")), octetStream)(t, r)
				rawCreated = fmt.Sprint(r.Map(t)["created_at"])
			}},
		{Name: "created_at as put is as stored", Method: get, Path: objectsRoot + fn + "?prefix=data/raw", Token: u.Token, Status: s200,
			Check: func(t *testing.T, r *Response) {
				if got := r.Map(t)["objects"].([]any)[0].(map[string]any)["created_at"]; fmt.Sprint(got) != rawCreated {
					t.Errorf("listed created_at %v, the PUT answered %s", got, rawCreated)
				}
			}},
		{Name: "put an empty object", Method: put, Path: obj(fn, "empty"), Token: u.Token, Body: "", Header: ctHeader("text/plain"),
			Status: s201, Check: stored("empty", 0, sha(nil), "text/plain")},
		{Name: "get an empty object", Method: get, Path: obj(fn, "empty"), Token: u.Token, Status: s200, ContentType: "text/plain",
			Check: content(nil, "")},
		{Name: "range of an empty object 416", Method: get, Path: obj(fn, "empty"), Token: u.Token,
			Header: map[string]string{"Range": "bytes=0-"}, Status: http.StatusRequestedRangeNotSatisfiable, Code: invalid},
		{Name: "delete the empty object", Method: del, Path: obj(fn, "empty"), Token: u.Token, Status: s204},
		{Name: "put a.txt", Method: put, Path: obj(fn, "data/a.txt"), Token: u.Token, Body: "a", Status: s201},
		{Name: "put logs/c.txt", Method: put, Path: obj(fn, "logs/c.txt"), Token: u.Token, Body: "c", Status: s201},
		{Name: "list with prefix", Method: get, Path: objectsRoot + fn + "?prefix=data/", Token: u.Token, Status: s200,
			Check: names("data/a.txt", "data/blob.bin", "data/raw")},
		{Name: "list all", Method: get, Path: objectsRoot + fn, Token: u.Token, Status: s200,
			Check: names("data/a.txt", "data/blob.bin", "data/raw", "logs/c.txt")},
		{Name: "list of a prefix with nothing", Method: get, Path: objectsRoot + fn + "?prefix=none/", Token: u.Token, Status: s200,
			Check: func(t *testing.T, r *Response) {
				if !strings.Contains(string(r.Body), `"objects":[]`) {
					t.Errorf("want an empty list, got %s", r.Body)
				}
			}},
		{Name: "list of another function is its own", Method: get, Path: objectsRoot + fn2, Token: u.Token, Status: s200, Check: names()},
		{Name: "list with a bad prefix", Method: get, Path: objectsRoot + fn + "?prefix=a%00", Token: u.Token, Status: s400, Code: invalid},

		// Delete.
		{Name: "delete 204", Method: del, Path: obj(fn, "data/a.txt"), Token: u.Token, Status: s204},
		{Name: "get deleted 404", Method: get, Path: obj(fn, "data/a.txt"), Token: u.Token, Status: s404, Code: objNotFound},
		{Name: "head deleted 404", Method: head, Path: obj(fn, "data/a.txt"), Token: u.Token, Status: s404},
		{Name: "delete again 404", Method: del, Path: obj(fn, "data/a.txt"), Token: u.Token, Status: s404, Code: objNotFound},
		{Name: "get never stored 404", Method: get, Path: obj(fn, "nothing"), Token: u.Token, Status: s404, Code: objNotFound},

		// Names (contract §3).
		badName("dot-dot segment", "a/../b"),
		badName("only dot-dot", ".."),
		badName("leading slash", "/x"),
		badName("empty segment", "a//b"),
		badName("trailing slash", "a/"),
		badName("256 characters", strings.Repeat("n", 256)),
		badName("control character", "a%01b"),
		badName("space", "a%20b"),
		badName("non-ascii", "%C3%A9t%C3%A9"),
		{Name: "a dot segment is part of the name, not cleaned away", Method: put, Path: obj(fn, "d/./x"), Token: u.Token,
			Body: "dot", Header: ctHeader("text/plain"), Status: s201, Check: stored("d/./x", 3, sha([]byte("dot")), "text/plain")},
		{Name: "the dot-segment name reads back as itself", Method: get, Path: obj(fn, "d/./x"), Token: u.Token, Status: s200,
			ContentType: "text/plain", Check: content([]byte("dot"), "")},
		{Name: "the cleaned name is another object", Method: get, Path: obj(fn, "d/x"), Token: u.Token, Status: s404, Code: objNotFound},
		{Name: "an escaped dot-dot segment is refused too", Method: put, Path: obj(fn, "a/%2E%2E/b"), Token: u.Token,
			Body: "x", Status: s400, Code: invalid},
		{Name: "no name 404", Method: get, Path: objectsRoot + fn + "/", Token: u.Token, Status: s404, Code: invalid},
		{Name: "255 characters is fine", Method: put, Path: obj(fn, strings.Repeat("n", 255)), Token: u.Token, Body: "x", Status: s201},
		{Name: "wrong method 405", Method: post, Path: blobPath, Token: u.Token, Status: s405, Code: invalid, Allow: "DELETE, GET, HEAD, PUT"},
		{Name: "bad function id 400", Method: get, Path: objectsRoot + "not%20an%20id/x", Token: u.Token, Status: s400, Code: invalid},

		// Who may.
		{Name: "no token 401", Method: get, Path: blobPath, Status: s401, Code: unauth},
		{Name: "garbage token 401", Method: get, Path: blobPath, Token: "garbage", Status: s401, Code: unauth},
		{Name: "another user's token 404", Method: get, Path: blobPath, Token: other.Token, Status: s404, Code: fnNotFound},
		{Name: "another user's function 404", Method: put, Path: obj(foreign, "x"), Token: u.Token, Body: "x", Status: s404, Code: fnNotFound},
		{Name: "unknown function 404", Method: get, Path: objectsRoot + "0190b7d2-7c4e-7000-8000-000000000000", Token: u.Token, Status: s404, Code: fnNotFound},
		{Name: "execution token puts", Method: put, Path: obj(fn, "from-fn/out.json"), Token: liveTok, Body: `{"ok":true}`,
			Header: ctHeader("application/json"), Status: s201},
		{Name: "execution token gets", Method: get, Path: blobPath, Token: liveTok, Status: s200, ContentType: "text/plain", Check: content([]byte("v2"), "")},
		{Name: "execution token lists", Method: get, Path: objectsRoot + fn + "?prefix=from-fn/", Token: liveTok, Status: s200, Check: names("from-fn/out.json")},
		{Name: "execution token deletes", Method: del, Path: obj(fn, "from-fn/out.json"), Token: liveTok, Status: s204},
		{Name: "execution token of another function 404", Method: get, Path: blobPath, Token: fn2Tok, Status: s404, Code: fnNotFound},
		{Name: "execution token on its function, other function's path 404", Method: get, Path: objectsRoot + fn2, Token: liveTok, Status: s404, Code: fnNotFound},
		{Name: "execution token of an ended execution 401", Method: get, Path: blobPath, Token: endedTok, Status: s401, Code: unauth},
		{Name: "ended execution token cannot put 401", Method: put, Path: obj(fn, "late"), Token: endedTok, Body: "x", Status: s401, Code: unauth},
		{Name: "execution token naming another function's execution 401", Method: get, Path: blobPath, Token: mismatchTok, Status: s401, Code: unauth},
		{Name: "expired execution token 401", Method: get, Path: blobPath, Token: expiredTok, Status: s401, Code: unauth},
		{Name: "execution token is no user token 401", Method: get, Path: "/api/v1/functions", Token: liveTok, Status: s401, Code: unauth},
		{Name: "ended execution wrote nothing", Method: head, Path: obj(fn, "late"), Token: u.Token, Status: s404},
	}
	return append(cases, quotaCases(f, u, quotaFn, piece1, piece2, tooBig)...)
}

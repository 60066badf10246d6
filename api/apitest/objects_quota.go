package apitest

import (
	"bytes"
	"fmt"
	"testing"
)

// quotaCases fill a function to 8 of its 12 MiB quota, then try what must
// be refused with 413 (nothing stored, earlier objects intact) and what
// must still fit.
func quotaCases(f *Fixture, u *User, fn string, piece1, piece2, tooBig []byte) []Case {
	path := func(name string) string { return objectsRoot + fn + "/" + name }
	third := tooBig[:ObjectsQuota-2*quotaPieceBytes+1] // 1 byte over the quota left
	intact := func(name string, want []byte) Case {
		return Case{Name: "still intact: " + name, Method: head, Path: path(name), Token: u.Token, Status: s200,
			ContentType: octetStream, Check: func(t *testing.T, r *Response) {
				if r.Header.Get("ETag") != `"`+sha(want)+`"` || r.Header.Get("Content-Length") != fmt.Sprint(len(want)) {
					t.Errorf("ETag %s, Content-Length %s: the object changed", r.Header.Get("ETag"), r.Header.Get("Content-Length"))
				}
			}}
	}
	return []Case{
		{Name: "quota: first 4 MiB", Method: put, Path: path("p1"), Token: u.Token, Body: piece1, Header: map[string]string{"Content-Type": ""}, Status: s201},
		{Name: "quota: second 4 MiB", Method: put, Path: path("p2"), Token: u.Token, Body: piece2, Header: map[string]string{"Content-Type": ""}, Status: s201},
		{Name: "quota: over it by Content-Length 413", Method: put, Path: path("p3"), Token: u.Token, Body: third, Status: s413, Code: tooLarge},
		{Name: "quota: over it chunked 413", Method: put, Path: path("p3"), Token: u.Token, Body: bytes.NewReader(third), Status: s413, Code: tooLarge},
		{Name: "size: over OBJECT_MAX_BYTES by Content-Length 413", Method: put, Path: path("big"), Token: u.Token, Body: tooBig, Status: s413, Code: tooLarge},
		{Name: "size: over OBJECT_MAX_BYTES with Expect: 100-continue 413", Method: put, Path: path("big"), Token: u.Token,
			Body: tooBig, Header: map[string]string{"Expect": "100-continue"}, Status: s413, Code: tooLarge},
		{Name: "size: over OBJECT_MAX_BYTES chunked 413", Method: put, Path: path("big"), Token: u.Token, Body: bytes.NewReader(tooBig), Status: s413, Code: tooLarge},
		{Name: "size: a replacement too large 413", Method: put, Path: path("p1"), Token: u.Token, Body: bytes.NewReader(tooBig), Status: s413, Code: tooLarge},
		{Name: "nothing of them stored", Method: get, Path: objectsRoot + fn, Token: u.Token, Status: s200, Check: func(t *testing.T, r *Response) {
			var l struct{ Objects []struct{ Name string } }
			r.Decode(t, &l)
			if len(l.Objects) != 2 || l.Objects[0].Name != "p1" || l.Objects[1].Name != "p2" {
				t.Errorf("objects %+v, want p1 and p2 only", l.Objects)
			}
		}},
		intact("p1", piece1),
		intact("p2", piece2),
		// A replacement counts the replaced object's bytes as freed.
		{Name: "quota: replacing p1 with 6 MiB fits", Method: put, Path: path("p1"), Token: u.Token,
			Body: tooBig[:ObjectMaxBytes], Status: s200},
	}
}

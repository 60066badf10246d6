package objects

import (
	"errors"
	"testing"

	"github.com/faasplatform/faas/domain"
)

func TestParseRange(t *testing.T) {
	const size = 100
	cases := []struct {
		header        string
		start, length int64
		ok            bool
		unsatisfiable bool
	}{
		{header: ""},
		{header: "bytes=0-9", start: 0, length: 10, ok: true},
		{header: "bytes=90-", start: 90, length: 10, ok: true},
		{header: "bytes=90-500", start: 90, length: 10, ok: true}, // end past the size: cut to it
		{header: "bytes=-5", start: 95, length: 5, ok: true},
		{header: "bytes=-500", start: 0, length: 100, ok: true}, // suffix longer than the object
		{header: "bytes=99-99", start: 99, length: 1, ok: true},
		{header: " bytes=1-2 ", start: 1, length: 2, ok: true},
		{header: "bytes=100-", unsatisfiable: true},
		{header: "bytes=100-200", unsatisfiable: true},
		{header: "bytes=-0", unsatisfiable: true},
		{header: "bytes=5-1"},     // malformed: ignored, whole object
		{header: "bytes=0-1,3-4"}, // several ranges: ignored
		{header: "items=0-1"},
		{header: "bytes=a-b"},
		{header: "bytes=-"},
		{header: "bytes=+1-2"},
		{header: "bytes=1"},
		{header: "bytes=99999999999999999999-"},
	}
	for _, c := range cases {
		t.Run(c.header, func(t *testing.T) {
			r, ok, err := parseRange(c.header, size)
			if c.unsatisfiable {
				if !errors.Is(err, domain.ErrRangeNotSatisfiable) {
					t.Fatalf("err %v, want ErrRangeNotSatisfiable", err)
				}
				return
			}
			if err != nil || ok != c.ok || (ok && (r.start != c.start || r.length != c.length)) {
				t.Fatalf("parseRange = %+v, %v, %v; want start %d length %d ok %v", r, ok, err, c.start, c.length, c.ok)
			}
		})
	}
	if _, _, err := parseRange("bytes=0-", 0); !errors.Is(err, domain.ErrRangeNotSatisfiable) {
		t.Errorf("a range of an empty object: %v, want unsatisfiable", err)
	}
	if got := (byteRange{start: 10, length: 10}).contentRange(size); got != "bytes 10-19/100" {
		t.Errorf("contentRange %q", got)
	}
}

func TestNoneMatch(t *testing.T) {
	o := domain.Object{ETag: "abc"}
	cases := map[string]bool{
		`"abc"`: true, `W/"abc"`: true, `"x", "abc"`: true, `*`: true,
		`abc`: false, `"abcd"`: false, ``: false, `"x"`: false,
	}
	for h, want := range cases {
		if got := noneMatch(h, o); got != want {
			t.Errorf("noneMatch(%q) = %v, want %v", h, got, want)
		}
	}
}

package objects

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/faasplatform/faas/domain"
)

// byteRange is the part of an object a GET answers: length bytes from
// start.
type byteRange struct {
	start, length int64
}

// contentRange is the Content-Range header of a 206 of r in an object of
// size bytes.
func (r byteRange) contentRange(size int64) string {
	return fmt.Sprintf("bytes %d-%d/%d", r.start, r.start+r.length-1, size)
}

// parseRange reads a Range header for an object of size bytes. It supports
// one range of the three forms "bytes=a-b", "bytes=a-" and "bytes=-n".
// ok is false when the header is absent, malformed, of another unit or asks
// for several ranges: RFC 9110 §14.2 lets a server ignore such a header and
// answer 200 with the whole object, which is what happens. A well-formed
// range that no byte satisfies (a start at or past the end, "-0") is an
// error wrapping domain.ErrRangeNotSatisfiable (416).
func parseRange(header string, size int64) (r byteRange, ok bool, err error) {
	spec, found := strings.CutPrefix(strings.TrimSpace(header), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return byteRange{}, false, nil
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return byteRange{}, false, nil
	}
	unsatisfiable := domain.Errorf(domain.ErrRangeNotSatisfiable, "range %q is outside the object's %d bytes", header, size)
	if first == "" { // suffix: the last n bytes
		n, perr := parseOffset(last)
		if perr != nil {
			return byteRange{}, false, nil
		}
		if n == 0 || size == 0 {
			return byteRange{}, false, unsatisfiable
		}
		n = min(n, size)
		return byteRange{start: size - n, length: n}, true, nil
	}
	start, perr := parseOffset(first)
	if perr != nil {
		return byteRange{}, false, nil
	}
	end := size - 1
	if last != "" {
		e, perr := parseOffset(last)
		if perr != nil || e < start {
			return byteRange{}, false, nil
		}
		end = min(e, size-1)
	}
	if start >= size {
		return byteRange{}, false, unsatisfiable
	}
	return byteRange{start: start, length: end - start + 1}, true, nil
}

// parseOffset reads the digits of a byte position.
func parseOffset(s string) (int64, error) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("byte position %q is not a number", s)
	}
	return strconv.ParseInt(s, 10, 64)
}

// quotedETag is the ETag header of an object: its SHA-256, hex, quoted.
func quotedETag(o domain.Object) string { return `"` + o.ETag + `"` }

// noneMatch reports whether an If-None-Match header matches the object's
// ETag: "*", or one of a list of entity tags, weak ones compared weakly
// (RFC 9110 §13.1.2), so a GET of a copy the client has answers 304.
func noneMatch(header string, o domain.Object) bool {
	if strings.TrimSpace(header) == "*" {
		return true
	}
	want := quotedETag(o)
	for _, tag := range strings.Split(header, ",") {
		if strings.TrimPrefix(strings.TrimSpace(tag), "W/") == want {
			return true
		}
	}
	return false
}

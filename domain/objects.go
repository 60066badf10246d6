package domain

import "time"

// MaxObjectNameLen is the longest object name the contract allows (§3).
const MaxObjectNameLen = 255

// Object is the metadata of one stored object of a function (§3 Objects).
// The content itself is streamed; it never lives in this struct.
type Object struct {
	FunctionID  string    `json:"function_id"`
	Name        string    `json:"name"`
	Size        int64     `json:"size"`
	ContentType string    `json:"content_type"`
	ETag        string    `json:"etag"` // SHA-256 of the content, lower-case hex, unquoted
	CreatedAt   time.Time `json:"created_at"`
}

// DefaultObjectContentType is stored when a PUT sends no Content-Type.
const DefaultObjectContentType = "application/octet-stream"

// ValidateObjectName checks an object name: 1 to 255 of A-Z a-z 0-9 . _ - /,
// no leading '/', no empty segment ("a//b", trailing '/') and no ".." segment.
func ValidateObjectName(s string) error {
	if s == "" || len(s) > MaxObjectNameLen {
		return Invalid("object name must be 1 to %d characters long", MaxObjectNameLen)
	}
	for i := 0; i < len(s); i++ {
		if !objectNameByte(s[i]) {
			return Invalid("object name may hold only letters, digits, '.', '_', '-' and '/'")
		}
	}
	if s[0] == '/' {
		return Invalid("object name must not start with '/'")
	}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '/' {
			continue
		}
		switch s[start:i] {
		case "":
			return Invalid("object name must not have an empty segment")
		case "..":
			return Invalid("object name must not have a '..' segment")
		}
		start = i + 1
	}
	return nil
}

// ValidateObjectPrefix checks a listing's ?prefix=: at most 255 of the
// bytes a name may hold (it may end in '/' or stop inside a segment, so the
// segment rules of ValidateObjectName do not apply).
func ValidateObjectPrefix(s string) error {
	if len(s) > MaxObjectNameLen {
		return Invalid("prefix must be at most %d characters long", MaxObjectNameLen)
	}
	for i := 0; i < len(s); i++ {
		if !objectNameByte(s[i]) {
			return Invalid("prefix may hold only letters, digits, '.', '_', '-' and '/'")
		}
	}
	return nil
}

func objectNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == '_' || c == '-' || c == '/'
}

// CheckObjectAdmission decides, before anything is stored, whether an object
// of size bytes (-1 when unknown, i.e. no Content-Length) may be written to a
// function that already uses used bytes, replacing an object of replaced bytes
// (0 when new). It returns the most bytes the body may carry: the stream is cut
// (and the partial object deleted) beyond it.
func CheckObjectAdmission(size, used, replaced, maxObject, quota int64) (limit int64, err error) {
	room := quota - (used - replaced)
	limit = maxObject
	if room < limit {
		limit = room
	}
	if limit < 0 {
		limit = 0
	}
	if size > maxObject {
		return 0, Errorf(ErrPayloadTooLarge, "object is larger than the %d-byte limit per object", maxObject)
	}
	if size > room {
		return 0, Errorf(ErrPayloadTooLarge, "object would exceed the function's %d-byte objects quota", quota)
	}
	return limit, nil
}

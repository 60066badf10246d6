package domain

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// safeKeyToken reports whether s can stand as one token of a NATS subject or
// KV key without widening a filter or reaching the control-line limit.
func safeKeyToken(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

func TestValidateID(t *testing.T) {
	cases := []struct {
		id string
		ok bool
	}{
		{"0190b7d2-7c4e-7000-8000-000000000000", true},
		{"a", true},
		{"A_b-9", true},
		{strings.Repeat("x", MaxIDBytes), true},
		{"", false},
		{strings.Repeat("x", MaxIDBytes+1), false},
		{strings.Repeat("x", 5000), false},
		{"a.b", false},
		{"a*", false},
		{">", false},
		{"a b", false},
		{"a\x00b", false},
		{"a\x01b", false},
		{"a/b", false},
		{"été", false},
		{"a\n", false},
	}
	for _, tc := range cases {
		err := ValidateID("id", tc.id)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateID(%.20q) = %v, want ok=%v", tc.id, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidInput) {
			t.Errorf("ValidateID(%.20q): %v is not ErrInvalidInput", tc.id, err)
		}
	}
}

// FuzzValidateID: whatever passes is a safe key token; whatever fails is
// invalid input with a message.
func FuzzValidateID(f *testing.F) {
	for _, s := range []string{"0190b7d2-7c4e-7000-8000-000000000000", "", "a.b", "a*", ">", "a\x00", strings.Repeat("a", 65)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidateID("id", s)
		if err == nil && !safeKeyToken(s) {
			t.Fatalf("ValidateID accepted %q, which is no safe key token", s)
		}
		if err != nil && !errors.Is(err, ErrInvalidInput) {
			t.Fatalf("ValidateID(%q): %v is not ErrInvalidInput", s, err)
		}
	})
}

// FuzzValidateUsername: an accepted username is a safe key token (its
// lower-case form is the name index key).
func FuzzValidateUsername(f *testing.F) {
	for _, s := range []string{"alice", "al", "a.b", strings.Repeat("u", 5000), "ab\x01c", "ÄBC"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidateUsername(s)
		if err == nil && (!safeKeyToken(strings.ToLower(s)) || len(s) > 32) {
			t.Fatalf("ValidateUsername accepted %q", s)
		}
		if err != nil && !errors.Is(err, ErrInvalidInput) {
			t.Fatalf("ValidateUsername(%q): %v is not ErrInvalidInput", s, err)
		}
	})
}

// FuzzValidateFunction: an accepted function has a safe name, a bounded
// image reference, valid UTF-8 text and env keys that are safe tokens.
func FuzzValidateFunction(f *testing.F) {
	f.Add("hello", "faas-examples/echo:latest", "desc", 30, 128, 0.5, "KEY", "value")
	f.Add("Hello", "bad image", "\xff", 0, 0, 0.0, "FAAS_X", "a\x00")
	f.Add(strings.Repeat("n", 64), strings.Repeat("i", 256), "", 901, 99999, 1e9, "1A", "")
	f.Fuzz(func(t *testing.T, name, image, desc string, timeout, mem int, cpus float64, key, val string) {
		fn := &Function{Name: name, ImageURL: image, Description: desc, Timeout: timeout, MemoryMB: mem,
			CPUs: cpus, Env: map[string]string{key: val}}
		err := ValidateFunction(fn)
		if err != nil {
			if !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("ValidateFunction: %v is not ErrInvalidInput", err)
			}
			return
		}
		if !safeKeyToken(name) || len(name) > 63 || len(image) > 255 || !utf8.ValidString(desc) ||
			len(key) > 128 || strings.ContainsRune(val, 0) {
			t.Fatalf("ValidateFunction accepted %+v", fn)
		}
	})
}

package domain

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateObjectName(t *testing.T) {
	cases := []struct {
		name string
		ok   bool
	}{
		{"a", true},
		{"uploads/report.pdf", true},
		{"results/2026-12-03_v1.json", true},
		{"a.b..c", true},
		{".hidden", true},
		{strings.Repeat("x", 255), true},
		{"", false},
		{strings.Repeat("x", 256), false},
		{"..", false},
		{"a/../b", false},
		{"a/..", false},
		{"/x", false},
		{"a//b", false},
		{"a/", false},
		{"a b", false},
		{"a\x00b", false},
		{"a\nb", false},
		{"a\x7f", false},
		{"é", false},
		{"a?b", false},
		{`a\b`, false},
	}
	for _, tc := range cases {
		err := ValidateObjectName(tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateObjectName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidInput) {
			t.Errorf("ValidateObjectName(%q): %v is not ErrInvalidInput", tc.name, err)
		}
	}
}

func TestCheckObjectAdmission(t *testing.T) {
	const max, quota = 100, 250
	cases := []struct {
		desc                 string
		size, used, replaced int64
		limit                int64
		tooLarge             bool
	}{
		{"fits", 50, 0, 0, 100, false},
		{"unknown size, room above max", -1, 0, 0, 100, false},
		{"unknown size, little room", -1, 200, 0, 50, false},
		{"exactly max", 100, 0, 0, 100, false},
		{"over max", 101, 0, 0, 0, true},
		{"over quota", 60, 200, 0, 0, true},
		{"replacing frees room", 60, 200, 30, 80, false},
		{"quota full, unknown size", -1, 250, 0, 0, false},
		{"quota full, one byte", 1, 250, 0, 0, true},
	}
	for _, tc := range cases {
		limit, err := CheckObjectAdmission(tc.size, tc.used, tc.replaced, max, quota)
		if tc.tooLarge != (err != nil) || (err != nil && !errors.Is(err, ErrPayloadTooLarge)) {
			t.Errorf("%s: err = %v, want tooLarge=%v", tc.desc, err, tc.tooLarge)
			continue
		}
		if err == nil && limit != tc.limit {
			t.Errorf("%s: limit = %d, want %d", tc.desc, limit, tc.limit)
		}
	}
}

func TestValidateObjectPrefix(t *testing.T) {
	cases := map[string]bool{
		"": true, "data/": true, "a": true, "a/b/c.": true, strings.Repeat("p", MaxObjectNameLen): true,
		strings.Repeat("p", MaxObjectNameLen+1): false, "a b": false, "a\x00": false, "é": false, "a*": false,
	}
	for in, ok := range cases {
		if err := ValidateObjectPrefix(in); (err == nil) != ok {
			t.Errorf("ValidateObjectPrefix(%q) = %v, want ok %v", in, err, ok)
		} else if err != nil && !errors.Is(err, ErrInvalidInput) {
			t.Errorf("ValidateObjectPrefix(%q): %v does not wrap ErrInvalidInput", in, err)
		}
	}
}

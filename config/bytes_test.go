package config

import (
	"errors"
	"strings"
	"testing"
)

func TestLoadObjectLimits(t *testing.T) {
	cases := []struct {
		max, quota         string
		wantMax, wantQuota int64
		badKey             string
	}{
		{"", "", 64 << 20, 1 << 30, ""},
		{"1024", "4096", 1024, 4096, ""},
		{"2KiB", "3MiB", 2 << 10, 3 << 20, ""},
		{"64MiB", "1GiB", 64 << 20, 1 << 30, ""},
		{"0", "", 0, 0, "OBJECT_MAX_BYTES"},
		{"-5", "", 0, 0, "OBJECT_MAX_BYTES"},
		{"big", "", 0, 0, "OBJECT_MAX_BYTES"},
		{"5TB", "", 0, 0, "OBJECT_MAX_BYTES"},
		{"", "9999999999GiB", 0, 0, "FUNCTION_OBJECTS_QUOTA"},
	}
	for _, tc := range cases {
		c, err := Load(env(map[string]string{"OBJECT_MAX_BYTES": tc.max, "FUNCTION_OBJECTS_QUOTA": tc.quota}))
		if tc.badKey != "" {
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.badKey) {
				t.Errorf("%q/%q: want ErrInvalid naming %s, got %v", tc.max, tc.quota, tc.badKey, err)
			}
			continue
		}
		if err != nil || c.ObjectMaxBytes != tc.wantMax || c.FunctionObjectsQuota != tc.wantQuota {
			t.Errorf("%q/%q: got %d/%d err %v, want %d/%d", tc.max, tc.quota, c.ObjectMaxBytes, c.FunctionObjectsQuota, err, tc.wantMax, tc.wantQuota)
		}
	}
}

package domain

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateImageRef(t *testing.T) {
	cases := []struct {
		ref string
		ok  bool
	}{
		{"busybox", true},
		{"faas-examples/echo:latest", true},
		{"registry.local:5000/team/echo:1.2.3", true},
		{"localhost/a_b__c.d-e:tag", true},
		{"echo@sha256:" + strings.Repeat("a", 64), true},
		{"echo:v1@sha256:" + strings.Repeat("0", 64), true},
		{"", false},
		{"UPPER/case", false},
		{"echo:", false},
		{"echo:-bad", false},
		{"echo::1", false},
		{"/echo", false},
		{"echo/", false},
		{"echo latest", false},
		{"echo@sha256:short", false},
		{"http://registry/echo", false},
		{"echo:" + strings.Repeat("t", 129), false},
	}
	for _, tc := range cases {
		err := ValidateImageRef(tc.ref)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateImageRef(%q) = %v, want ok=%v", tc.ref, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidInput) {
			t.Errorf("ValidateImageRef(%q): error %v is not ErrInvalidInput", tc.ref, err)
		}
	}
}

func TestValidateFunction(t *testing.T) {
	valid := func() *Function {
		f := &Function{Name: "echo-1", ImageURL: "faas-examples/echo:latest"}
		ApplyFunctionDefaults(f)
		return f
	}
	cases := []struct {
		name   string
		mutate func(*Function)
		errHas string // "" means valid
	}{
		{"defaults", func(*Function) {}, ""},
		{"name max length", func(f *Function) { f.Name = strings.Repeat("a", 63) }, ""},
		{"name too long", func(f *Function) { f.Name = strings.Repeat("a", 64) }, "name"},
		{"name empty", func(f *Function) { f.Name = "" }, "name"},
		{"name upper case", func(f *Function) { f.Name = "Echo" }, "name"},
		{"name underscore", func(f *Function) { f.Name = "a_b" }, "name"},
		{"bad image", func(f *Function) { f.ImageURL = "not an image" }, "image_url"},
		{"timeout 0", func(f *Function) { f.Timeout = 0 }, "timeout"},
		{"timeout 301", func(f *Function) { f.Timeout = 301 }, "timeout"},
		{"timeout 1", func(f *Function) { f.Timeout = 1 }, ""},
		{"memory too small", func(f *Function) { f.MemoryMB = 5 }, "memory_mb"},
		{"memory too large", func(f *Function) { f.MemoryMB = MaxMemoryMB + 1 }, "memory_mb"},
		{"cpus zero", func(f *Function) { f.CPUs = 0 }, "cpus"},
		{"cpus too many", func(f *Function) { f.CPUs = 65 }, "cpus"},
		{"cpus fraction", func(f *Function) { f.CPUs = 0.25 }, ""},
		{"network internal", func(f *Function) { f.Network = NetworkInternal }, ""},
		{"network host", func(f *Function) { f.Network = "host" }, "network"},
		{"env ok", func(f *Function) { f.Env = map[string]string{"GREETING": "hi", "_X1": ""} }, ""},
		{"env key digit first", func(f *Function) { f.Env = map[string]string{"1X": "v"} }, "env key"},
		{"env key with dash", func(f *Function) { f.Env = map[string]string{"A-B": "v"} }, "env key"},
		{"env reserved prefix", func(f *Function) { f.Env = map[string]string{"FAAS_TOKEN": "v"} }, "reserved"},
		{"env reserved prefix lower", func(f *Function) { f.Env = map[string]string{"faas_x": "v"} }, "reserved"},
		{"env value NUL", func(f *Function) { f.Env = map[string]string{"A": "a\x00b"} }, "env value"},
		{"env value too long", func(f *Function) { f.Env = map[string]string{"A": strings.Repeat("v", MaxEnvValueBytes+1)} }, "env value"},
		{"description too long", func(f *Function) { f.Description = strings.Repeat("d", MaxDescriptionBytes+1) }, "description"},
		{"description bad utf8", func(f *Function) { f.Description = "\xff" }, "description"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := valid()
			tc.mutate(f)
			err := ValidateFunction(f)
			if tc.errHas == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("error %v, want invalid input mentioning %q", err, tc.errHas)
			}
		})
	}
}

func TestValidateUserFields(t *testing.T) {
	cases := []struct {
		name string
		err  error
		ok   bool
	}{
		{"username ok", ValidateUsername("alice_01"), true},
		{"username short", ValidateUsername("al"), false},
		{"username space", ValidateUsername("al ice"), false},
		{"username dot", ValidateUsername("al.ice"), false},
		{"password ok", ValidatePassword("12345678"), true},
		{"password short", ValidatePassword("1234567"), false},
		{"password over bcrypt limit", ValidatePassword(strings.Repeat("p", 73)), false},
		{"email ok", ValidateEmail("a@example.com"), true},
		{"email no at", ValidateEmail("example.com"), false},
		{"email no dot", ValidateEmail("a@localhost"), false},
		{"email two ats", ValidateEmail("a@b@example.com"), false},
	}
	for _, tc := range cases {
		if (tc.err == nil) != tc.ok {
			t.Errorf("%s: %v, want ok=%v", tc.name, tc.err, tc.ok)
		}
		if tc.err != nil && !errors.Is(tc.err, ErrInvalidInput) {
			t.Errorf("%s: %v is not ErrInvalidInput", tc.name, tc.err)
		}
	}
}

func TestStatus(t *testing.T) {
	for s, final := range map[Status]bool{
		StatusPending: false, StatusRunning: false,
		StatusComplete: true, StatusFailed: true, StatusCancelled: true, StatusTimeout: true,
	} {
		if s.Final() != final || !s.Valid() {
			t.Errorf("%s: Final %v Valid %v", s, s.Final(), s.Valid())
		}
	}
	if Status("done").Valid() {
		t.Error("unknown status valid")
	}
}

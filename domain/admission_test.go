package domain

import (
	"errors"
	"testing"
)

func TestFunctionLimitsAdmit(t *testing.T) {
	tests := []struct {
		name   string
		limits FunctionLimits
		fn     Function
		ok     bool
	}{
		{"default any image", FunctionLimits{}, Function{ImageURL: "alpine:3.20"}, true},
		{"default refuses platform", FunctionLimits{}, Function{ImageURL: "faas-platform/faas:latest"}, false},
		{"pattern match", FunctionLimits{Images: []string{"faas-examples/*"}}, Function{ImageURL: "faas-examples/echo:1"}, true},
		{"pattern digest", FunctionLimits{Images: []string{"faas-examples/*"}}, Function{ImageURL: "faas-examples/echo@sha256:abc"}, true},
		{"pattern miss", FunctionLimits{Images: []string{"faas-examples/*"}}, Function{ImageURL: "alpine"}, false},
		{"registry port kept", FunctionLimits{Images: []string{"reg:5000/*"}}, Function{ImageURL: "reg:5000/x:1"}, true},
		{"memory at cap", FunctionLimits{MaxMemoryMB: 512}, Function{ImageURL: "a", MemoryMB: 512}, true},
		{"memory over cap", FunctionLimits{MaxMemoryMB: 512}, Function{ImageURL: "a", MemoryMB: 513}, false},
		{"cpus at cap", FunctionLimits{MaxCPUs: 2}, Function{ImageURL: "a", CPUs: 2}, true},
		{"cpus over cap", FunctionLimits{MaxCPUs: 2}, Function{ImageURL: "a", CPUs: 2.5}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.limits.Admit(&tt.fn)
			if (err == nil) != tt.ok {
				t.Fatalf("Admit = %v, want ok %v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidInput) {
				t.Errorf("Admit = %v, want ErrInvalidInput", err)
			}
		})
	}
}

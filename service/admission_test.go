package service_test

import (
	"errors"
	"testing"

	"github.com/faasplatform/faas/domain"
	"github.com/faasplatform/faas/platform/platformtest"
	"github.com/faasplatform/faas/service"
)

// TestFunctionLimits: the operator's caps refuse a create or an update
// with invalid_input, and a refused update leaves the function as it was.
func TestFunctionLimits(t *testing.T) {
	st := platformtest.NewStack(t)
	fns := service.NewFunctions(st.Functions)
	fns.Limits = domain.FunctionLimits{Images: []string{"faas-examples/*"}, MaxMemoryMB: 1024, MaxCPUs: 1}
	ctx := testCtx(t)
	str := func(s string) *string { return &s }
	num := func(n int) *int { return &n }

	tests := []struct {
		name string
		p    service.FunctionPatch
		ok   bool
	}{
		{"allowed", service.FunctionPatch{Name: str("a"), ImageURL: str("faas-examples/echo:1")}, true},
		{"image not allowed", service.FunctionPatch{Name: str("b"), ImageURL: str("busybox")}, false},
		{"platform image", service.FunctionPatch{Name: str("c"), ImageURL: str("faas-platform/faas:latest")}, false},
		{"memory over", service.FunctionPatch{Name: str("d"), ImageURL: str("faas-examples/x"), MemoryMB: num(2048)}, false},
	}
	for _, tt := range tests {
		_, err := fns.Create(ctx, "owner1", tt.p)
		if tt.ok != (err == nil) || (err != nil && !errors.Is(err, domain.ErrInvalidInput)) {
			t.Errorf("%s: Create = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
	f, err := fns.Create(ctx, "owner1", service.FunctionPatch{Name: str("u"), ImageURL: str("faas-examples/u")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fns.Update(ctx, "owner1", f.ID, service.FunctionPatch{ImageURL: str("alpine")}); !errors.Is(err, domain.ErrInvalidInput) {
		t.Errorf("update to a refused image: %v, want ErrInvalidInput", err)
	}
	got, err := fns.Get(ctx, "owner1", f.ID)
	if err != nil || got.ImageURL != "faas-examples/u" {
		t.Errorf("after a refused update: %v %v", got, err)
	}
}

func TestFunctionsPerUserCap(t *testing.T) {
	st := platformtest.NewStack(t)
	fns := service.NewFunctions(st.Functions)
	fns.MaxPerUser = 2
	ctx := testCtx(t)
	img := "busybox"
	for i, name := range []string{"a", "b", "c"} {
		n := name
		_, err := fns.Create(ctx, "owner1", service.FunctionPatch{Name: &n, ImageURL: &img})
		if want := i < 2; want != (err == nil) || (err != nil && !errors.Is(err, domain.ErrConflict)) {
			t.Errorf("create %s: %v", name, err)
		}
	}
	n := "a"
	if _, err := fns.Create(ctx, "owner2", service.FunctionPatch{Name: &n, ImageURL: &img}); err != nil {
		t.Errorf("another owner's cap: %v", err)
	}
}

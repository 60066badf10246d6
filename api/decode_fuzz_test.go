package api

import (
	"errors"
	"testing"

	"github.com/faasplatform/faas/domain"
)

// FuzzDecodeBytes: any body decodes into every request type or fails with
// invalid_input (never a panic, never another kind of error).
func FuzzDecodeBytes(f *testing.F) {
	for _, s := range []string{
		`{"username":"alice","password":"secret-pw","email":"a@example.com"}`,
		`{"name":"f","image_url":"faas-examples/echo:latest","env":{"A":"1"},"timeout":30,"cpus":0.5}`,
		`{"function_id":"x","input":{"a":[1,2,3]}}`,
		`{"input":"\u0000"}`, `[]`, `{} {}`, `{"name":1e400}`, `{"env":{"A":null}}`, "\xff", ``, `{"a":`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, dst := range []any{&registerRequest{}, &loginRequest{}, &updateMeRequest{}, &functionRequest{},
			&functionUpdateRequest{}, &executionRequest{}} {
			if err := decodeBytes(body, dst); err != nil && !errors.Is(err, domain.ErrInvalidInput) {
				t.Fatalf("decode %q into %T: %v is not invalid_input", body, dst, err)
			}
		}
	})
}

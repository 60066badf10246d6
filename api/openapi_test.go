package api

import (
	"context"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"go.uber.org/zap"

	"github.com/faasplatform/faas/service"
)

// TestOpenAPIDocument: the document loads and validates with kin-openapi,
// and it describes exactly the routes the handler serves (method and path),
// besides the objects and metrics routes that come as Extra.
func TestOpenAPIDocument(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPIYAML)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("validate: %v", err)
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	// The services are never called: only the routing table is read.
	h := New(Deps{Users: &service.Users{}, Functions: &service.Functions{}, Executions: &service.Executions{}}, zap.NewNop()).(*handler)
	for _, rt := range h.router.routes {
		key := rt.method + " " + strings.ReplaceAll(rt.pattern, "...}", "}")
		if !documented[key] {
			t.Errorf("the handler serves %s, which the document lacks", key)
		}
		delete(documented, key)
	}
	for key := range documented {
		if !strings.Contains(key, "/api/function-objects/") && key != "GET /api/v1/metrics" {
			t.Errorf("the document has %s, which the handler does not serve", key)
		}
	}
	if _, err := OpenAPIJSON(); err != nil {
		t.Fatal(err)
	}
}

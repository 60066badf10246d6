package api

import (
	_ "embed"
	"fmt"
	"net/http"
	"sync"

	"sigs.k8s.io/yaml"
)

// OpenAPIYAML is the API's OpenAPI 3.1 document (api/openapi.yaml): every
// route, body, error and header of contract §3. Tests hold the handler to
// it (apitest validates every end-to-end request and answer against it).
//
//go:embed openapi.yaml
var OpenAPIYAML []byte

// OpenAPIPattern serves the document as JSON (no auth).
const OpenAPIPattern = "/api/v1/openapi.json"

var openAPIJSON = sync.OnceValues(func() ([]byte, error) {
	data, err := yaml.YAMLToJSON(OpenAPIYAML)
	if err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	return data, nil
})

// OpenAPIJSON is the document as JSON.
func OpenAPIJSON() ([]byte, error) { return openAPIJSON() }

// openAPI: GET /api/v1/openapi.json → 200 the document.
func (h *handler) openAPI(w http.ResponseWriter, _ *http.Request) error {
	data, err := OpenAPIJSON()
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
	return nil
}

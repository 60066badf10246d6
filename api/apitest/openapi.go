package apitest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/faasplatform/faas/api"
)

// contractRouter finds the operation of a request in api/openapi.yaml.
var contractRouter = sync.OnceValues(func() (routers.Router, error) {
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPIYAML)
	if err != nil {
		return nil, fmt.Errorf("load openapi.yaml: %w", err)
	}
	doc.Servers = nil // match on the path alone, whatever host the test serves on
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	r, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi.yaml router: %w", err)
	}
	return r, nil
})

// isJSON reports whether a Content-Type is JSON.
func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}

// CheckContract holds one exchange to api/openapi.yaml: a request the
// document describes must get an answer the document allows; a request
// the document refuses (a hostile case: a bad body, parameter or header)
// must get a 4xx answer that is still a documented error. Requests on
// routes the document does not have (unknown paths, wrong methods, object
// names with '/', which a path parameter cannot stand for) are not checked
// here: the suites check their answers themselves. reqBody is nil when the
// request body was a stream the test did not keep.
func CheckContract(t testing.TB, req *http.Request, reqBody []byte, status int, header http.Header, body []byte) {
	t.Helper()
	router, err := contractRouter()
	if err != nil {
		t.Fatalf("contract: %v", err)
	}
	route, params, err := router.FindRoute(req)
	if err != nil {
		return
	}
	in := &openapi3filter.RequestValidationInput{
		Request: req.Clone(context.Background()), PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
	}
	// The validator reads the body it is given (even to check security);
	// never the request's own, which the transport may still be sending.
	in.Request.Body = http.NoBody
	if reqBody == nil || !isJSON(req.Header.Get("Content-Type")) {
		in.Options.ExcludeRequestBody = true
	} else {
		in.Request.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	reqErr := openapi3filter.ValidateRequest(context.Background(), in)
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: status, Header: header, Body: io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true,
			ExcludeResponseBody: req.Method == http.MethodHead || !isJSON(header.Get("Content-Type"))},
	}
	respErr := openapi3filter.ValidateResponse(context.Background(), out)
	switch {
	case reqErr == nil && respErr != nil:
		t.Errorf("contract: %s %s answered %d, which api/openapi.yaml does not allow: %v\nbody: %s",
			req.Method, req.URL.Path, status, respErr, truncate(body))
	case reqErr != nil && (status < 400 || status > 499):
		t.Errorf("contract: %s %s breaks api/openapi.yaml (%v) yet answered %d, not a 4xx",
			req.Method, req.URL.Path, reqErr, status)
	case reqErr != nil && respErr != nil:
		t.Errorf("contract: %s %s answered %d, not a documented error: %v", req.Method, req.URL.Path, status, respErr)
	}
}

// CheckedHandler serves h and holds every exchange to api/openapi.yaml
// (CheckContract), for tests whose client is not Do (the CLI binary, say).
// It buffers the request and the answer: for tests only.
func CheckedHandler(t testing.TB, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		CheckContract(t, r, body, rec.Code, rec.Header(), rec.Body.Bytes())
		for k, vs := range rec.Header() {
			w.Header()[k] = vs
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

package api

import (
	"encoding/json"
	"net/http"

	"github.com/faasplatform/faas/service"
	"github.com/faasplatform/faas/wire"
)

// functionRequest is the body of POST /api/v1/functions (wire's). Absent
// (or null) fields take the defaults; present ones are validated as given.
type functionRequest = wire.FunctionRequest

// patchOf is the service's change for a request.
func patchOf(f functionRequest) service.FunctionPatch {
	return service.FunctionPatch{
		Name: f.Name, ImageURL: f.ImageURL, Description: f.Description, Timeout: f.Timeout,
		MemoryMB: f.MemoryMB, CPUs: f.CPUs, Env: f.Env, Network: f.Network, MaxRetries: f.MaxRetries,
		Warm: f.Warm,
	}
}

// functionUpdateRequest is the body of PUT /api/v1/functions/{id}: the
// fields present replace the stored ones, absent ones keep their value
// (service.FunctionPatch). The read-only fields of a function are accepted
// and ignored, so that a client may send back what GET returned.
type functionUpdateRequest struct {
	functionRequest
	ID        json.RawMessage `json:"id"`
	Owner     json.RawMessage `json:"owner"`
	CreatedAt json.RawMessage `json:"created_at"`
	UpdatedAt json.RawMessage `json:"updated_at"`
}

// functionList is the body of GET /api/v1/functions.
type functionList = wire.FunctionList

// createFunction: POST /api/v1/functions → 201 function.
func (h *handler) createFunction(w http.ResponseWriter, r *http.Request) error {
	var req functionRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	f, err := h.deps.Functions.Create(r.Context(), user(r).ID, patchOf(req))
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusCreated, f)
	return nil
}

// listFunctions: GET /api/v1/functions → 200 {functions}, the caller's only.
func (h *handler) listFunctions(w http.ResponseWriter, r *http.Request) error {
	fs, err := h.deps.Functions.List(r.Context(), user(r).ID)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, functionList{Functions: fs})
	return nil
}

// getFunction: GET /api/v1/functions/{id} → 200 function.
func (h *handler) getFunction(w http.ResponseWriter, r *http.Request) error {
	f, err := h.deps.Functions.Get(r.Context(), user(r).ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, f)
	return nil
}

// updateFunction: PUT /api/v1/functions/{id} → 200 function.
func (h *handler) updateFunction(w http.ResponseWriter, r *http.Request) error {
	var req functionUpdateRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	f, err := h.deps.Functions.Update(r.Context(), user(r).ID, r.PathValue("id"), patchOf(req.functionRequest))
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, f)
	return nil
}

// deleteFunction: DELETE /api/v1/functions/{id} → 204.
func (h *handler) deleteFunction(w http.ResponseWriter, r *http.Request) error {
	if err := h.deps.Functions.Delete(r.Context(), user(r).ID, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

package api

import (
	"encoding/json"
	"net/http"

	"github.com/faasplatform/faas/domain"
	"github.com/faasplatform/faas/service"
)

// functionRequest is the body of POST /api/v1/functions. Absent (or null)
// fields take the defaults; present ones are validated as given.
type functionRequest struct {
	Name        *string           `json:"name"`
	ImageURL    *string           `json:"image_url"`
	Description *string           `json:"description"`
	Timeout     *int              `json:"timeout"`
	MemoryMB    *int              `json:"memory_mb"`
	CPUs        *float64          `json:"cpus"`
	Env         map[string]string `json:"env"`
	Network     *string           `json:"network"`
	MaxRetries  *int              `json:"max_retries"`
	Warm        *bool             `json:"warm"`
}

func (f functionRequest) patch() service.FunctionPatch {
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
type functionList struct {
	Functions []*domain.Function `json:"functions"`
}

// createFunction: POST /api/v1/functions → 201 function.
func (h *handler) createFunction(w http.ResponseWriter, r *http.Request) error {
	var req functionRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	f, err := h.deps.Functions.Create(r.Context(), user(r).ID, req.patch())
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
	f, err := h.deps.Functions.Update(r.Context(), user(r).ID, r.PathValue("id"), req.patch())
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

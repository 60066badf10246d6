package api

import (
	"errors"
	"net/http"

	"github.com/faasplatform/faas/domain"
	"github.com/faasplatform/faas/service"
	"github.com/faasplatform/faas/wire"
)

type registerRequest = wire.RegisterRequest

// register: POST /api/v1/users/register → 201 user.
func (h *handler) register(w http.ResponseWriter, r *http.Request) error {
	var req registerRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	u, err := h.deps.Users.Register(r.Context(), req.Username, req.Password, req.Email)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusCreated, u)
	return nil
}

type loginRequest = wire.LoginRequest

// login: POST /api/v1/users/login → 200 {token, expires_at, user}.
func (h *handler) login(w http.ResponseWriter, r *http.Request) error {
	var req loginRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Username == "" || req.Password == "" {
		return domain.Invalid("username and password are required")
	}
	// A registered name always passes: anything else is refused before it
	// reaches the store as a key.
	if err := domain.ValidateUsername(req.Username); err != nil {
		return err
	}
	if err := h.checkLogin(w, r, req.Username); err != nil {
		return err
	}
	l, err := h.deps.Users.Login(r.Context(), req.Username, req.Password)
	if errors.Is(err, domain.ErrUnauthorized) {
		h.failedLogin(r, req.Username)
	}
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, l)
	return nil
}

// getMe: GET /api/v1/users/me → 200 user.
func (h *handler) getMe(w http.ResponseWriter, r *http.Request) error {
	WriteJSON(w, http.StatusOK, user(r))
	return nil
}

type updateMeRequest = wire.UpdateMeRequest

// updateMe: PUT /api/v1/users/me {email?, password?} → 200 user.
func (h *handler) updateMe(w http.ResponseWriter, r *http.Request) error {
	var req updateMeRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	u, err := h.deps.Users.Update(r.Context(), user(r).ID, service.UserUpdate{Email: req.Email, Password: req.Password})
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, u)
	return nil
}

// logout: POST /api/v1/users/logout → 204; every token of the user issued
// so far (this one included, on every device) stops working.
func (h *handler) logout(w http.ResponseWriter, r *http.Request) error {
	if err := h.deps.Users.Logout(r.Context(), user(r).ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// deleteMe: DELETE /api/v1/users/me → 204; the account's functions,
// executions (and objects) go with it and its tokens stop working.
func (h *handler) deleteMe(w http.ResponseWriter, r *http.Request) error {
	if err := h.deps.Users.Delete(r.Context(), user(r).ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

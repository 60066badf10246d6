package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/faasplatform/faas/wire"
)

// Register creates an account.
func (c *Client) Register(ctx context.Context, req wire.RegisterRequest) (*wire.User, error) {
	var u wire.User
	_, err := c.call(ctx, request{method: http.MethodPost, path: v1 + "/users/register", json: req}, &u, http.StatusCreated)
	return &u, err
}

// Login exchanges a username and password for a token; the client then
// uses it.
func (c *Client) Login(ctx context.Context, username, password string) (*wire.Login, error) {
	var l wire.Login
	_, err := c.call(ctx, request{method: http.MethodPost, path: v1 + "/users/login",
		json: wire.LoginRequest{Username: username, Password: password}}, &l, http.StatusOK)
	if err != nil {
		return nil, err
	}
	c.token = l.Token
	return &l, nil
}

// Logout revokes every token of the user issued so far.
func (c *Client) Logout(ctx context.Context) error {
	_, err := c.call(ctx, request{method: http.MethodPost, path: v1 + "/users/logout"}, nil, http.StatusNoContent)
	return err
}

// Me is the authenticated user.
func (c *Client) Me(ctx context.Context) (*wire.User, error) {
	var u wire.User
	_, err := c.call(ctx, request{method: http.MethodGet, path: v1 + "/users/me"}, &u, http.StatusOK)
	return &u, err
}

// UpdateMe changes the email or password.
func (c *Client) UpdateMe(ctx context.Context, req wire.UpdateMeRequest) (*wire.User, error) {
	var u wire.User
	_, err := c.call(ctx, request{method: http.MethodPut, path: v1 + "/users/me", json: req}, &u, http.StatusOK)
	return &u, err
}

// DeleteMe deletes the account and everything of it.
func (c *Client) DeleteMe(ctx context.Context) error {
	_, err := c.call(ctx, request{method: http.MethodDelete, path: v1 + "/users/me"}, nil, http.StatusNoContent)
	return err
}

// CreateFunction creates a function.
func (c *Client) CreateFunction(ctx context.Context, req wire.FunctionRequest) (*wire.Function, error) {
	var f wire.Function
	_, err := c.call(ctx, request{method: http.MethodPost, path: v1 + "/functions", json: req}, &f, http.StatusCreated)
	return &f, err
}

// ListFunctions lists the user's functions by name.
func (c *Client) ListFunctions(ctx context.Context) ([]*wire.Function, error) {
	var l wire.FunctionList
	_, err := c.call(ctx, request{method: http.MethodGet, path: v1 + "/functions"}, &l, http.StatusOK)
	return l.Functions, err
}

// GetFunction reads one function by id.
func (c *Client) GetFunction(ctx context.Context, id string) (*wire.Function, error) {
	var f wire.Function
	_, err := c.call(ctx, request{method: http.MethodGet, path: pathID(v1+"/functions", id)}, &f, http.StatusOK)
	return &f, err
}

// UpdateFunction changes the fields set in req.
func (c *Client) UpdateFunction(ctx context.Context, id string, req wire.FunctionRequest) (*wire.Function, error) {
	var f wire.Function
	_, err := c.call(ctx, request{method: http.MethodPut, path: pathID(v1+"/functions", id), json: req}, &f, http.StatusOK)
	return &f, err
}

// DeleteFunction deletes a function with its executions and objects.
func (c *Client) DeleteFunction(ctx context.Context, id string) error {
	_, err := c.call(ctx, request{method: http.MethodDelete, path: pathID(v1+"/functions", id)}, nil, http.StatusNoContent)
	return err
}

// InvokeOptions tune Invoke.
type InvokeOptions struct {
	// Wait asks for the ended execution (?wait=true); the server may still
	// answer the pending one after 50 s.
	Wait bool
	// IdempotencyKey, when set, makes a repeated call return the first
	// execution instead of running the function again.
	IdempotencyKey string
}

// Invocation is what Invoke got: the execution and whether the server
// replayed an earlier one for the idempotency key.
type Invocation struct {
	Execution *wire.Execution
	Replayed  bool
}

// Invoke runs function id with input (any JSON value; nil: none).
func (c *Client) Invoke(ctx context.Context, id string, input json.RawMessage, o InvokeOptions) (*Invocation, error) {
	r := request{method: http.MethodPost, path: v1 + "/executions", json: wire.ExecutionRequest{FunctionID: id, Input: input}}
	if o.Wait {
		r.query = url.Values{"wait": {"true"}}
	}
	if o.IdempotencyKey != "" {
		r.header = http.Header{wire.IdempotencyKeyHeader: {o.IdempotencyKey}}
	}
	var e wire.Execution
	resp, err := c.call(ctx, r, &e, http.StatusOK, http.StatusAccepted)
	if err != nil {
		return nil, err
	}
	return &Invocation{Execution: &e, Replayed: resp.Header.Get(wire.IdempotentReplayedHeader) == "true"}, nil
}

// ExecutionFilter selects executions to list; zero fields select all.
type ExecutionFilter struct {
	FunctionID, Status, Cursor string
	Limit                      int
}

// ListExecutions lists one page of executions, newest first.
func (c *Client) ListExecutions(ctx context.Context, f ExecutionFilter) (*wire.ExecutionList, error) {
	q := url.Values{}
	for k, v := range map[string]string{"function_id": f.FunctionID, "status": f.Status, "cursor": f.Cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var l wire.ExecutionList
	_, err := c.call(ctx, request{method: http.MethodGet, path: v1 + "/executions", query: q}, &l, http.StatusOK)
	return &l, err
}

// GetExecution reads one execution with its input and output.
func (c *Client) GetExecution(ctx context.Context, id string) (*wire.Execution, error) {
	var e wire.Execution
	_, err := c.call(ctx, request{method: http.MethodGet, path: pathID(v1+"/executions", id)}, &e, http.StatusOK)
	return &e, err
}

// CancelExecution cancels a pending or running execution.
func (c *Client) CancelExecution(ctx context.Context, id string) (*wire.Execution, error) {
	var e wire.Execution
	_, err := c.call(ctx, request{method: http.MethodDelete, path: pathID(v1+"/executions", id)}, &e, http.StatusOK)
	return &e, err
}

// Logs reads an execution's standard error.
func (c *Client) Logs(ctx context.Context, id string) (*wire.ExecutionLogs, error) {
	var l wire.ExecutionLogs
	_, err := c.call(ctx, request{method: http.MethodGet, path: pathID(v1+"/executions", id) + "/logs"}, &l, http.StatusOK)
	return &l, err
}

// ListDeadLetters lists the user's dead letters, newest first.
func (c *Client) ListDeadLetters(ctx context.Context) ([]wire.DeadLetter, error) {
	var l wire.DeadLetterList
	_, err := c.call(ctx, request{method: http.MethodGet, path: v1 + "/deadletters"}, &l, http.StatusOK)
	return l.DeadLetters, err
}

// Redrive runs a dead letter's function again with its input.
func (c *Client) Redrive(ctx context.Context, executionID string) (*wire.Execution, error) {
	var e wire.Execution
	_, err := c.call(ctx, request{method: http.MethodPost, path: pathID(v1+"/deadletters", executionID) + "/redrive"}, &e, http.StatusAccepted)
	return &e, err
}

// DiscardDeadLetter removes a dead letter from the list.
func (c *Client) DiscardDeadLetter(ctx context.Context, executionID string) error {
	_, err := c.call(ctx, request{method: http.MethodDelete, path: pathID(v1+"/deadletters", executionID)}, nil, http.StatusNoContent)
	return err
}

// Workers reads the workers' status and the backlog.
func (c *Client) Workers(ctx context.Context) (*wire.Workers, error) {
	var w wire.Workers
	_, err := c.call(ctx, request{method: http.MethodGet, path: v1 + "/workers/status"}, &w, http.StatusOK)
	return &w, err
}

// Health reads the platform's health; a 503 is an *Error (ErrUnavailable).
func (c *Client) Health(ctx context.Context) (*wire.Health, error) {
	var h wire.Health
	_, err := c.call(ctx, request{method: http.MethodGet, path: v1 + "/health"}, &h, http.StatusOK)
	return &h, err
}

// OpenAPI reads the API's OpenAPI 3.1 document (JSON).
func (c *Client) OpenAPI(ctx context.Context) (json.RawMessage, error) {
	var doc json.RawMessage
	_, err := c.call(ctx, request{method: http.MethodGet, path: v1 + "/openapi.json"}, &doc, http.StatusOK)
	return doc, err
}

// Metrics reads the Prometheus text exposition of GET /api/v1/metrics, at
// most 16 MiB of it.
func (c *Client) Metrics(ctx context.Context) (string, error) {
	resp, err := c.do(ctx, request{method: http.MethodGet, path: v1 + "/metrics"}, http.StatusOK)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return "", fmt.Errorf("GET %s/metrics: %w", v1, err)
	}
	return string(data), nil
}

// Package wire holds the JSON bodies of the HTTP API (contract §3): the
// requests, the responses and the error envelope, exported so that the
// handler, the APISIX plugin, the Go client and the tests share one copy.
// The resources themselves (users, functions, executions, dead letters,
// objects) are the domain's types, which carry their JSON names.
package wire

import (
	"encoding/json"
	"time"

	"github.com/faasplatform/faas/domain"
)

// Resources as they travel.
type (
	User       = domain.User
	Function   = domain.Function
	Execution  = domain.Execution
	DeadLetter = domain.DeadLetter
	Object     = domain.Object
)

// Error codes of contract §3: every error answer carries one of these.
const (
	CodeInvalidInput      = "invalid_input"
	CodeUnauthorized      = "unauthorized"
	CodeForbidden         = "forbidden"
	CodeFunctionNotFound  = "function_not_found"
	CodeExecutionNotFound = "execution_not_found"
	CodeUserNotFound      = "user_not_found"
	CodeObjectNotFound    = "object_not_found"
	CodeConflict          = "conflict"
	CodePayloadTooLarge   = "payload_too_large"
	CodeRateLimited       = "rate_limited"
	CodeExecutionTimeout  = "execution_timeout"
	CodeInternalError     = "internal_error"
	CodeUnavailable       = "unavailable"
)

// ErrorBody is the error envelope: {"error": {"code": "...", "message": "..."}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of ErrorBody.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// RegisterRequest is the body of POST /api/v1/users/register.
type RegisterRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Email    string `json:"email"`
}

// LoginRequest is the body of POST /api/v1/users/login.
type LoginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// Login is the answer of POST /api/v1/users/login.
type Login struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	User      *User     `json:"user"`
}

// UpdateMeRequest is the body of PUT /api/v1/users/me; nil fields stay.
type UpdateMeRequest struct {
	Email    *string `json:"email,omitempty"`
	Password *string `json:"password,omitempty"`
}

// FunctionRequest is the body of POST /api/v1/functions and PUT
// /api/v1/functions/{id}. Absent (nil) fields take the defaults on create
// and keep their value on update.
type FunctionRequest struct {
	Name        *string           `json:"name,omitempty"`
	ImageURL    *string           `json:"image_url,omitempty"`
	Description *string           `json:"description,omitempty"`
	Timeout     *int              `json:"timeout,omitempty"`
	MemoryMB    *int              `json:"memory_mb,omitempty"`
	CPUs        *float64          `json:"cpus,omitempty"`
	Env         map[string]string `json:"env,omitempty"`
	Network     *string           `json:"network,omitempty"`
	MaxRetries  *int              `json:"max_retries,omitempty"`
	Warm        *bool             `json:"warm,omitempty"`
}

// FunctionList is the answer of GET /api/v1/functions.
type FunctionList struct {
	Functions []*Function `json:"functions"`
}

// ExecutionRequest is the body of POST /api/v1/executions. Input is any
// JSON value; a JSON string reaches the function as its text.
type ExecutionRequest struct {
	FunctionID string          `json:"function_id"`
	Input      json.RawMessage `json:"input,omitempty"`
}

// ExecutionSummary is an execution as listed: without input and output
// (the shadowing fields stay nil, hence absent).
type ExecutionSummary struct {
	*Execution
	Input  *struct{} `json:"input,omitempty"`
	Output *struct{} `json:"output,omitempty"`
}

// ExecutionList is the answer of GET /api/v1/executions: one page and,
// when older executions remain, the cursor of the next.
type ExecutionList struct {
	Executions []ExecutionSummary `json:"executions"`
	Next       string             `json:"next,omitempty"`
}

// ExecutionLogs is the answer of GET /api/v1/executions/{id}/logs.
type ExecutionLogs struct {
	ExecutionID string `json:"execution_id"`
	Logs        string `json:"logs"`
	Truncated   bool   `json:"truncated"`
}

// DeadLetterList is the answer of GET /api/v1/deadletters.
type DeadLetterList struct {
	DeadLetters []DeadLetter `json:"dead_letters"`
}

// ObjectList is the answer of GET /api/function-objects/{function_id}.
type ObjectList struct {
	Objects []Object `json:"objects"`
}

// Health is the answer of GET /api/v1/health; a failing one also carries
// the error envelope's detail.
type Health struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
	Error  *ErrorDetail      `json:"error,omitempty"`
}

// WorkerStatus is one row of GET /api/v1/workers/status.
type WorkerStatus struct {
	ID               string    `json:"id"`
	Status           string    `json:"status"`
	ActiveExecutions int       `json:"active_executions"`
	MaxConcurrent    int       `json:"max_concurrent"`
	LastHeartbeat    time.Time `json:"last_heartbeat"`
}

// AutoscalerStatus is the acting autoscaler's desired count and last change.
type AutoscalerStatus struct {
	Desired   int        `json:"desired"`
	LastScale *LastScale `json:"last_scale"`
}

// LastScale is the autoscaler's last change of the pool.
type LastScale struct {
	At     time.Time `json:"at"`
	From   int       `json:"from"`
	To     int       `json:"to"`
	Reason string    `json:"reason"`
}

// Workers is the answer of GET /api/v1/workers/status.
type Workers struct {
	Workers    []WorkerStatus    `json:"workers"`
	Pending    int               `json:"pending"`
	Autoscaler *AutoscalerStatus `json:"autoscaler,omitempty"`
}

// Headers of the API.
const (
	IdempotencyKeyHeader     = "Idempotency-Key"
	IdempotentReplayedHeader = "Idempotent-Replayed"
)

package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/faasplatform/faas/domain"
	"github.com/faasplatform/faas/wire"
)

// Idempotency headers of POST /api/v1/executions (contract §3).
const (
	IdempotencyKeyHeader     = wire.IdempotencyKeyHeader
	IdempotentReplayedHeader = wire.IdempotentReplayedHeader
)

// executionRequest is the body of POST /api/v1/executions.
type executionRequest = wire.ExecutionRequest

// inputBytes is what the function reads on standard input: a JSON string
// is passed as its text (so "hello" arrives as hello), any other JSON value
// as its JSON text exactly as sent, absent or null as nothing.
func inputBytes(raw json.RawMessage) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, domain.Invalid("field \"input\" is not a valid JSON string")
		}
		return []byte(s), nil
	}
	return raw, nil
}

// executionSummary is an execution as listed: the record without input and
// output (the shadowing fields are always nil, hence omitted; logs have no
// JSON name at all). Embedding keeps every other field, present and future.
type executionSummary = wire.ExecutionSummary

// executionList is the body of GET /api/v1/executions: one page, and the
// cursor of the next one when older executions remain.
type executionList = wire.ExecutionList

// executionLogs is the body of GET /api/v1/executions/{id}/logs.
type executionLogs = wire.ExecutionLogs

// createExecution: POST /api/v1/executions[?wait=true] → 202 pending
// execution; with wait, 200 once it has ended, or 202 with its current
// state after Deps.WaitTimeout.
func (h *handler) createExecution(w http.ResponseWriter, r *http.Request) error {
	wait := false
	if v := r.URL.Query().Get("wait"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return domain.Invalid("wait must be true or false")
		}
		wait = b
	}
	var req executionRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.FunctionID != "" {
		if err := domain.ValidateID("function_id", req.FunctionID); err != nil {
			return err
		}
	}
	input, err := inputBytes(req.Input)
	if err != nil {
		return err
	}
	owner := user(r).ID
	// The wait slot is taken before the execution exists, so whoever sees
	// the execution knows its request holds a slot. Past the cap the
	// request does not wait: 202 at once, as after WaitTimeout.
	if wait {
		if wait = h.waits.acquire(owner); wait {
			defer h.waits.release(owner)
		}
	}
	key, hasKey := r.Header[http.CanonicalHeaderKey(IdempotencyKeyHeader)]
	if hasKey && (len(key) != 1 || key[0] == "") {
		return domain.Invalid("Idempotency-Key must be given once, 1 to %d printable characters", domain.MaxIdempotencyKeyBytes)
	}
	k := ""
	if hasKey {
		k = key[0]
	}
	e, replayed, err := h.deps.Executions.EnqueueOnce(r.Context(), owner, req.FunctionID, input, k, "")
	if err != nil {
		return err
	}
	if replayed {
		w.Header().Set(IdempotentReplayedHeader, "true")
	}
	if !wait {
		WriteJSON(w, http.StatusAccepted, e)
		return nil
	}
	cur, ended, err := h.deps.Executions.Wait(r.Context(), owner, e.ID, h.deps.WaitTimeout)
	if err != nil {
		return err
	}
	status := http.StatusAccepted
	if ended {
		status = http.StatusOK
	}
	WriteJSON(w, status, cur)
	return nil
}

// listExecutions: GET /api/v1/executions[?function_id=&status=&limit=&cursor=]
// → 200 {executions, next}, newest first; next (absent on the last page) is
// the cursor of the following page, to pass with the same filters.
func (h *handler) listExecutions(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := domain.ExecutionFilter{FunctionID: q.Get("function_id"), Status: domain.Status(q.Get("status")), Cursor: q.Get("cursor")}
	if f.FunctionID != "" {
		if err := domain.ValidateID("function_id", f.FunctionID); err != nil {
			return err
		}
	}
	if len(f.Cursor) > domain.MaxIDBytes {
		return domain.Invalid("cursor must be one returned as next by an earlier page")
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > domain.MaxListLimit {
			return domain.Invalid("limit must be an integer from 1 to %d", domain.MaxListLimit)
		}
		f.Limit = n
	}
	page, err := h.deps.Executions.List(r.Context(), user(r).ID, f)
	if err != nil {
		return err
	}
	out := executionList{Executions: make([]executionSummary, len(page.Executions)), Next: page.Next}
	for i, e := range page.Executions {
		out.Executions[i] = executionSummary{Execution: e}
	}
	WriteJSON(w, http.StatusOK, out)
	return nil
}

// getExecution: GET /api/v1/executions/{id} → 200 execution.
func (h *handler) getExecution(w http.ResponseWriter, r *http.Request) error {
	e, err := h.deps.Executions.Get(r.Context(), user(r).ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, e)
	return nil
}

// cancelExecution: DELETE /api/v1/executions/{id} → 200 cancelled
// execution; an ended one → 409.
func (h *handler) cancelExecution(w http.ResponseWriter, r *http.Request) error {
	e, err := h.deps.Executions.Cancel(r.Context(), user(r).ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, e)
	return nil
}

// executionLogs: GET /api/v1/executions/{id}/logs → 200 {execution_id,
// logs, truncated}.
func (h *handler) executionLogs(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	logs, truncated, err := h.deps.Executions.Logs(r.Context(), user(r).ID, id)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, executionLogs{ExecutionID: id, Logs: logs, Truncated: truncated})
	return nil
}

// deadLetterList is the body of GET /api/v1/deadletters.
type deadLetterList = wire.DeadLetterList

// listDeadLetters: GET /api/v1/deadletters → 200 {dead_letters}, newest
// first.
func (h *handler) listDeadLetters(w http.ResponseWriter, r *http.Request) error {
	dls, err := h.deps.Executions.ListDeadLetters(r.Context(), user(r).ID)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, deadLetterList{DeadLetters: dls})
	return nil
}

// redriveDeadLetter: POST /api/v1/deadletters/{id}/redrive → 202 the new
// pending execution (redrive_of = id).
func (h *handler) redriveDeadLetter(w http.ResponseWriter, r *http.Request) error {
	e, err := h.deps.Executions.Redrive(r.Context(), user(r).ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusAccepted, e)
	return nil
}

// discardDeadLetter: DELETE /api/v1/deadletters/{id} → 204.
func (h *handler) discardDeadLetter(w http.ResponseWriter, r *http.Request) error {
	if err := h.deps.Executions.DiscardDeadLetter(r.Context(), user(r).ID, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

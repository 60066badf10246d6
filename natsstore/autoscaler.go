package natsstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Autoscaler keys and subjects.
const (
	// LockAutoscaler is the lock (locks bucket) of the acting autoscaler:
	// of several running, one acts, the others wait as hot standbys.
	LockAutoscaler = "autoscaler"
	// keyAutoscalerState is where the acting autoscaler publishes its
	// state, in the locks bucket: it expires LockTTL after the autoscaler
	// stops, so the API shows an autoscaler only while one runs.
	keyAutoscalerState = "autoscaler-state"
	// drainSubjectPrefix starts the subject on which a worker answers
	// drain requests (DrainSubject).
	drainSubjectPrefix = "faas.workers."
)

// DrainSubject is the NATS subject on which worker id answers a request to
// drain (a DrainRequest, answered with a DrainReply).
func DrainSubject(id string) string { return drainSubjectPrefix + id + ".drain" }

// DrainRequest asks a worker to stop taking jobs, finish what it holds and
// exit. With IfIdle the worker refuses while it handles a job.
type DrainRequest struct {
	IfIdle bool `json:"if_idle"`
}

// DrainReply is a worker's answer to a DrainRequest.
type DrainReply struct {
	Accepted bool   `json:"accepted"`
	Status   string `json:"status"`
	Active   int    `json:"active_executions"`
}

// ScaleEvent is one change of the worker pool by the autoscaler.
type ScaleEvent struct {
	At     time.Time `json:"at"`
	From   int       `json:"from"`
	To     int       `json:"to"`
	Reason string    `json:"reason"`
}

// AutoscalerState is what the acting autoscaler publishes.
type AutoscalerState struct {
	Holder    string      `json:"holder"`
	Backend   string      `json:"backend"`
	Desired   int         `json:"desired"`
	LastScale *ScaleEvent `json:"last_scale,omitempty"`
	Updated   time.Time   `json:"updated"`
	// ScaleUps and ScaleDowns count the pool's changes so far, carried
	// from holder to holder (faas_autoscaler_decisions_total).
	ScaleUps   int64 `json:"scale_ups"`
	ScaleDowns int64 `json:"scale_downs"`
}

// AutoscalerStates reads and writes the autoscaler's state in the locks
// bucket.
type AutoscalerStates struct {
	kv *Bucket
}

// NewAutoscalerStates returns the store on kv, the locks bucket of Setup.
func NewAutoscalerStates(kv *Bucket) *AutoscalerStates { return &AutoscalerStates{kv: kv} }

// Put publishes s; call it more often than LockTTL.
func (a *AutoscalerStates) Put(ctx context.Context, s AutoscalerState) error {
	data, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("put autoscaler state: encode: %w", err)
	}
	if _, err := a.kv.Put(ctx, keyAutoscalerState, data); err != nil {
		return fmt.Errorf("put autoscaler state: %w", err)
	}
	return nil
}

// Get returns the published state, nil when no autoscaler runs.
func (a *AutoscalerStates) Get(ctx context.Context) (*AutoscalerState, error) {
	e, err := a.kv.Get(ctx, keyAutoscalerState)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get autoscaler state: %w", err)
	}
	var s AutoscalerState
	if err := json.Unmarshal(e.Value(), &s); err != nil {
		return nil, fmt.Errorf("get autoscaler state: decode: %w", err)
	}
	return &s, nil
}

// Delete removes the state, as the acting autoscaler does when it stops.
func (a *AutoscalerStates) Delete(ctx context.Context) error {
	if err := a.kv.Delete(ctx, keyAutoscalerState); err != nil {
		return fmt.Errorf("delete autoscaler state: %w", err)
	}
	return nil
}

// PendingJobs is the consumer's count of jobs not yet delivered to any
// worker (NumPending): the backlog waiting for a free slot.
func PendingJobs(ctx context.Context, cons jetstream.Consumer) (int, error) {
	info, err := cons.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("consumer info: %w", err)
	}
	return int(info.NumPending), nil
}

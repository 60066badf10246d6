package natsstore

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/faasplatform/faas/domain"
	"github.com/nats-io/nats.go/jetstream"
)

// WorkerInfo is one worker's heartbeat: who it is and how busy. The
// autoscaler and GET /api/v1/workers/status read it.
type WorkerInfo struct {
	// ID is the worker's id: letters, digits, '-', '_' or '='.
	ID               string    `json:"id"`
	Address          string    `json:"address"`
	Status           string    `json:"status"`
	ActiveExecutions int       `json:"active_executions"`
	MaxConcurrent    int       `json:"max_concurrent"`
	LastHeartbeat    time.Time `json:"last_heartbeat"`
}

// WorkerRegistry keeps worker heartbeats in the workers bucket, keyed by
// worker id. The bucket forgets a key WorkerTTL after its last write, so a
// worker that stops beating disappears by itself.
type WorkerRegistry struct {
	kv *Bucket
}

// NewWorkerRegistry returns a WorkerRegistry on kv, the workers bucket from
// Setup.
func NewWorkerRegistry(kv *Bucket) *WorkerRegistry {
	return &WorkerRegistry{kv: kv}
}

// Put records a heartbeat of w; a zero LastHeartbeat is set to now. Workers
// call it more often than WorkerTTL.
func (r *WorkerRegistry) Put(ctx context.Context, w WorkerInfo) error {
	if !validToken(w.ID) {
		return fmt.Errorf("put worker: %w", domain.Invalid("invalid worker id %q", w.ID))
	}
	if w.LastHeartbeat.IsZero() {
		w.LastHeartbeat = time.Now().UTC()
	}
	data, err := json.Marshal(w)
	if err != nil {
		return fmt.Errorf("put worker %s: encode: %w", w.ID, err)
	}
	if _, err := r.kv.Put(ctx, w.ID, data); err != nil {
		return fmt.Errorf("put worker %s: %w", w.ID, err)
	}
	return nil
}

// List returns the workers that sent a heartbeat within WorkerTTL, by id.
func (r *WorkerRegistry) List(ctx context.Context) ([]WorkerInfo, error) {
	found, err := latestRecords[WorkerInfo](ctx, r.kv, jetstream.AllKeys)
	if err != nil {
		return nil, fmt.Errorf("list workers: %w", err)
	}
	out := make([]WorkerInfo, 0, len(found))
	for _, w := range found {
		out = append(out, *w)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Delete removes worker id at once, as a worker does when it stops cleanly.
// An unknown id is not an error.
func (r *WorkerRegistry) Delete(ctx context.Context, id string) error {
	if !validToken(id) {
		return nil
	}
	if err := r.kv.Delete(ctx, id); err != nil {
		return fmt.Errorf("delete worker %s: %w", id, err)
	}
	return nil
}

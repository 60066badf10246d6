package natsstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/faasplatform/faas/domain"
	"github.com/nats-io/nats.go/jetstream"
)

var (
	_ domain.JobQueue        = (*Queue)(nil)
	_ domain.ResultPublisher = (*Queue)(nil)
)

// Queue hands jobs to the workers on executions.pending and announces ended
// executions on executions.results, both in the EXECUTIONS stream.
type Queue struct {
	js jetstream.JetStream
}

// NewQueue returns a Queue publishing through js.
func NewQueue(js jetstream.JetStream) *Queue {
	return &Queue{js: js}
}

// Enqueue publishes j for the workers. The execution id is the message id,
// so enqueueing one execution twice within DuplicateWindow delivers it once.
func (q *Queue) Enqueue(ctx context.Context, j domain.Job) error {
	data, err := json.Marshal(j)
	if err != nil {
		return fmt.Errorf("enqueue execution %s: encode: %w", j.ExecutionID, err)
	}
	_, err = q.js.Publish(ctx, SubjectPending, data,
		jetstream.WithMsgID(j.ExecutionID),
		jetstream.WithExpectStream(StreamExecutions))
	if err != nil {
		return fmt.Errorf("enqueue execution %s: %w", j.ExecutionID, err)
	}
	return nil
}

// PublishResult announces e on executions.results as its JSON, which holds
// no logs. When the input and output would make the message larger than
// InlineLimit they are left out too: the announcement says that and how the
// execution ended, the full record stays in the ExecutionStore.
func (q *Queue) PublishResult(ctx context.Context, e *domain.Execution) error {
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("publish result of %s: encode: %w", e.ID, err)
	}
	if len(data) > InlineLimit {
		slim := *e
		slim.Input, slim.Output = "", ""
		if data, err = json.Marshal(&slim); err != nil {
			return fmt.Errorf("publish result of %s: encode: %w", e.ID, err)
		}
	}
	_, err = q.js.Publish(ctx, SubjectResults, data,
		jetstream.WithMsgID(e.ID+".result"),
		jetstream.WithExpectStream(StreamExecutions))
	if err != nil {
		return fmt.Errorf("publish result of %s: %w", e.ID, err)
	}
	return nil
}

package natsstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

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

// Enqueue publishes j for the workers and returns its stream sequence. The
// message id is msgID (the execution id for a first publish), so enqueueing
// one execution twice within DuplicateWindow delivers it once; the second
// call returns the first one's sequence. An empty msgID means the execution
// id.
func (q *Queue) Enqueue(ctx context.Context, j domain.Job, msgID string) (uint64, error) {
	if msgID == "" {
		msgID = j.ExecutionID
	}
	data, err := json.Marshal(j)
	if err != nil {
		return 0, fmt.Errorf("enqueue execution %s: encode: %w", j.ExecutionID, err)
	}
	ack, err := q.js.Publish(ctx, SubjectPending, data,
		jetstream.WithMsgID(msgID),
		jetstream.WithExpectStream(StreamExecutions))
	if err != nil {
		return 0, fmt.Errorf("enqueue execution %s: %w", j.ExecutionID, err)
	}
	return ack.Sequence, nil
}

// JobExists reports whether the job at stream sequence seq is still in the
// stream (it leaves at StreamMaxAge).
func (q *Queue) JobExists(ctx context.Context, seq uint64) (bool, error) {
	s, err := q.js.Stream(ctx, StreamExecutions)
	if err != nil {
		return false, fmt.Errorf("job %d: %w", seq, err)
	}
	if _, err := s.GetMsg(ctx, seq); err != nil {
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return false, nil
		}
		return false, fmt.Errorf("job %d: %w", seq, err)
	}
	return true, nil
}

// QueueState is the workers' consumer's position: jobs at stream sequences
// above Delivered have never been delivered.
type QueueState struct {
	Delivered  uint64
	Pending    int // never delivered
	AckPending int // delivered, not settled
}

// State returns the workers' consumer's position.
func (q *Queue) State(ctx context.Context) (QueueState, error) {
	c, err := q.js.Consumer(ctx, StreamExecutions, ConsumerWorkers)
	if err != nil {
		return QueueState{}, fmt.Errorf("queue state: %w", err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		return QueueState{}, fmt.Errorf("queue state: %w", err)
	}
	return QueueState{Delivered: info.Delivered.Stream, Pending: int(info.NumPending), AckPending: info.NumAckPending}, nil
}

// ackPrefix starts the reply subject of every delivery of a JetStream
// consumer: a delivery reference that does not is refused, so a reference
// read from a record can never make Settle publish elsewhere.
const ackPrefix = "$JS.ACK."

// RetryDelivery settles another process's delivery of a job, known by its
// reference (Delivery.Ref), as a retry after delay: the server delivers the
// job again then. It is how a dead worker's job is handed back at once
// instead of after the ack wait. A delivery already settled is no error
// (the server ignores it).
func (q *Queue) RetryDelivery(ctx context.Context, ref string, delay time.Duration) error {
	return q.settleRef(ctx, ref, fmt.Appendf(nil, `-NAK {"delay":%d}`, delay.Nanoseconds()))
}

// DropDelivery settles a delivery known by its reference for good: the job
// is not delivered again.
func (q *Queue) DropDelivery(ctx context.Context, ref string) error {
	return q.settleRef(ctx, ref, []byte("+TERM"))
}

func (q *Queue) settleRef(ctx context.Context, ref string, body []byte) error {
	if !strings.HasPrefix(ref, ackPrefix+StreamExecutions+"."+ConsumerWorkers+".") || strings.ContainsAny(ref, " \t\r\n*>") {
		return fmt.Errorf("settle delivery %q: %w", ref, domain.Invalid("not a delivery of %s", ConsumerWorkers))
	}
	if err := q.js.Conn().Publish(ref, body); err != nil {
		return fmt.Errorf("settle delivery: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := q.js.Conn().FlushWithContext(ctx); err != nil {
		return fmt.Errorf("settle delivery: flush: %w", err)
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
	// Logged for retention too; a failure here fails the announcement, so
	// the caller keeps the execution active and it is announced again.
	if e.Status.Final() {
		if err := logEnded(ctx, q.js, e); err != nil {
			return fmt.Errorf("publish result of %s: %w", e.ID, err)
		}
	}
	return nil
}

// Delivered is the stream sequence of the newest job the workers' consumer
// ever delivered: a job above it has never been delivered.
func (q *Queue) Delivered(ctx context.Context) (uint64, error) {
	st, err := q.State(ctx)
	return st.Delivered, err
}

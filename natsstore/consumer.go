package natsstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/faasplatform/faas/domain"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// pullWait is how long one pull request waits on the server for a job
// before Consume asks again.
const pullWait = 5 * time.Second

// Consumer pulls jobs from the durable execution-workers consumer for one
// worker process.
type Consumer struct {
	js  jetstream.JetStream
	log *zap.Logger
}

// NewConsumer returns a Consumer pulling through js and logging to logger
// (nil: no logging).
func NewConsumer(js jetstream.JetStream, logger *zap.Logger) *Consumer {
	if logger == nil {
		logger = zap.NewNop()
	}
	return &Consumer{js: js, log: logger}
}

// Consume runs handler in its own goroutine for each job delivered, at most
// maxInFlight at a time. It asks the server for a job only when a slot is
// free, one job at a time, so a busy worker holds no jobs it cannot run yet
// and idle workers get them instead. The handler settles each delivery (Ack,
// Retry, Drop; InProgress during long runs). A message that is not a job is
// dropped and logged. Consume returns nil once ctx ends and every running
// handler has returned; it returns an error at once if the consumer does not
// exist (Setup not run).
func (c *Consumer) Consume(ctx context.Context, maxInFlight int, handler func(domain.Delivery)) error {
	return c.ConsumeUntil(ctx, nil, maxInFlight, handler)
}

// ConsumeUntil is Consume that also ends when drain is closed, but gently:
// the pull already asked for is not abandoned (a job the server sends for it
// is handled, not left to time out), no further pull is made, and it
// returns once every running handler has returned. A nil drain never
// closes.
func (c *Consumer) ConsumeUntil(ctx context.Context, drain <-chan struct{}, maxInFlight int, handler func(domain.Delivery)) error {
	if maxInFlight < 1 {
		return fmt.Errorf("consume %s: maxInFlight must be at least 1, got %d", ConsumerWorkers, maxInFlight)
	}
	cons, err := c.js.Consumer(ctx, StreamExecutions, ConsumerWorkers)
	if err != nil {
		return fmt.Errorf("consume %s: %w", ConsumerWorkers, err)
	}

	slots := make(chan struct{}, maxInFlight)
	var running sync.WaitGroup
	defer running.Wait()
	for {
		select {
		case <-drain:
			return nil
		default:
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		case <-drain:
			return nil
		}
		msg, err := c.next(ctx, cons)
		if msg == nil {
			<-slots
			if ctx.Err() != nil {
				return nil
			}
			if err != nil {
				c.log.Warn("pull job failed", zap.Error(err))
				select {
				case <-ctx.Done():
					return nil
				case <-drain:
					return nil
				case <-time.After(time.Second):
				}
			}
			continue
		}
		d, ok := c.delivery(msg)
		if !ok {
			<-slots
			continue
		}
		running.Go(func() {
			defer func() { <-slots }()
			handler(d)
		})
	}
}

// next waits up to pullWait for one job. It returns a nil message and a nil
// error when none came.
func (c *Consumer) next(ctx context.Context, cons jetstream.Consumer) (jetstream.Msg, error) {
	pctx, cancel := context.WithTimeout(ctx, pullWait)
	defer cancel()
	msg, err := cons.Next(jetstream.FetchContext(pctx))
	switch {
	case err == nil:
		return msg, nil
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.Is(err, nats.ErrTimeout), errors.Is(err, jetstream.ErrNoMessages):
		return nil, nil
	default:
		return nil, err
	}
}

// delivery wraps msg. A message that does not decode to a job is dropped
// (terminated, never redelivered) and reported false.
func (c *Consumer) delivery(msg jetstream.Msg) (*delivery, bool) {
	d := &delivery{msg: msg, attempt: 1}
	if md, err := msg.Metadata(); err == nil {
		d.attempt = int(md.NumDelivered)
		d.seq = md.Sequence.Stream
	}
	err := json.Unmarshal(msg.Data(), &d.job)
	if err == nil && d.job.ExecutionID == "" {
		err = errors.New("no execution_id")
	}
	if err != nil {
		c.log.Error("dropping malformed job message",
			zap.String("subject", msg.Subject()), zap.Int("bytes", len(msg.Data())), zap.Error(err))
		if terr := msg.TermWithReason("malformed job"); terr != nil {
			c.log.Warn("terminate malformed job message", zap.Error(terr))
		}
		return nil, false
	}
	return d, true
}

var _ domain.Delivery = (*delivery)(nil)

// delivery is one delivery of a job; its methods settle the JetStream
// message.
type delivery struct {
	msg     jetstream.Msg
	job     domain.Job
	attempt int
	seq     uint64
}

// Ref is the delivery's reply subject: another process may settle the
// delivery with it (Queue.RetryDelivery) when this one dies.
func (d *delivery) Ref() string { return d.msg.Reply() }

// JobSeq is the job's stream sequence.
func (d *delivery) JobSeq() uint64 { return d.seq }

// Job is the decoded job.
func (d *delivery) Job() domain.Job { return d.job }

// Delivered is the server's delivery count of the message, from 1.
func (d *delivery) Delivered() int { return d.attempt }

// Ack ends the delivery as done.
func (d *delivery) Ack() error {
	if err := d.msg.Ack(); err != nil {
		return fmt.Errorf("ack job %s: %w", d.job.ExecutionID, err)
	}
	return nil
}

// Retry asks the server to deliver the job again after delay (NakWithDelay);
// it counts towards MaxDeliver.
func (d *delivery) Retry(delay time.Duration) error {
	if err := d.msg.NakWithDelay(delay); err != nil {
		return fmt.Errorf("retry job %s: %w", d.job.ExecutionID, err)
	}
	return nil
}

// InProgress restarts the AckWait clock of the delivery.
func (d *delivery) InProgress() error {
	if err := d.msg.InProgress(); err != nil {
		return fmt.Errorf("extend job %s: %w", d.job.ExecutionID, err)
	}
	return nil
}

// Drop ends the delivery for good (Term): the job is never delivered again.
func (d *delivery) Drop() error {
	if err := d.msg.Term(); err != nil {
		return fmt.Errorf("drop job %s: %w", d.job.ExecutionID, err)
	}
	return nil
}

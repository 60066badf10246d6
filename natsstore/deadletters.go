package natsstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/faasplatform/faas/domain"
)

// deadLetterQueue is the queue group of the dead-letter subscribers: of all
// the workers, one handles each advisory.
const deadLetterQueue = "faas-dead-letters"

// DeadLetters follows the jobs that used up their MaxDeliver attempts (the
// server's MAX_DELIVERIES advisory) so that their executions can be ended
// instead of staying pending or running forever, e.g. when the workers that
// took them died.
type DeadLetters struct {
	nc     *nats.Conn
	stream jetstream.Stream
	log    *zap.Logger
}

// NewDeadLetters returns a follower of the EXECUTIONS stream's dead letters.
func NewDeadLetters(nc *nats.Conn, stream jetstream.Stream, logger *zap.Logger) *DeadLetters {
	if logger == nil {
		logger = zap.NewNop()
	}
	return &DeadLetters{nc: nc, stream: stream, log: logger}
}

// maxDeliveriesAdvisory is the part of the server's advisory read here.
type maxDeliveriesAdvisory struct {
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries int    `json:"deliveries"`
}

// Follow calls handle with each dead job and the number of deliveries it
// had, until ctx ends. Processes calling Follow share the work (a queue
// group). A job whose message is gone (max age) is logged and skipped.
func (d *DeadLetters) Follow(ctx context.Context, handle func(ctx context.Context, j domain.Job, deliveries int)) error {
	sub, err := d.nc.QueueSubscribe(MaxDeliveriesAdvisory, deadLetterQueue, func(m *nats.Msg) {
		var adv maxDeliveriesAdvisory
		if err := json.Unmarshal(m.Data, &adv); err != nil {
			d.log.Error("malformed max-deliveries advisory", zap.Error(err))
			return
		}
		raw, err := d.stream.GetMsg(ctx, adv.StreamSeq)
		if err != nil {
			if !errors.Is(err, jetstream.ErrMsgNotFound) {
				d.log.Error("reading a dead job", zap.Uint64("stream_seq", adv.StreamSeq), zap.Error(err))
			}
			return
		}
		var j domain.Job
		if err := json.Unmarshal(raw.Data, &j); err != nil || j.ExecutionID == "" {
			d.log.Error("dead message is not a job", zap.Uint64("stream_seq", adv.StreamSeq), zap.Error(err))
			return
		}
		handle(ctx, j, adv.Deliveries)
	})
	if err != nil {
		return fmt.Errorf("follow dead letters: %w", err)
	}
	<-ctx.Done()
	if err := sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		return fmt.Errorf("follow dead letters: unsubscribe: %w", err)
	}
	return nil
}

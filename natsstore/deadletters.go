package natsstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/faasplatform/faas/domain"
)

// Advisories reads the MAX_DELIVERIES advisories kept in StreamAdvisories:
// jobs that used up the consumer's deliveries unsettled (the workers running
// them died, or bounced them until the limit). Being a stream with a durable
// consumer, none is missed while no process listens.
type Advisories struct {
	cons   jetstream.Consumer
	stream jetstream.Stream
	log    *zap.Logger
}

// NewAdvisories returns a reader of the advisories of b.
func NewAdvisories(b *Buckets, logger *zap.Logger) *Advisories {
	if logger == nil {
		logger = zap.NewNop()
	}
	return &Advisories{cons: b.Advisories, stream: b.Stream, log: logger}
}

// maxDeliveriesAdvisory is the part of the server's advisory read here.
type maxDeliveriesAdvisory struct {
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries int    `json:"deliveries"`
}

// Drain hands each advisory waiting now to handle, with the dead job and
// its delivery count, and acknowledges it when handle returns nil (an error
// leaves it for the next call). An advisory whose job is gone from the
// stream (max age) is acknowledged and skipped.
func (a *Advisories) Drain(ctx context.Context, handle func(ctx context.Context, j domain.Job, deliveries int) error) error {
	for {
		batch, err := a.cons.FetchNoWait(64)
		if err != nil {
			return fmt.Errorf("read advisories: %w", err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			if err := a.one(ctx, m, handle); err != nil {
				a.log.Warn("dead-letter advisory not handled; kept for later", zap.Error(err))
				_ = m.NakWithDelay(time.Second)
				continue
			}
			if err := m.Ack(); err != nil {
				a.log.Warn("ack advisory", zap.Error(err))
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return fmt.Errorf("read advisories: %w", err)
		}
		if n == 0 {
			return nil
		}
	}
}

func (a *Advisories) one(ctx context.Context, m jetstream.Msg, handle func(ctx context.Context, j domain.Job, deliveries int) error) error {
	var adv maxDeliveriesAdvisory
	if err := json.Unmarshal(m.Data(), &adv); err != nil {
		a.log.Error("malformed max-deliveries advisory", zap.Error(err))
		return nil
	}
	raw, err := a.stream.GetMsg(ctx, adv.StreamSeq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read dead job %d: %w", adv.StreamSeq, err)
	}
	var j domain.Job
	if err := json.Unmarshal(raw.Data, &j); err != nil || j.ExecutionID == "" {
		a.log.Error("dead message is not a job", zap.Uint64("stream_seq", adv.StreamSeq), zap.Error(err))
		return nil
	}
	return handle(ctx, j, adv.Deliveries)
}

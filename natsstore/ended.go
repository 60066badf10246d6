package natsstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/faasplatform/faas/domain"
)

// endedEntry is the message of an ended execution on SubjectEnded.
type endedEntry struct {
	Owner string `json:"owner"`
	ID    string `json:"id"`
}

// EndedLog is the log of ended executions (stream StreamEnded), in the order
// they ended. Every announcement of an ended execution (Queue.PublishResult)
// logs it; retention reads the log from its oldest entry and stops at the
// first one not yet due, so a pass costs what it deletes, not the history;
// then it forgets what it handled by purging the log up to there. The log
// lives in NATS, so nothing is lost when the process that reads it stops.
type EndedLog struct {
	stream jetstream.Stream
}

// NewEndedLog returns the log on the stream Setup declared (Buckets.Ended).
func NewEndedLog(stream jetstream.Stream) *EndedLog { return &EndedLog{stream: stream} }

// logEnded logs e as ended; a second log of one execution within the
// stream's duplicate window is dropped.
func logEnded(ctx context.Context, js jetstream.JetStream, e *domain.Execution) error {
	data, err := json.Marshal(endedEntry{Owner: e.Owner, ID: e.ID})
	if err != nil {
		return fmt.Errorf("log end of %s: encode: %w", e.ID, err)
	}
	if _, err := js.Publish(ctx, SubjectEnded, data, jetstream.WithMsgID(e.ID+".ended"),
		jetstream.WithExpectStream(StreamEnded)); err != nil {
		return fmt.Errorf("log end of %s: %w", e.ID, err)
	}
	return nil
}

// Oldest returns up to max entries from the oldest on, stopping before the
// first logged after before (not yet due).
func (l *EndedLog) Oldest(ctx context.Context, before time.Time, max int) ([]domain.Ended, error) {
	info, err := l.stream.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("ended log: %w", err)
	}
	var out []domain.Ended
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && len(out) < max && info.State.Msgs > 0; seq++ {
		m, err := l.stream.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("ended log: entry %d: %w", seq, err)
		}
		if m.Time.After(before) {
			break
		}
		var e endedEntry
		if err := json.Unmarshal(m.Data, &e); err != nil {
			// Not one of ours: skip it, it is forgotten with the rest.
			out = append(out, domain.Ended{Seq: seq, At: m.Time})
			continue
		}
		out = append(out, domain.Ended{Seq: seq, Owner: e.Owner, ID: e.ID, At: m.Time})
	}
	return out, nil
}

// Forget removes the entries up to seq included.
func (l *EndedLog) Forget(ctx context.Context, seq uint64) error {
	if err := l.stream.Purge(ctx, jetstream.WithPurgeSequence(seq+1)); err != nil {
		return fmt.Errorf("ended log: forget up to %d: %w", seq, err)
	}
	return nil
}

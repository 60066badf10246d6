package natsstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/faasplatform/faas/domain"
	"github.com/faasplatform/faas/retry"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// maxUpdateAttempts bounds the read-modify-write rounds of an Update. Each
// round lost means another writer won one, so twenty-odd concurrent writers
// of one key all get through.
const maxUpdateAttempts = 32

// defaultStaleIndexAge is how old an index entry must be before a Create may take
// it over when the record it points to is gone or renamed. Younger entries
// may belong to a Create or rename still in flight.
const defaultStaleIndexAge = time.Minute

// listTimeout bounds one listing of a bucket.
const listTimeout = 30 * time.Second

// errIndexTaken reports that a unique index key belongs to a live record.
var errIndexTaken = errors.New("index key taken")

// maxTokenBytes caps one token of a key. Every key the stores build stays far
// below the NATS server's 4,096-byte control line: a longer subject makes
// the server close the connection with an error nats.go does not reconnect
// from.
const maxTokenBytes = 256

// validToken reports whether s can be one dot-free token of a KV key: KV
// keys allow [-/_=.a-zA-Z0-9], and a dot or slash inside an id or owner
// would let one owner's keys match another owner's filter.
func validToken(s string) bool {
	if s == "" || len(s) > maxTokenBytes {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '=':
		default:
			return false
		}
	}
	return true
}

// isRevisionConflict reports whether err is JetStream refusing a write made
// against a revision that is no longer the latest ("wrong last sequence",
// code 10071, or 10164 on replicated streams).
func isRevisionConflict(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
		return true
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) &&
		(apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// retryOnConflict runs one read-modify-write round until it succeeds, fails
// otherwise than by a revision conflict, or has lost maxUpdateAttempts
// rounds. A short random pause between rounds spreads contending writers.
// Errors of round come back as they are; what names the operation in the
// errors retryOnConflict makes itself.
func retryOnConflict(ctx context.Context, what string, round func() error) error {
	lost := 0
	err := retry.Do(ctx, retry.Policy{Tries: maxUpdateAttempts, Initial: 200 * time.Microsecond, Max: 20 * time.Millisecond}, func() error {
		err := round()
		if !isRevisionConflict(err) {
			return retry.Permanent(err)
		}
		lost++
		return err
	})
	switch {
	case err == nil:
		return nil
	case isRevisionConflict(err):
		return fmt.Errorf("%s: lost %d races against concurrent writers: %w", what, lost, domain.ErrConflict)
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		return fmt.Errorf("%s: %w", what, err)
	}
	return err
}

// Bucket is a KV bucket of the platform with what a consistent listing of
// it needs besides the KeyValue API: the connection to ask the stream behind
// it for the newest sequence under a key filter.
type Bucket struct {
	jetstream.KeyValue
	nc        *nats.Conn
	apiPrefix string // "$JS.API." unless the JetStream context says otherwise
	// leaderReads says the stream refuses direct gets (Setup turns them
	// off where reads must be current, see currentReads): lastSeq then asks
	// the stream leader.
	leaderReads bool
}

// newBucket wraps kv, opened through js.
func newBucket(js jetstream.JetStream, kv jetstream.KeyValue) *Bucket {
	o := js.Options()
	prefix := o.APIPrefix
	switch {
	case o.Domain != "":
		prefix = "$JS." + o.Domain + ".API."
	case prefix == "":
		prefix = jetstream.DefaultAPIPrefix
	case !strings.HasSuffix(prefix, "."):
		prefix += "."
	}
	return &Bucket{KeyValue: kv, nc: js.Conn(), apiPrefix: prefix}
}

// lastSeq returns the stream sequence of the newest message (value or delete
// marker) of a key matching filter, or 0 when there is none. It asks the
// stream directly (a get by subject, which accepts wildcards in the request
// body): a direct get, answered by any replica, or, when the bucket reads
// through the leader, the leader's message get.
func (b *Bucket) lastSeq(ctx context.Context, filter string) (uint64, error) {
	req, err := json.Marshal(map[string]string{"last_by_subj": "$KV." + b.Bucket() + "." + filter})
	if err != nil {
		return 0, fmt.Errorf("encode last-message request: %w", err)
	}
	if b.leaderReads {
		return b.lastSeqLeader(ctx, filter, req)
	}
	msg, err := b.nc.RequestWithContext(ctx, b.apiPrefix+"DIRECT.GET.KV_"+b.Bucket(), req)
	if err != nil {
		return 0, fmt.Errorf("last message of %s %s: %w", b.Bucket(), filter, err)
	}
	if len(msg.Data) == 0 {
		switch status := msg.Header.Get("Status"); status {
		case "404":
			return 0, nil
		case "":
		default:
			return 0, fmt.Errorf("last message of %s %s: status %s %s", b.Bucket(), filter, status, msg.Header.Get("Description"))
		}
	}
	seq, err := strconv.ParseUint(msg.Header.Get(jetstream.SequenceHeader), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("last message of %s %s: sequence header: %w", b.Bucket(), filter, err)
	}
	return seq, nil
}

// apiErrorBody is the "error" of a JetStream API answer.
type apiErrorBody struct {
	Code        int    `json:"code"`
	ErrCode     int    `json:"err_code"`
	Description string `json:"description"`
}

// lastSeqLeader is lastSeq through the stream leader's STREAM.MSG.GET.
func (b *Bucket) lastSeqLeader(ctx context.Context, filter string, req []byte) (uint64, error) {
	msg, err := b.nc.RequestWithContext(ctx, b.apiPrefix+"STREAM.MSG.GET.KV_"+b.Bucket(), req)
	if err != nil {
		return 0, fmt.Errorf("last message of %s %s: %w", b.Bucket(), filter, err)
	}
	var resp struct {
		Message *struct {
			Seq uint64 `json:"seq"`
		} `json:"message"`
		Error *apiErrorBody `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return 0, fmt.Errorf("last message of %s %s: decode: %w", b.Bucket(), filter, err)
	}
	switch {
	case resp.Error != nil && resp.Error.ErrCode == int(jetstream.JSErrCodeMessageNotFound):
		return 0, nil
	case resp.Error != nil:
		return 0, fmt.Errorf("last message of %s %s: %d %s", b.Bucket(), filter, resp.Error.ErrCode, resp.Error.Description)
	case resp.Message == nil:
		return 0, fmt.Errorf("last message of %s %s: empty answer", b.Bucket(), filter)
	}
	return resp.Message.Seq, nil
}

// latestValues returns the current entry of every live key of b matching
// filter, read through one watcher instead of a Get per key: a snapshot of
// the keys at one moment, whatever is written meanwhile.
//
// The watcher's own end-of-initial-values marker is not trusted: it counts
// deliveries against the consumer's pending count at creation, and keys
// rewritten during the read are skipped or counted twice, so the marker
// came before every key was delivered (1 list in 7 under constant writes,
// see TestLatestValuesDuringWrites). Instead the watcher delivers every
// stored message in stream order (IncludeHistory; a bucket keeps one
// revision per key) and the read ends when the newest message matching
// filter, asked of the stream after the deliveries so far, has been
// delivered: every key live at that moment has had its newest message
// delivered, since it was stored before and delivery follows the stream's
// order. Under constant writes to the filter it keeps reading until it
// catches up, within listTimeout.
func latestValues(ctx context.Context, b *Bucket, filter string) ([]jetstream.KeyValueEntry, error) {
	ctx, cancel := context.WithTimeout(ctx, listTimeout)
	defer cancel()
	target, err := b.lastSeq(ctx, filter)
	if err != nil || target == 0 {
		return nil, err
	}
	w, err := b.Watch(ctx, filter, jetstream.IncludeHistory())
	if err != nil {
		return nil, fmt.Errorf("watch %s %s: %w", b.Bucket(), filter, err)
	}
	defer w.Stop()

	latest := map[string]jetstream.KeyValueEntry{}
	var delivered uint64
	// caughtUp re-reads the newest sequence: delivered reaching it means a
	// complete snapshot. Entries that expire (TTL) lower it again.
	caughtUp := func() (bool, error) {
		last, err := b.lastSeq(ctx, filter)
		if err != nil {
			return false, err
		}
		target = last
		return delivered >= target, nil
	}
	const idle = 100 * time.Millisecond
	timer := time.NewTimer(idle)
	defer timer.Stop()
	for {
		check := false
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("watch %s %s: %w", b.Bucket(), filter, ctx.Err())
		case <-timer.C:
			check = true // stalled: the target may have expired
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("watch %s %s: closed before the initial values", b.Bucket(), filter)
			}
			if e == nil {
				check = true // the watcher thinks it is done: verify
				break
			}
			delivered = max(delivered, e.Revision())
			if prev, seen := latest[e.Key()]; !seen || e.Revision() > prev.Revision() {
				latest[e.Key()] = e
			}
			check = delivered >= target
		}
		if !check {
			continue
		}
		done, err := caughtUp()
		if err != nil {
			return nil, err
		}
		if done {
			break
		}
		timer.Reset(idle)
	}
	out := make([]jetstream.KeyValueEntry, 0, len(latest))
	for _, v := range latest {
		if v.Operation() == jetstream.KeyValuePut {
			out = append(out, v)
		}
	}
	return out, nil
}

// latestRecords decodes the JSON value of every live key of b matching
// filter (see latestValues), in no particular order.
func latestRecords[T any](ctx context.Context, b *Bucket, filter string) ([]*T, error) {
	entries, err := latestValues(ctx, b, filter)
	if err != nil {
		return nil, err
	}
	out := make([]*T, 0, len(entries))
	for _, e := range entries {
		v := new(T)
		if err := json.Unmarshal(e.Value(), v); err != nil {
			return nil, fmt.Errorf("decode %s: %w", e.Key(), err)
		}
		out = append(out, v)
	}
	return out, nil
}

// uniqueIndex is a secondary key (username → user id, function name → id)
// kept in the bucket of the records it points to. KV Create makes claiming
// a name atomic: of two claims of one name exactly one succeeds.
type uniqueIndex struct {
	kv  jetstream.KeyValue
	key func(name string) string
	// live reports whether record id still exists under name. An entry
	// whose record is gone or renamed (left by a crash between two writes)
	// is stale and may be taken over once older than staleAfter.
	live       func(ctx context.Context, id, name string) (bool, error)
	staleAfter time.Duration
}

// claim points name at id. It returns errIndexTaken when a live record
// holds the name.
func (x uniqueIndex) claim(ctx context.Context, name, id string) error {
	key := x.key(name)
	for range 3 {
		_, err := x.kv.Create(ctx, key, []byte(id))
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("claim %s: %w", key, err)
		}
		e, err := x.kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // released meanwhile: try Create again
		}
		if err != nil {
			return fmt.Errorf("claim %s: %w", key, err)
		}
		holder := string(e.Value())
		if holder == id {
			return nil
		}
		if time.Since(e.Created()) < x.staleAfter {
			return errIndexTaken
		}
		live, err := x.live(ctx, holder, name)
		if err != nil {
			return fmt.Errorf("claim %s: check holder %s: %w", key, holder, err)
		}
		if live {
			return errIndexTaken
		}
		_, err = x.kv.Update(ctx, key, []byte(id), e.Revision())
		if isRevisionConflict(err) {
			return errIndexTaken // another claimant took the stale entry first
		}
		if err != nil {
			return fmt.Errorf("claim stale %s: %w", key, err)
		}
		return nil
	}
	return errIndexTaken
}

// lookup returns the id name points at, or jetstream.ErrKeyNotFound.
func (x uniqueIndex) lookup(ctx context.Context, name string) (string, error) {
	e, err := x.kv.Get(ctx, x.key(name))
	if err != nil {
		return "", err
	}
	return string(e.Value()), nil
}

// release removes name from the index if it still points at id, so a
// release never frees a name another record has claimed since.
func (x uniqueIndex) release(ctx context.Context, name, id string) error {
	key := x.key(name)
	e, err := x.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("release %s: %w", key, err)
	}
	if string(e.Value()) != id {
		return nil
	}
	err = x.kv.Delete(ctx, key, jetstream.LastRevision(e.Revision()))
	if err != nil && !isRevisionConflict(err) {
		return fmt.Errorf("release %s: %w", key, err)
	}
	return nil
}

// unavailable marks err as domain.ErrUnavailable when it says NATS cannot
// be reached right now (disconnected, reconnecting, no JetStream answering,
// a request timing out), so that the API answers 503 "try again later"
// instead of 500 while the server restarts.
func unavailable(err error) error {
	if err == nil || errors.Is(err, domain.ErrUnavailable) {
		return err
	}
	// JetStream answering 503 "system temporarily unavailable": a cluster
	// without a (meta) leader, electing one.
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.Code == http.StatusServiceUnavailable {
		return fmt.Errorf("%w: %w", domain.ErrUnavailable, err)
	}
	for _, e := range []error{nats.ErrConnectionClosed, nats.ErrConnectionReconnecting, nats.ErrConnectionDraining,
		nats.ErrNoResponders, nats.ErrTimeout, nats.ErrDisconnected, jetstream.ErrNoStreamResponse,
		jetstream.ErrJetStreamNotEnabled, context.DeadlineExceeded} {
		if errors.Is(err, e) {
			return fmt.Errorf("%w: %w", domain.ErrUnavailable, err)
		}
	}
	return err
}

// Get, Put, Create, Update and Delete are the KeyValue calls with
// connectivity failures marked domain.ErrUnavailable.

// Get reads key.
func (b *Bucket) Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	e, err := b.KeyValue.Get(ctx, key)
	return e, unavailable(err)
}

// Put writes key.
func (b *Bucket) Put(ctx context.Context, key string, value []byte) (uint64, error) {
	rev, err := b.KeyValue.Put(ctx, key, value)
	return rev, unavailable(err)
}

// Create writes key if it does not exist.
func (b *Bucket) Create(ctx context.Context, key string, value []byte, opts ...jetstream.KVCreateOpt) (uint64, error) {
	rev, err := b.KeyValue.Create(ctx, key, value, opts...)
	return rev, unavailable(err)
}

// Update writes key if it is still at revision last.
func (b *Bucket) Update(ctx context.Context, key string, value []byte, last uint64) (uint64, error) {
	rev, err := b.KeyValue.Update(ctx, key, value, last)
	return rev, unavailable(err)
}

// Delete deletes key.
func (b *Bucket) Delete(ctx context.Context, key string, opts ...jetstream.KVDeleteOpt) error {
	return unavailable(b.KeyValue.Delete(ctx, key, opts...))
}

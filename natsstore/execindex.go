package natsstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/faasplatform/faas/domain"
	"github.com/nats-io/nats.go/jetstream"
)

// executionIndex numbers each owner's executions in creation order, in the
// execution-index bucket, so that a page of a listing is read by walking
// the numbers downward with direct Gets, reading what the page returns and
// not every key of the owner (a listing of `ex.<owner>.*` costs the whole
// history). Its keys:
//
//	<owner>.counter  the last number given to an execution of owner (decimal)
//	<owner>.<n>      execution number n of owner: an indexEntry
//
// The numbers are the owner's own, dense (1, 2, 3, ...), because a page must
// find the next older execution without a search; the bucket's stream
// sequence is shared by all owners, so it is not. The counter advances by
// a revision-checked update, retried when another writer came first. One
// process serializes the advances of one owner (striped locks), so only
// writers in other processes ever conflict and a burst of one owner's
// Creates cannot use up the retries; the stripe also remembers the last
// value and revision it wrote, so an advance usually costs one request.
//
// An entry is written before its record and never changes: it holds only
// what an execution never changes (id, function_id, created_at), so the
// function_id filter is answered from the index without reading records. A
// number without an entry, or whose record is missing, is a hole that
// readers skip: a Create that failed or crashed midway, an owner being
// deleted, a Create still in flight. The record names its number
// (executionRecord.IndexSeq), so an entry whose id belongs to a record made
// by another Create (one refused because the id was taken) is skipped too:
// each record is listed at exactly one position.
type executionIndex struct {
	kv      *Bucket
	stripes [counterStripes]counterStripe
}

// counterStripes is the number of locks the owners' counters share.
const counterStripes = 64

// counterStripe serializes the counter advances of the owners hashed to it
// and caches the counter of the last one it advanced.
type counterStripe struct {
	mu    sync.Mutex
	owner string // whose counter last and rev describe; "" for none
	last  uint64
	rev   uint64
}

// indexEntry is the value of `<owner>.<n>`.
type indexEntry struct {
	ID         string    `json:"id"`
	FunctionID string    `json:"function_id"`
	CreatedAt  time.Time `json:"created_at"`
}

func newExecutionIndex(kv *Bucket) *executionIndex { return &executionIndex{kv: kv} }

func counterKey(owner string) string { return owner + ".counter" }

func entryKey(owner string, n uint64) string { return owner + "." + strconv.FormatUint(n, 10) }

func (x *executionIndex) stripe(owner string) *counterStripe {
	h := fnv.New32a()
	_, _ = h.Write([]byte(owner)) // a hash never fails to write
	return &x.stripes[h.Sum32()%counterStripes]
}

// next advances owner's counter and returns the number it gives out. A
// failure other than a lost race may leave the counter advanced with no
// execution under the number: a hole.
func (x *executionIndex) next(ctx context.Context, owner string) (uint64, error) {
	st := x.stripe(owner)
	st.mu.Lock()
	defer st.mu.Unlock()
	key := counterKey(owner)
	if st.owner == owner {
		rev, err := x.kv.Update(ctx, key, []byte(strconv.FormatUint(st.last+1, 10)), st.rev)
		if err == nil {
			st.last, st.rev = st.last+1, rev
			return st.last, nil
		}
		st.owner = ""
		if !isRevisionConflict(err) {
			return 0, fmt.Errorf("advance %s: %w", key, err)
		}
		// Another process advanced it (or the owner was deleted): read it.
	}
	var n uint64
	err := retryOnConflict(ctx, "advance "+key, func() error {
		e, err := x.kv.Get(ctx, key)
		var rev uint64
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			n = 1
			rev, err = x.kv.Create(ctx, key, []byte("1"))
		case err != nil:
			return fmt.Errorf("read %s: %w", key, err)
		default:
			last, perr := strconv.ParseUint(string(e.Value()), 10, 64)
			if perr != nil {
				return fmt.Errorf("decode %s: %w", key, perr)
			}
			n = last + 1
			rev, err = x.kv.Update(ctx, key, []byte(strconv.FormatUint(n, 10)), e.Revision())
		}
		if err != nil {
			return fmt.Errorf("advance %s: %w", key, err)
		}
		st.owner, st.last, st.rev = owner, n, rev
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// last returns the last number given out for owner, 0 when none was.
func (x *executionIndex) last(ctx context.Context, owner string) (uint64, error) {
	key := counterKey(owner)
	e, err := x.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", key, err)
	}
	n, err := strconv.ParseUint(string(e.Value()), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("decode %s: %w", key, err)
	}
	return n, nil
}

// put writes the entry of owner's execution number n.
func (x *executionIndex) put(ctx context.Context, owner string, n uint64, e indexEntry) error {
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode index entry: %w", err)
	}
	if _, err := x.kv.Put(ctx, entryKey(owner, n), data); err != nil {
		return fmt.Errorf("write %s: %w", entryKey(owner, n), err)
	}
	return nil
}

// get returns the entry of owner's execution number n, nil when there is
// none (a hole).
func (x *executionIndex) get(ctx context.Context, owner string, n uint64) (*indexEntry, error) {
	key := entryKey(owner, n)
	kve, err := x.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	var e indexEntry
	if err := json.Unmarshal(kve.Value(), &e); err != nil {
		return nil, fmt.Errorf("decode %s: %w", key, err)
	}
	return &e, nil
}

// remove deletes the entry of owner's execution number n.
func (x *executionIndex) remove(ctx context.Context, owner string, n uint64) error {
	if err := x.kv.Delete(ctx, entryKey(owner, n)); err != nil {
		return fmt.Errorf("delete %s: %w", entryKey(owner, n), err)
	}
	return nil
}

// deleteOwner removes owner's counter and entries with one purge of the
// stream behind the bucket, whatever their number, leaving no delete
// markers behind.
func (x *executionIndex) deleteOwner(ctx context.Context, owner string) error {
	st := x.stripe(owner)
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.owner == owner {
		st.owner = ""
	}
	return x.kv.purge(ctx, owner+".>")
}

// purge removes from the stream behind b every message of the keys matching
// filter, in one request.
func (b *Bucket) purge(ctx context.Context, filter string) error {
	req, err := json.Marshal(map[string]string{"filter": "$KV." + b.Bucket() + "." + filter})
	if err != nil {
		return fmt.Errorf("encode purge request: %w", err)
	}
	msg, err := b.nc.RequestWithContext(ctx, b.apiPrefix+"STREAM.PURGE.KV_"+b.Bucket(), req)
	if err != nil {
		return fmt.Errorf("purge %s %s: %w", b.Bucket(), filter, err)
	}
	var resp struct {
		Success bool          `json:"success"`
		Error   *apiErrorBody `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return fmt.Errorf("purge %s %s: decode answer: %w", b.Bucket(), filter, err)
	}
	if resp.Error != nil {
		return fmt.Errorf("purge %s %s: %s (code %d, error %d)", b.Bucket(), filter,
			resp.Error.Description, resp.Error.Code, resp.Error.ErrCode)
	}
	if !resp.Success {
		return fmt.Errorf("purge %s %s: not done", b.Bucket(), filter)
	}
	return nil
}

// cursorPrefix versions the cursor format, so that a later format can tell
// old cursors apart.
const cursorPrefix = "v1."

// encodeCursor is the cursor of a page that starts at number n (and goes
// down). Clients treat it as opaque.
func encodeCursor(n uint64) string { return cursorPrefix + strconv.FormatUint(n, 10) }

// decodeCursor returns the number a cursor starts at. Only what
// encodeCursor makes is accepted: "v1." and a decimal from 1 without
// leading zeros; anything else is domain.ErrInvalidInput.
func decodeCursor(c string) (uint64, error) {
	bad := domain.Invalid("cursor is not one this server gave out")
	digits, ok := strings.CutPrefix(c, cursorPrefix)
	if !ok || digits == "" || len(digits) > 20 || digits[0] == '0' {
		return 0, bad
	}
	for _, ch := range digits {
		if ch < '0' || ch > '9' {
			return 0, bad
		}
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return 0, bad
	}
	return n, nil
}

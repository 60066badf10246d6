package natsstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/faasplatform/faas/domain"
	"github.com/faasplatform/faas/retry"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

var _ domain.ExecutionStore = (*ExecutionStore)(nil)

// InlineLimit is the largest input, output or log text (measured as JSON) an
// execution record holds itself; a larger one goes to the execution-data
// object store. It keeps a record with 1 MiB of output and 1 MiB of logs
// well under the default 1 MiB NATS message limit.
const InlineLimit = 64 << 10

// Object handling. An object a record stops using is deleted only after
// objectGrace, so that a reader who has just found it in the record it read
// can still finish: deleting an object while it is being read leaves the
// reader waiting for chunks that never come, hence also objectReadTimeout.
const (
	// maxSuperseded bounds executionRecord.Superseded.
	maxSuperseded      = 32
	defaultObjectGrace = 30 * time.Second
	objectReadTimeout  = 10 * time.Second
	maxLoadAttempts    = 5
)

// ExecutionStore keeps execution records in the executions bucket under
// `ex.<owner>.<id>`, scoped by owner like functions. Input, output and logs
// larger than InlineLimit live in the execution-data object store under
// `<id>.<field>.<nonce>`, named in the record; each write of a large field
// uses a fresh name, so a write that loses a revision race never changes the
// data a stored record points to. Each owner's executions are numbered in
// creation order in the execution-index bucket (see executionIndex), which
// List pages through.
type ExecutionStore struct {
	kv    *Bucket
	index *executionIndex
	obj   jetstream.ObjectStore
	// objectGrace is how long an object outlives the last record naming
	// it (tests shorten it).
	objectGrace time.Duration
	log         *zap.Logger
}

// NewExecutionStore returns an ExecutionStore on kv, index and obj: the
// executions and execution-index buckets and the execution-data object
// store from Setup.
func NewExecutionStore(kv, index *Bucket, obj jetstream.ObjectStore) *ExecutionStore {
	return &ExecutionStore{kv: kv, index: newExecutionIndex(index), obj: obj, objectGrace: defaultObjectGrace, log: zap.NewNop()}
}

// WithLogger makes s report the objects it fails to clean up (they are
// left behind, costing only space) to logger, and returns s.
func (s *ExecutionStore) WithLogger(logger *zap.Logger) *ExecutionStore {
	s.log = logger
	return s
}

// executionRecord is an execution as stored. Its Logs and LogsTruncated
// shadow the embedded fields, which domain.Execution keeps out of JSON. An
// *Object field names the object holding that field when it is too large to
// be inline; the inline field is empty then. IndexSeq is the execution's
// number in the owner's creation index (0 for a record made before the
// index existed, which List does not show).
type executionRecord struct {
	domain.Execution
	Logs          string `json:"logs,omitempty"`
	LogsTruncated bool   `json:"logs_truncated,omitempty"`
	InputObject   string `json:"input_object,omitempty"`
	OutputObject  string `json:"output_object,omitempty"`
	LogsObject    string `json:"logs_object,omitempty"`
	IndexSeq      uint64 `json:"index_seq,omitempty"`
	// Superseded names the objects earlier writes of the record stopped
	// using (the last maxSuperseded). They go after objectGrace by a timer,
	// which a restart loses; listed here, they go with the record anyway
	// (Expire, DeleteFunction, DeleteOwner), so none is left forever.
	Superseded []string `json:"superseded,omitempty"`
	// The lifecycle's bookkeeping, kept out of the API form.
	RetryAt          *time.Time `json:"retry_at,omitempty"`
	PlatformFailures int        `json:"platform_failures,omitempty"`
	FunctionFailures int        `json:"function_failures,omitempty"`
}

// blobField is one of the texts of an execution that may live outside its
// record.
type blobField struct {
	name   string
	value  func(*domain.Execution) *string
	inline func(*executionRecord) *string
	object func(*executionRecord) *string
}

var blobFields = []blobField{
	{
		name:   "input",
		value:  func(e *domain.Execution) *string { return &e.Input },
		inline: func(r *executionRecord) *string { return &r.Input },
		object: func(r *executionRecord) *string { return &r.InputObject },
	},
	{
		name:   "output",
		value:  func(e *domain.Execution) *string { return &e.Output },
		inline: func(r *executionRecord) *string { return &r.Output },
		object: func(r *executionRecord) *string { return &r.OutputObject },
	},
	{
		name:   "logs",
		value:  func(e *domain.Execution) *string { return &e.Logs },
		inline: func(r *executionRecord) *string { return &r.Logs },
		object: func(r *executionRecord) *string { return &r.LogsObject },
	},
}

func executionKey(owner, id string) string { return "ex." + owner + "." + id }

// jsonLen is the size of s once encoded as a JSON string.
func jsonLen(s string) int {
	b, _ := json.Marshal(s) // a string always encodes
	return len(b)
}

// storedExecution is an execution read back with the record it came from.
type storedExecution struct {
	rec executionRecord
	rev uint64
}

// write is the outcome of encoding an execution: the record to store, the
// objects written for it and the objects of the previous record it no
// longer uses.
type write struct {
	data       []byte
	written    []string
	superseded []string
}

// encode turns e, number seq in its owner's index, into a record, moving
// large fields to new objects. A large field unchanged since prev (the full
// execution prevRec was read into) keeps its object.
func (s *ExecutionStore) encode(ctx context.Context, e *domain.Execution, seq uint64, prevRec *executionRecord, prev *domain.Execution) (write, error) {
	var w write
	rec := executionRecord{Execution: *e, Logs: e.Logs, LogsTruncated: e.LogsTruncated, IndexSeq: seq,
		RetryAt: e.RetryAt, PlatformFailures: e.PlatformFailures, FunctionFailures: e.FunctionFailures}
	rec.Execution.Logs, rec.Execution.LogsTruncated = "", false
	for _, f := range blobFields {
		v := *f.value(e)
		prevObject := ""
		if prevRec != nil {
			prevObject = *f.object(prevRec)
		}
		switch {
		case prevObject != "" && v == *f.value(prev):
			*f.inline(&rec), *f.object(&rec) = "", prevObject
			continue
		case jsonLen(v) > InlineLimit:
			name := e.ID + "." + f.name + "." + uuid.NewString()
			if _, err := s.obj.PutString(ctx, name, v); err != nil {
				s.deleteObjects(ctx, w.written)
				return write{}, fmt.Errorf("store %s: %w", f.name, err)
			}
			w.written = append(w.written, name)
			*f.inline(&rec), *f.object(&rec) = "", name
		}
		if prevObject != "" {
			w.superseded = append(w.superseded, prevObject)
		}
	}
	if prevRec != nil {
		rec.Superseded = append(rec.Superseded, prevRec.Superseded...)
	}
	rec.Superseded = append(rec.Superseded, w.superseded...)
	if n := len(rec.Superseded); n > maxSuperseded {
		rec.Superseded = rec.Superseded[n-maxSuperseded:]
	}
	data, err := json.Marshal(rec)
	if err != nil {
		s.deleteObjects(ctx, w.written)
		return write{}, fmt.Errorf("encode: %w", err)
	}
	w.data = data
	return w, nil
}

// deleteObjects removes objects no record names. It is best effort: an
// object left behind only costs space, so a failure is logged, not returned
// (the callers are already returning another error, or run on a timer).
func (s *ExecutionStore) deleteObjects(ctx context.Context, names []string) {
	for _, name := range names {
		if err := s.obj.Delete(ctx, name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			s.log.Warn("execution data object left behind", zap.String("object", name), zap.Error(err))
		}
	}
}

// retire deletes objects a record named until its latest write, once
// objectGrace has passed. Objects retired when the process ends stay behind.
func (s *ExecutionStore) retire(names []string) {
	if len(names) == 0 {
		return
	}
	time.AfterFunc(s.objectGrace, func() {
		ctx, cancel := context.WithTimeout(context.Background(), objectReadTimeout)
		defer cancel()
		s.deleteObjects(ctx, names)
	})
}

// decode turns a stored record into an execution; with full it also reads
// the fields kept in objects.
func (s *ExecutionStore) decode(ctx context.Context, rec *executionRecord, full bool) (*domain.Execution, error) {
	e := rec.Execution
	e.Logs, e.LogsTruncated = rec.Logs, rec.LogsTruncated
	e.RetryAt, e.PlatformFailures, e.FunctionFailures = rec.RetryAt, rec.PlatformFailures, rec.FunctionFailures
	if !full {
		return &e, nil
	}
	for _, f := range blobFields {
		name := *f.object(rec)
		if name == "" {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, objectReadTimeout)
		v, err := s.obj.GetString(rctx, name)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("read %s object %s: %w", f.name, name, err)
		}
		*f.value(&e) = v
	}
	return &e, nil
}

// load reads owner's execution id with its revision, Input, Output and Logs
// included. When an object the record names cannot be read because a newer
// write replaced it meanwhile, it reads the newer record.
func (s *ExecutionStore) load(ctx context.Context, owner, id string) (*storedExecution, *domain.Execution, error) {
	if !validToken(owner) || !validToken(id) {
		return nil, nil, domain.ErrExecutionNotFound
	}
	key := executionKey(owner, id)
	var st *storedExecution
	var e *domain.Execution
	err := retry.Do(ctx, retry.Policy{Tries: maxLoadAttempts, Initial: time.Millisecond}, func() error {
		entry, err := s.kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return retry.Permanent(domain.ErrExecutionNotFound)
		}
		if err != nil {
			return retry.Permanent(err)
		}
		st = &storedExecution{rev: entry.Revision()}
		if err := json.Unmarshal(entry.Value(), &st.rec); err != nil {
			return retry.Permanent(fmt.Errorf("decode: %w", err))
		}
		if e, err = s.decode(ctx, &st.rec, true); err == nil {
			return nil
		}
		if latest, gerr := s.kv.Get(ctx, key); gerr == nil && latest.Revision() == entry.Revision() {
			return retry.Permanent(err) // the record still names the object: a real failure
		}
		return err // replaced meanwhile: read the newer record
	})
	if err != nil {
		return nil, nil, err
	}
	return st, e, nil
}

// Create stores a new execution; an existing id is domain.ErrConflict. It
// numbers the execution in its owner's index and writes the index entry
// before the record, so a stored record is always listed; a failure midway
// leaves a hole that List skips. Only a definite refusal of the record (the
// id is taken) removes the entry again: after a timeout the record may have
// been stored, and removing its entry would hide it from every listing.
func (s *ExecutionStore) Create(ctx context.Context, e *domain.Execution) error {
	if !validToken(e.Owner) || !validToken(e.ID) {
		return fmt.Errorf("create execution: %w", domain.Invalid("invalid owner %q or id %q", e.Owner, e.ID))
	}
	seq, err := s.index.next(ctx, e.Owner)
	if err != nil {
		return fmt.Errorf("create execution %s: number it: %w", e.ID, err)
	}
	w, err := s.encode(ctx, e, seq, nil, nil)
	if err != nil {
		return fmt.Errorf("create execution %s: %w", e.ID, err)
	}
	entry := indexEntry{ID: e.ID, FunctionID: e.FunctionID, CreatedAt: e.CreatedAt}
	if err := s.index.put(ctx, e.Owner, seq, entry); err != nil {
		s.deleteObjects(ctx, w.written)
		return fmt.Errorf("create execution %s: index it: %w", e.ID, err)
	}
	if _, err := s.kv.Create(ctx, executionKey(e.Owner, e.ID), w.data); err != nil {
		s.deleteObjects(ctx, w.written)
		if errors.Is(err, jetstream.ErrKeyExists) {
			// The taken id's record names another number, so a leftover
			// entry would be skipped anyway; removing it is tidiness.
			if rerr := s.index.remove(ctx, e.Owner, seq); rerr != nil {
				s.log.Warn("index entry of a refused execution left behind", zap.String("execution_id", e.ID), zap.Error(rerr))
			}
			return fmt.Errorf("create execution %s: id in use: %w", e.ID, domain.ErrConflict)
		}
		return fmt.Errorf("create execution %s: %w", e.ID, err)
	}
	return nil
}

// Get returns owner's execution id with its Input, Output and Logs, or
// domain.ErrExecutionNotFound.
func (s *ExecutionStore) Get(ctx context.Context, owner, id string) (*domain.Execution, error) {
	_, e, err := s.load(ctx, owner, id)
	if err != nil {
		return nil, fmt.Errorf("get execution %s: %w", id, err)
	}
	return e, nil
}

// Listing tuning. A page walks the owner's index numbers downward from its
// cursor and reads an entry, then its record, per number, listParallel
// numbers at once. It stops when it has the limit, reaches number 0, or has
// examined scanBudget(limit) numbers: filters that match little would
// otherwise make a page read the whole history. Such a page holds fewer
// than the limit and a cursor to go on from.
const listParallel = 64

// scanBudget is the most index numbers one page of limit examines.
func scanBudget(limit int) uint64 { return 4*uint64(limit) + 64 }

// List returns one page of owner's executions that match f, newest first
// (in the order their Creates numbered them, which is creation order for
// one writer), at most f.Limit of them (domain.DefaultListLimit when unset,
// never more than domain.MaxListLimit), starting at f.Cursor. Input, Output
// and Logs are left empty. Next is the cursor of the following page, empty
// when nothing older remains; a page cut short by its scan budget may hold
// fewer than the limit, even none, and still have a Next. A malformed
// cursor is domain.ErrInvalidInput. A page costs the numbers it examines
// (the matches, the holes and non-matches among them, and at most one
// batch beyond the limit), not the owner's history.
func (s *ExecutionStore) List(ctx context.Context, owner string, f domain.ExecutionFilter) (domain.ExecutionPage, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = domain.DefaultListLimit
	}
	limit = min(limit, domain.MaxListLimit)
	var from uint64
	if f.Cursor != "" {
		n, err := decodeCursor(f.Cursor)
		if err != nil {
			return domain.ExecutionPage{}, fmt.Errorf("list executions of %s: %w", owner, err)
		}
		from = n
	}
	page := domain.ExecutionPage{Executions: []*domain.Execution{}}
	if !validToken(owner) {
		return page, nil
	}
	last, err := s.index.last(ctx, owner)
	if err != nil {
		return domain.ExecutionPage{}, fmt.Errorf("list executions of %s: %w", owner, err)
	}
	// A cursor past the newest number (not one of ours, or the owner's
	// index was reset) starts at the newest.
	if from == 0 || from > last {
		from = last
	}
	filtered := f.FunctionID != "" || f.Status != ""
	pos, budget := from, scanBudget(limit)
	for pos > 0 && budget > 0 && len(page.Executions) < limit {
		// Without filters every number found is a match, so a batch asks
		// for no more than the page still needs.
		n := uint64(listParallel)
		if !filtered {
			n = min(n, uint64(limit-len(page.Executions)))
		}
		n = min(n, pos, budget)
		found, err := s.readPositions(ctx, owner, pos, n, f)
		if err != nil {
			return domain.ExecutionPage{}, fmt.Errorf("list executions of %s: %w", owner, err)
		}
		for i, e := range found {
			if e == nil {
				continue
			}
			page.Executions = append(page.Executions, e)
			if len(page.Executions) == limit {
				n = uint64(i + 1) // the rest of the batch belongs to the next page
				break
			}
		}
		pos -= n
		budget -= n
	}
	if pos > 0 {
		page.Next = encodeCursor(pos)
	}
	return page, nil
}

// readPositions reads owner's executions numbered top, top-1, ...,
// top-n+1 at once and returns them in that order, nil where a number is a
// hole or does not match f.
func (s *ExecutionStore) readPositions(ctx context.Context, owner string, top, n uint64, f domain.ExecutionFilter) ([]*domain.Execution, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := make([]*domain.Execution, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			out[i], errs[i] = s.readPosition(ctx, owner, top-i, f)
			if errs[i] != nil {
				cancel() // the page fails: stop the others
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return nil, err
		}
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readPosition reads owner's execution number seq when it matches f: its
// index entry, which answers the function filter, then its record, which
// answers the status filter. A hole (no entry, no record, or a record
// numbered otherwise) is nil without error.
func (s *ExecutionStore) readPosition(ctx context.Context, owner string, seq uint64, f domain.ExecutionFilter) (*domain.Execution, error) {
	ie, err := s.index.get(ctx, owner, seq)
	if err != nil || ie == nil {
		return nil, err
	}
	if f.FunctionID != "" && ie.FunctionID != f.FunctionID || !validToken(ie.ID) {
		return nil, nil
	}
	entry, err := s.kv.Get(ctx, executionKey(owner, ie.ID))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read execution %s: %w", ie.ID, err)
	}
	var rec executionRecord
	if err := json.Unmarshal(entry.Value(), &rec); err != nil {
		return nil, fmt.Errorf("decode execution %s: %w", ie.ID, err)
	}
	if rec.IndexSeq != seq || f.Status != "" && rec.Status != f.Status {
		return nil, nil
	}
	e, _ := s.decode(ctx, &rec, false) // without objects decode cannot fail
	e.Input, e.Output, e.Logs = "", "", ""
	return e, nil
}

// Update applies mutate to the latest version of the execution (Input,
// Output and Logs included) and stores the result with a revision check,
// retrying when another writer came first. Large fields are written to
// objects before the record; the objects of a lost round are deleted at
// once, those the new record no longer uses after a grace period. An error from mutate (e.g. refusing to
// change a final status) is returned as it is. The id and owner cannot
// change.
func (s *ExecutionStore) Update(ctx context.Context, owner, id string, mutate func(*domain.Execution) error) (*domain.Execution, error) {
	var out *domain.Execution
	err := retryOnConflict(ctx, "update execution "+id, func() error {
		st, cur, err := s.load(ctx, owner, id)
		if err != nil {
			return fmt.Errorf("update execution %s: %w", id, err)
		}
		next := cloneExecution(cur)
		if err := mutate(next); err != nil {
			return err
		}
		if next.ID != id || next.Owner != owner {
			return fmt.Errorf("update execution %s: %w", id, domain.Invalid("an execution's id and owner cannot change"))
		}
		w, err := s.encode(ctx, next, st.rec.IndexSeq, &st.rec, cur)
		if err != nil {
			return fmt.Errorf("update execution %s: %w", id, err)
		}
		if _, err := s.kv.Update(ctx, executionKey(owner, id), w.data, st.rev); err != nil {
			s.deleteObjects(ctx, w.written)
			return fmt.Errorf("update execution %s: %w", id, err)
		}
		s.retire(w.superseded)
		out = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// cloneExecution copies e so that mutate cannot reach the value it was read
// into through the time pointers.
func cloneExecution(e *domain.Execution) *domain.Execution {
	c := *e
	if e.StartTime != nil {
		t := *e.StartTime
		c.StartTime = &t
	}
	if e.EndTime != nil {
		t := *e.EndTime
		c.EndTime = &t
	}
	return &c
}

// watchRetry and watchWait are how Watch waits for a cluster without a
// leader: within half a lease's life.
var watchRetry = retry.Policy{Tries: 50, Initial: 100 * time.Millisecond, Max: time.Second}

const watchWait = domain.LeaseTTL / 2

// Watch sends owner's execution id, full, as it is now and then after each
// change, until ctx ends or the execution is deleted; the channel is closed
// then. A missing execution is domain.ErrExecutionNotFound. A receiver that
// falls behind may miss intermediate versions, never the latest.
func (s *ExecutionStore) Watch(ctx context.Context, owner, id string) (<-chan *domain.Execution, error) {
	if !validToken(owner) || !validToken(id) {
		return nil, fmt.Errorf("watch execution %s: %w", id, domain.ErrExecutionNotFound)
	}
	wctx, cancel := context.WithCancel(ctx)
	// A cluster has no meta leader for a few seconds after losing it, and
	// the watcher's consumer cannot be made meanwhile: that is waited out,
	// for at most watchWait, since a worker's lease is not renewed while it
	// waits here (longer, the sweeper would take the execution back and the
	// run would start twice).
	var w jetstream.KeyWatcher
	var last error
	wait, stopWait := context.WithTimeout(wctx, watchWait)
	err := retry.Do(wait, watchRetry, func() error {
		w, last = s.kv.Watch(wctx, executionKey(owner, id))
		if last != nil && !errors.Is(unavailable(last), domain.ErrUnavailable) {
			return retry.Permanent(last)
		}
		return last
	})
	stopWait()
	if err != nil {
		cancel()
		if last == nil {
			last = err
		}
		return nil, fmt.Errorf("watch execution %s: %w", id, unavailable(last))
	}
	stop := func() {
		_ = w.Stop()
		cancel()
	}
	// The watcher sends the current value first, or nil straight away
	// when there is none.
	var first jetstream.KeyValueEntry
	select {
	case first = <-w.Updates():
	case <-ctx.Done():
		stop()
		return nil, fmt.Errorf("watch execution %s: %w", id, ctx.Err())
	}
	if first == nil {
		// The watcher's "no initial values" marker comes from the
		// consumer's pending count at creation, which a concurrent write
		// to the same key can leave at 0 although the key exists (seen
		// under load in CI). The key itself decides: read it directly;
		// the watcher still delivers every later revision.
		entry, err := s.kv.Get(wctx, executionKey(owner, id))
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			stop()
			return nil, fmt.Errorf("watch execution %s: %w", id, err)
		default:
			first = entry
		}
	}
	if first == nil || first.Operation() != jetstream.KeyValuePut {
		stop()
		return nil, fmt.Errorf("watch execution %s: %w", id, domain.ErrExecutionNotFound)
	}
	e, err := s.decodeEntry(wctx, first)
	if err != nil {
		stop()
		return nil, fmt.Errorf("watch execution %s: %w", id, err)
	}

	out := make(chan *domain.Execution, 1)
	out <- e
	seen := first.Revision()
	go func() {
		defer close(out)
		defer stop()
		for {
			select {
			case <-wctx.Done():
				return
			case entry, ok := <-w.Updates():
				if !ok {
					return
				}
				if entry == nil || entry.Revision() <= seen {
					continue // end of the initial values, or already sent
				}
				seen = entry.Revision()
				if entry.Operation() != jetstream.KeyValuePut {
					return // deleted
				}
				e, err := s.decodeEntry(wctx, entry)
				if err != nil {
					// An object replaced by a newer write: that write's
					// entry follows.
					continue
				}
				// Keep only the newest unread version.
				select {
				case <-out:
				default:
				}
				out <- e
			}
		}
	}()
	return out, nil
}

// decodeEntry turns a watched entry into a full execution.
func (s *ExecutionStore) decodeEntry(ctx context.Context, entry jetstream.KeyValueEntry) (*domain.Execution, error) {
	var rec executionRecord
	if err := json.Unmarshal(entry.Value(), &rec); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	return s.decode(ctx, &rec, true)
}

// DeleteOwner removes every execution of owner with its objects, then the
// owner's index. Records go first: a DeleteOwner cut short leaves index
// entries whose records are gone, which List skips, and can be run again.
func (s *ExecutionStore) DeleteOwner(ctx context.Context, owner string) error {
	if !validToken(owner) {
		return nil
	}
	entries, err := latestValues(ctx, s.kv, executionKey(owner, "*"))
	if err != nil {
		return fmt.Errorf("delete executions of %s: %w", owner, err)
	}
	for _, entry := range entries {
		var rec executionRecord
		if err := json.Unmarshal(entry.Value(), &rec); err == nil {
			if err := s.deleteRecordObjects(ctx, &rec); err != nil {
				return fmt.Errorf("delete executions of %s: %w", owner, err)
			}
		}
		if err := s.kv.Delete(ctx, entry.Key()); err != nil {
			return fmt.Errorf("delete executions of %s: %s: %w", owner, entry.Key(), err)
		}
	}
	if err := s.index.deleteOwner(ctx, owner); err != nil {
		return fmt.Errorf("delete executions of %s: index: %w", owner, err)
	}
	return nil
}

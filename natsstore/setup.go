package natsstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/faasplatform/faas/domain"
	"github.com/faasplatform/faas/retry"
)

// Names of the JetStream resources of contract §5. Other processes (the
// autoscaler, operators with the nats CLI) find them under these names.
const (
	BucketUsers         = "users"
	BucketFunctions     = "functions"
	BucketExecutions    = "executions"
	BucketWorkers       = "workers"
	BucketActive        = "active-executions"
	BucketDeadLetters   = "deadletters"
	BucketLocks         = "locks"
	BucketIdempotency   = "idempotency"
	ObjectStoreExecData = "execution-data"

	// BucketExecutionIndex numbers each owner's executions in creation
	// order (see executionIndex), so that a page of a listing reads only
	// what it returns.
	BucketExecutionIndex = "execution-index"

	StreamExecutions = "EXECUTIONS"
	SubjectPending   = "executions.pending"
	SubjectResults   = "executions.results"
	ConsumerWorkers  = "execution-workers"

	// MaxDeliveriesAdvisory is the subject on which the server announces a
	// job that used up its MaxDeliver attempts: the stream's dead letters.
	MaxDeliveriesAdvisory = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + StreamExecutions + "." + ConsumerWorkers

	// StreamAdvisories keeps the MAX_DELIVERIES advisories, so that none is
	// missed when no process listens at that instant; the sweeper reads
	// them through the durable ConsumerAdvisories.
	StreamAdvisories   = "EXECUTIONS_ADVISORIES"
	ConsumerAdvisories = "sweeper"

	// StreamEnded lists the ended executions in the order they ended
	// (subject SubjectEnded, one small message each), so that retention
	// deletes each one EXECUTION_RETENTION after its end, from the oldest,
	// reading only what is due (see EndedLog).
	StreamEnded  = "EXECUTIONS_ENDED"
	SubjectEnded = "executions.ended"
)

// Settings of the resources above.
const (
	// WorkerTTL is how long a worker's heartbeat stays in the workers
	// bucket; a worker that stops beating drops out of WorkerRegistry.List.
	WorkerTTL = 15 * time.Second
	// StreamMaxAge is how long jobs and results stay in the stream.
	StreamMaxAge = 24 * time.Hour
	// DuplicateWindow is how long the stream remembers a job's message id,
	// so a second Enqueue of one execution is dropped.
	DuplicateWindow = 2 * time.Minute
	// AckWait is how long a worker may hold a job without acknowledging it
	// or calling InProgress before the server redelivers it.
	AckWait = time.Minute
	// LockTTL is how long a lock (locks bucket) outlives its holder's
	// last renewal.
	LockTTL = 10 * time.Second
	// IdempotencyTTL is how long an Idempotency-Key is remembered.
	IdempotencyTTL = 24 * time.Hour
	// MaxAckPending bounds the jobs handed out and not yet acknowledged,
	// across all workers.
	MaxAckPending = 1000
	// kvHistory is the number of revisions kept per key: only the latest
	// matters, revision checks need no history.
	kvHistory = 1
)

// Buckets are the JetStream handles Setup declared, ready to hand to the
// store constructors.
type Buckets struct {
	Users         *Bucket
	Functions     *Bucket
	Executions    *Bucket
	Workers       *Bucket
	Active        *Bucket
	DeadLetters   *Bucket
	Locks         *Bucket
	Idempotency   *Bucket
	Advisories    jetstream.Consumer
	ExecutionData jetstream.ObjectStore
	Stream        jetstream.Stream
	Consumer      jetstream.Consumer
	// Ended is the ended-executions stream (StreamEnded).
	Ended jetstream.Stream

	// ExecutionIndex is the executions' per-owner creation index.
	ExecutionIndex *Bucket

	// Differences are the settings of existing resources that differ from
	// the configuration, as Setup found them (each also logged). With
	// SetupOptions.Apply they have been applied.
	Differences []Difference
}

// SetupMode says what a process may do to the platform's resources.
type SetupMode int

const (
	// SetupOwn is the gateway's (core, `faas up`, `faas gateway`): create
	// what is missing, report what differs (and apply it with Apply).
	SetupOwn SetupMode = iota
	// SetupCheck is a worker's and the autoscaler's: bind to what exists,
	// report what differs, wait while something does not exist yet; never
	// write a configuration.
	SetupCheck
)

// SetupOptions are the settings of the resources that come from the
// configuration.
type SetupOptions struct {
	// MaxDeliver is the consumer's delivery limit of one job:
	// domain.RetryPolicy.MaxDeliveries of the configured policy.
	MaxDeliver int
	// Retention is EXECUTION_RETENTION; the ended-executions stream keeps
	// its entries that long and a day more, so that a retention pass that
	// was held up still finds them. 0: domain.DefaultRetention.
	Retention time.Duration
	// MaxBytes (NATS_MAX_BYTES) caps each stream, bucket and object store
	// of the platform; past it a write is refused (never is older data
	// dropped to make room). 0: no cap but the server's own.
	MaxBytes int64
	// Replicas (NATS_REPLICAS) of every stream, bucket and object store;
	// 0 means 1.
	Replicas int
	// Mode is who is asking: the owner (default) or a checker.
	Mode SetupMode
	// Apply (NATS_SETUP=apply, owner only) brings existing resources to
	// this configuration instead of only reporting their differences.
	Apply bool
	// Logger receives the differences as structured warnings; nil: none.
	Logger *zap.Logger
	// Wait is how a checker waits for a resource that does not exist yet;
	// the zero value: checkWait. It is bounded by ctx as well.
	Wait retry.Policy
}

// ErrNotSetUp is returned by a checking Setup when a resource still does not
// exist once its wait ended: the gateway (the owner) has not run yet.
var ErrNotSetUp = errors.New("nats resources not set up (start the gateway first)")

// checkWait is how long a checker waits for the owner's resources: until
// ctx ends, pausing up to 5 s between looks.
var checkWait = retry.Policy{Tries: math.MaxInt32, Initial: 200 * time.Millisecond, Max: 5 * time.Second}

// Difference is one setting of an existing resource that is not what this
// process's configuration wants.
type Difference struct {
	Resource string // e.g. "stream EXECUTIONS", "bucket executions", "consumer EXECUTIONS/execution-workers"
	Field    string // the JetStream config field, e.g. "Replicas"
	Existing any
	Wanted   any
}

func (d Difference) String() string {
	return fmt.Sprintf("%s: %s is %v, configured %v", d.Resource, d.Field, d.Existing, d.Wanted)
}

// kind is what a resource is, which decides the fields its diff compares.
type kind int

const (
	kindBucket kind = iota
	kindObjectStore
	kindStream
)

// resource is one stream-backed resource of the platform as the
// configuration wants it.
type resource struct {
	kind   kind
	kv     jetstream.KeyValueConfig
	obj    jetstream.ObjectStoreConfig
	stream jetstream.StreamConfig
	// direct is the wanted AllowDirect of the stream behind it: direct gets
	// may be answered by any replica, a lagging one included, so only
	// resources whose reads may be stale keep it once there are replicas.
	direct bool
}

// streamName is the JetStream stream behind r.
func (r resource) streamName() string {
	switch r.kind {
	case kindBucket:
		return "KV_" + r.kv.Bucket
	case kindObjectStore:
		return "OBJ_" + r.obj.Bucket
	}
	return r.stream.Name
}

// label names r in differences and errors.
func (r resource) label() string {
	switch r.kind {
	case kindBucket:
		return "bucket " + r.kv.Bucket
	case kindObjectStore:
		return "object store " + r.obj.Bucket
	}
	return "stream " + r.stream.Name
}

// wanted is the part of r's stream configuration the platform sets, the
// way nats.go lays a bucket or object store onto its stream.
func (r resource) wanted() jetstream.StreamConfig {
	switch r.kind {
	case kindBucket:
		return jetstream.StreamConfig{Name: r.streamName(), Replicas: r.kv.Replicas, MaxBytes: r.kv.MaxBytes,
			MaxAge: r.kv.TTL, Storage: r.kv.Storage, MaxMsgsPerSubject: int64(r.kv.History), AllowDirect: r.direct}
	case kindObjectStore:
		return jetstream.StreamConfig{Name: r.streamName(), Replicas: r.obj.Replicas, MaxBytes: r.obj.MaxBytes,
			MaxAge: r.obj.TTL, Storage: r.obj.Storage, AllowDirect: r.direct}
	}
	c := r.stream
	c.AllowDirect = r.direct
	return c
}

// streamFields are the fields compared for each kind; the others are
// nats.go's or the server's own and not the configuration's.
var streamFields = map[kind][]string{
	kindBucket:      {"Replicas", "Storage", "MaxBytes", "MaxAge", "MaxMsgsPerSubject", "AllowDirect"},
	kindObjectStore: {"Replicas", "Storage", "MaxBytes", "MaxAge", "AllowDirect"},
	kindStream:      {"Subjects", "Replicas", "Storage", "Retention", "Discard", "MaxBytes", "MaxAge", "Duplicates", "AllowDirect"},
}

// DiffStream returns the fields of existing that differ from wanted, among
// fields (JetStream StreamConfig field names). Replicas 0 counts as 1 and
// MaxBytes 0 as -1 (no cap), as the server reads them. It is pure, so that
// what a process reports and applies is decided by a table-tested function.
func DiffStream(label string, fields []string, existing, wanted jetstream.StreamConfig) []Difference {
	var out []Difference
	add := func(field string, e, w any) {
		if !reflect.DeepEqual(e, w) {
			out = append(out, Difference{Resource: label, Field: field, Existing: e, Wanted: w})
		}
	}
	orOne := func(n int) int { return max(n, 1) }
	cap := func(n int64) int64 {
		if n <= 0 {
			return -1
		}
		return n
	}
	for _, f := range fields {
		switch f {
		case "Subjects":
			add(f, sortedCopy(existing.Subjects), sortedCopy(wanted.Subjects))
		case "Replicas":
			add(f, orOne(existing.Replicas), orOne(wanted.Replicas))
		case "Storage":
			add(f, existing.Storage.String(), wanted.Storage.String())
		case "Retention":
			add(f, existing.Retention.String(), wanted.Retention.String())
		case "Discard":
			add(f, existing.Discard.String(), wanted.Discard.String())
		case "MaxBytes":
			add(f, cap(existing.MaxBytes), cap(wanted.MaxBytes))
		case "MaxAge":
			add(f, existing.MaxAge, wanted.MaxAge)
		case "Duplicates":
			if wanted.Duplicates > 0 { // 0: the server's default window
				add(f, existing.Duplicates, wanted.Duplicates)
			}
		case "MaxMsgsPerSubject":
			add(f, existing.MaxMsgsPerSubject, wanted.MaxMsgsPerSubject)
		case "AllowDirect":
			add(f, existing.AllowDirect, wanted.AllowDirect)
		}
	}
	return out
}

// DiffConsumer returns the settings of an existing durable consumer that
// differ from wanted (the ones the platform sets).
func DiffConsumer(label string, existing, wanted jetstream.ConsumerConfig) []Difference {
	var out []Difference
	add := func(field string, e, w any) {
		if !reflect.DeepEqual(e, w) {
			out = append(out, Difference{Resource: label, Field: field, Existing: e, Wanted: w})
		}
	}
	add("FilterSubject", existing.FilterSubject, wanted.FilterSubject)
	add("DeliverPolicy", existing.DeliverPolicy.String(), wanted.DeliverPolicy.String())
	add("AckPolicy", existing.AckPolicy.String(), wanted.AckPolicy.String())
	add("AckWait", existing.AckWait, wanted.AckWait)
	if wanted.MaxDeliver != 0 {
		add("MaxDeliver", existing.MaxDeliver, wanted.MaxDeliver)
	}
	if wanted.MaxAckPending != 0 {
		add("MaxAckPending", existing.MaxAckPending, wanted.MaxAckPending)
	}
	return out
}

func sortedCopy(s []string) []string {
	c := append([]string{}, s...)
	sort.Strings(c)
	return c
}

// currentReads are the buckets whose reads must see the latest write: with
// replicas their streams refuse direct gets, so a read goes to the leader.
// That is every bucket: an execution's record, a claim, a lease, a lock, a
// name taken, and the heartbeats too, since the sweeper hands back the
// executions of a worker it does not see beating (a stale answer there
// means a run twice).
func currentReads(string) bool { return true }

// layout is every resource of the platform, in the order Setup declares
// them, as o configures them. Pure: TestLayout checks the replicas.
func layout(o SetupOptions) (kvs []resource, objs []resource, streams []resource, consumers []jetstream.ConsumerConfig) {
	maxBytes := int64(-1)
	if o.MaxBytes > 0 {
		maxBytes = o.MaxBytes
	}
	replicas := max(o.Replicas, 1)
	// Direct gets stay on at one replica: the only server is the leader.
	direct := func(current bool) bool { return replicas == 1 || !current }
	for _, k := range []jetstream.KeyValueConfig{
		{Bucket: BucketUsers, Description: "users and the username index"},
		{Bucket: BucketFunctions, Description: "functions and the per-owner name index"},
		{Bucket: BucketExecutions, Description: "execution records"},
		{Bucket: BucketExecutionIndex, Description: "per-owner creation index of executions, for paged listings"},
		{Bucket: BucketWorkers, Description: "worker heartbeats", TTL: WorkerTTL},
		{Bucket: BucketActive, Description: "executions not yet ended: their job and lease"},
		{Bucket: BucketDeadLetters, Description: "executions that used up their attempts"},
		{Bucket: BucketLocks, Description: "leases of singleton loops (sweeper)", TTL: LockTTL},
		{Bucket: BucketIdempotency, Description: "Idempotency-Key → execution", TTL: IdempotencyTTL},
	} {
		k.History = kvHistory
		k.Storage = jetstream.FileStorage
		k.MaxBytes = maxBytes
		k.Replicas = replicas
		kvs = append(kvs, resource{kind: kindBucket, kv: k, direct: direct(currentReads(k.Bucket))})
	}
	for _, c := range []jetstream.ObjectStoreConfig{
		{Bucket: ObjectStoreExecData, Description: "execution inputs, outputs and logs too large for a KV record"},
		{Bucket: ObjectStoreFunctionObjects, Description: "functions' objects, named <function_id>/<name>"},
	} {
		c.Storage = jetstream.FileStorage
		c.MaxBytes = maxBytes
		c.Replicas = replicas
		objs = append(objs, resource{kind: kindObjectStore, obj: c, direct: direct(true)})
	}
	for _, c := range []jetstream.StreamConfig{{
		Name:        StreamExecutions,
		Description: "jobs for the workers and announcements of ended executions",
		Subjects:    []string{SubjectPending, SubjectResults},
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      StreamMaxAge,
		Duplicates:  DuplicateWindow,
		// Full, it refuses new jobs rather than dropping queued ones.
		Discard: jetstream.DiscardNew,
	}, {
		Name:        StreamAdvisories,
		Description: "MAX_DELIVERIES advisories of the workers' consumer, kept for the sweeper",
		Subjects:    []string{MaxDeliveriesAdvisory},
		MaxAge:      StreamMaxAge,
	}, {
		Name:        StreamEnded,
		Description: "ended executions in the order they ended, for retention",
		Subjects:    []string{SubjectEnded},
		MaxAge:      o.Retention + StreamMaxAge,
		Duplicates:  DuplicateWindow,
		Discard:     jetstream.DiscardNew,
	}} {
		c.Storage = jetstream.FileStorage
		c.MaxBytes = maxBytes
		c.Replicas = replicas
		streams = append(streams, resource{kind: kindStream, stream: c, direct: false})
	}
	consumers = []jetstream.ConsumerConfig{{
		Durable:       ConsumerWorkers,
		Description:   "workers pulling jobs",
		FilterSubject: SubjectPending,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       AckWait,
		MaxDeliver:    o.MaxDeliver,
		MaxAckPending: MaxAckPending,
	}, {
		Durable:       ConsumerAdvisories,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       AckWait,
	}}
	return kvs, objs, streams, consumers
}

// Setup declares the buckets, object stores, streams and durable consumers
// the platform needs and returns handles on them.
//
// The owner (SetupOwn: the gateway) creates what is missing. What exists is
// compared with the configuration and each difference is logged as a
// warning naming resource, field, existing and wanted values; it is applied
// only with Apply (NATS_SETUP=apply). Not applying by default is what keeps
// two versions (or two gateways configured differently) running side by
// side from flipping a stream's settings back and forth at every restart:
// the configuration of what exists changes only when an operator asks.
//
// A checker (SetupCheck: workers, the autoscaler) never writes: it binds to
// what exists, reports differences, and waits (o.Wait, bounded by ctx)
// while the owner has not created something yet.
func Setup(ctx context.Context, js jetstream.JetStream, opts ...SetupOptions) (*Buckets, error) {
	var o SetupOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.MaxDeliver <= 0 {
		o.MaxDeliver = domain.DefaultRetryPolicy.MaxDeliveries()
	}
	if o.Retention <= 0 {
		o.Retention = domain.DefaultRetention
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Wait.Tries == 0 {
		o.Wait = checkWait
	}
	s := &setup{js: js, o: o}
	kvs, objs, streams, consumers := layout(o)
	var b Buckets
	kvDst := []**Bucket{&b.Users, &b.Functions, &b.Executions, &b.ExecutionIndex, &b.Workers, &b.Active, &b.DeadLetters, &b.Locks, &b.Idempotency}
	for i, r := range kvs {
		kv, err := s.bucket(ctx, r)
		if err != nil {
			return nil, err
		}
		*kvDst[i] = newBucket(js, kv)
		(*kvDst[i]).leaderReads = !r.direct
	}
	for _, r := range objs {
		obj, err := s.objectStore(ctx, r)
		if err != nil {
			return nil, err
		}
		if r.obj.Bucket == ObjectStoreExecData {
			b.ExecutionData = obj
		}
	}
	streamDst := []*jetstream.Stream{&b.Stream, nil, &b.Ended}
	for i, r := range streams {
		st, err := s.stream(ctx, r)
		if err != nil {
			return nil, err
		}
		if streamDst[i] != nil {
			*streamDst[i] = st
		}
	}
	var err error
	if b.Consumer, err = s.consumer(ctx, StreamExecutions, consumers[0]); err != nil {
		return nil, err
	}
	if b.Advisories, err = s.consumer(ctx, StreamAdvisories, consumers[1]); err != nil {
		return nil, err
	}
	b.Differences = s.diffs
	return &b, nil
}

// setup is one run of Setup.
type setup struct {
	js    jetstream.JetStream
	o     SetupOptions
	diffs []Difference
}

// find calls get until it finds the resource. The owner tries once (absent:
// it creates); a checker waits while it is absent.
func (s *setup) find(ctx context.Context, label string, get func() error, notFound error) (found bool, err error) {
	if s.o.Mode == SetupOwn {
		err := get()
		if errors.Is(err, notFound) {
			return false, nil
		}
		return err == nil, err
	}
	waited := false
	err = retry.Do(ctx, s.o.Wait, func() error {
		err := get()
		if errors.Is(err, notFound) {
			if !waited {
				s.o.Logger.Info("waiting for the gateway to set up nats", zap.String("resource", label))
				waited = true
			}
			return err
		}
		if err != nil && !transient(err) {
			return retry.Permanent(err)
		}
		return err
	})
	if errors.Is(err, notFound) || (err != nil && ctx.Err() != nil) {
		return false, fmt.Errorf("%w: %s: %w", ErrNotSetUp, label, err)
	}
	return err == nil, err
}

// transient reports whether err may go away by itself: a cluster electing a
// leader, a reconnection.
func transient(err error) bool {
	return errors.Is(unavailable(err), domain.ErrUnavailable) || errors.Is(err, jetstream.ErrStreamNotFound) ||
		errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrBucketNotFound)
}

// compare reports the differences of the existing stream behind r and says
// whether to apply them.
func (s *setup) compare(ctx context.Context, r resource) (apply bool, err error) {
	st, err := s.js.Stream(ctx, r.streamName())
	if err != nil {
		return false, fmt.Errorf("setup: %s: %w", r.label(), err)
	}
	d := DiffStream(r.label(), streamFields[r.kind], st.CachedInfo().Config, r.wanted())
	s.report(d)
	return len(d) > 0 && s.o.Mode == SetupOwn && s.o.Apply, nil
}

func (s *setup) report(ds []Difference) {
	for _, d := range ds {
		s.diffs = append(s.diffs, d)
		s.o.Logger.Warn("nats resource differs from the configuration",
			zap.String("resource", d.Resource), zap.String("field", d.Field),
			zap.Any("existing", d.Existing), zap.Any("wanted", d.Wanted),
			zap.Bool("applied", s.o.Mode == SetupOwn && s.o.Apply))
	}
}

// setDirect sets AllowDirect of stream name.
func (s *setup) setDirect(ctx context.Context, name string, allow bool) error {
	st, err := s.js.Stream(ctx, name)
	if err != nil {
		return err
	}
	cfg := st.CachedInfo().Config
	if cfg.AllowDirect == allow {
		return nil
	}
	cfg.AllowDirect = allow
	_, err = s.js.UpdateStream(ctx, cfg)
	return err
}

// declareStore declares the bucket or object store r through get, create
// and update. nats.go creates every store with AllowDirect; where r wants it
// off, the stream is updated right after, before any handle is opened, so
// the handles opened afterwards read through the leader.
func (s *setup) declareStore(ctx context.Context, r resource, get, create, update func() error) error {
	found, err := s.find(ctx, r.label(), get, jetstream.ErrBucketNotFound)
	if err != nil {
		return fmt.Errorf("setup: %s: %w", r.label(), err)
	}
	write := !found
	if found {
		if write, err = s.compare(ctx, r); err != nil {
			return err
		}
	}
	if !write {
		return nil
	}
	if !found {
		err = create()
		if errors.Is(err, jetstream.ErrBucketExists) || errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			err = nil // another gateway made it meanwhile
		}
	} else {
		err = update()
	}
	if err == nil {
		err = s.setDirect(ctx, r.streamName(), r.direct)
	}
	if err != nil {
		return fmt.Errorf("setup: %s: %w", r.label(), err)
	}
	return nil
}

// bucket declares the KV bucket r and opens it.
func (s *setup) bucket(ctx context.Context, r resource) (jetstream.KeyValue, error) {
	if err := s.declareStore(ctx, r,
		func() error { _, err := s.js.KeyValue(ctx, r.kv.Bucket); return err },
		func() error { _, err := s.js.CreateKeyValue(ctx, r.kv); return err },
		func() error { _, err := s.js.UpdateKeyValue(ctx, r.kv); return err }); err != nil {
		return nil, err
	}
	kv, err := s.js.KeyValue(ctx, r.kv.Bucket)
	if err != nil {
		return nil, fmt.Errorf("setup: %s: %w", r.label(), err)
	}
	return kv, nil
}

// objectStore declares the object store r and opens it.
func (s *setup) objectStore(ctx context.Context, r resource) (jetstream.ObjectStore, error) {
	if err := s.declareStore(ctx, r,
		func() error { _, err := s.js.ObjectStore(ctx, r.obj.Bucket); return err },
		func() error { _, err := s.js.CreateObjectStore(ctx, r.obj); return err },
		func() error { _, err := s.js.UpdateObjectStore(ctx, r.obj); return err }); err != nil {
		return nil, err
	}
	obj, err := s.js.ObjectStore(ctx, r.obj.Bucket)
	if err != nil {
		return nil, fmt.Errorf("setup: %s: %w", r.label(), err)
	}
	return obj, nil
}

// stream declares the stream r.
func (s *setup) stream(ctx context.Context, r resource) (jetstream.Stream, error) {
	var st jetstream.Stream
	found, err := s.find(ctx, r.label(), func() error { var err error; st, err = s.js.Stream(ctx, r.stream.Name); return err }, jetstream.ErrStreamNotFound)
	if err != nil {
		return nil, fmt.Errorf("setup: %s: %w", r.label(), err)
	}
	if !found {
		st, err = s.js.CreateStream(ctx, r.wanted())
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			st, err = s.js.Stream(ctx, r.stream.Name)
		}
	} else {
		d := DiffStream(r.label(), streamFields[r.kind], st.CachedInfo().Config, r.wanted())
		s.report(d)
		if len(d) > 0 && s.o.Mode == SetupOwn && s.o.Apply {
			st, err = s.js.UpdateStream(ctx, r.wanted())
		}
	}
	if err != nil {
		return nil, fmt.Errorf("setup: %s: %w", r.label(), err)
	}
	return st, nil
}

// consumer declares the durable consumer cfg of stream.
func (s *setup) consumer(ctx context.Context, stream string, cfg jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	label := "consumer " + stream + "/" + cfg.Durable
	var c jetstream.Consumer
	found, err := s.find(ctx, label, func() error { var err error; c, err = s.js.Consumer(ctx, stream, cfg.Durable); return err }, jetstream.ErrConsumerNotFound)
	if err != nil {
		return nil, fmt.Errorf("setup: %s: %w", label, err)
	}
	if !found {
		c, err = s.js.CreateConsumer(ctx, stream, cfg)
		if errors.Is(err, jetstream.ErrConsumerExists) {
			c, err = s.js.Consumer(ctx, stream, cfg.Durable)
		}
	} else {
		d := DiffConsumer(label, c.CachedInfo().Config, cfg)
		s.report(d)
		if len(d) > 0 && s.o.Mode == SetupOwn && s.o.Apply {
			c, err = s.js.UpdateConsumer(ctx, stream, cfg)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("setup: %s: %w", label, err)
	}
	return c, nil
}

// openObjectStore binds to the object store cfg.Bucket as Setup made it
// (its replicas, its direct-get setting), creating it with cfg only when
// absent (a test without Setup). It never rewrites an existing store's
// configuration, which is the owner's Setup's alone.
func openObjectStore(ctx context.Context, js jetstream.JetStream, cfg jetstream.ObjectStoreConfig) (jetstream.ObjectStore, error) {
	os, err := js.ObjectStore(ctx, cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		os, err = js.CreateObjectStore(ctx, cfg)
		if errors.Is(err, jetstream.ErrBucketExists) || errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			os, err = js.ObjectStore(ctx, cfg.Bucket)
		}
	}
	return os, err
}

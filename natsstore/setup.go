package natsstore

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/faasplatform/faas/domain"
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
}

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
}

// Setup creates the buckets, object store, stream and durable consumer the
// platform needs, or brings existing ones to the configuration below. It is
// idempotent, so every process (gateway, worker) may run it at start,
// against the embedded server or an external one.
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
	maxBytes := int64(-1)
	if o.MaxBytes > 0 {
		maxBytes = o.MaxBytes
	}
	var b Buckets
	kvs := []struct {
		dst **Bucket
		cfg jetstream.KeyValueConfig
	}{
		{&b.Users, jetstream.KeyValueConfig{Bucket: BucketUsers, Description: "users and the username index"}},
		{&b.Functions, jetstream.KeyValueConfig{Bucket: BucketFunctions, Description: "functions and the per-owner name index"}},
		{&b.Executions, jetstream.KeyValueConfig{Bucket: BucketExecutions, Description: "execution records"}},
		{&b.ExecutionIndex, jetstream.KeyValueConfig{Bucket: BucketExecutionIndex, Description: "per-owner creation index of executions, for paged listings"}},
		{&b.Workers, jetstream.KeyValueConfig{Bucket: BucketWorkers, Description: "worker heartbeats", TTL: WorkerTTL}},
		{&b.Active, jetstream.KeyValueConfig{Bucket: BucketActive, Description: "executions not yet ended: their job and lease"}},
		{&b.DeadLetters, jetstream.KeyValueConfig{Bucket: BucketDeadLetters, Description: "executions that used up their attempts"}},
		{&b.Locks, jetstream.KeyValueConfig{Bucket: BucketLocks, Description: "leases of singleton loops (sweeper)", TTL: LockTTL}},
		{&b.Idempotency, jetstream.KeyValueConfig{Bucket: BucketIdempotency, Description: "Idempotency-Key → execution", TTL: IdempotencyTTL}},
	}
	for _, k := range kvs {
		k.cfg.History = kvHistory
		k.cfg.Storage = jetstream.FileStorage
		k.cfg.MaxBytes = maxBytes
		kv, err := js.CreateOrUpdateKeyValue(ctx, k.cfg)
		if err != nil {
			return nil, fmt.Errorf("setup: bucket %s: %w", k.cfg.Bucket, err)
		}
		*k.dst = newBucket(js, kv)
	}

	obj, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      ObjectStoreExecData,
		Description: "execution inputs, outputs and logs too large for a KV record",
		Storage:     jetstream.FileStorage,
		MaxBytes:    maxBytes,
	})
	if err != nil {
		return nil, fmt.Errorf("setup: object store %s: %w", ObjectStoreExecData, err)
	}
	b.ExecutionData = obj

	stream, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        StreamExecutions,
		Description: "jobs for the workers and announcements of ended executions",
		Subjects:    []string{SubjectPending, SubjectResults},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		MaxAge:      StreamMaxAge,
		Duplicates:  DuplicateWindow,
		// Full, it refuses new jobs rather than dropping queued ones.
		Discard:  jetstream.DiscardNew,
		MaxBytes: maxBytes,
	})
	if err != nil {
		return nil, fmt.Errorf("setup: stream %s: %w", StreamExecutions, err)
	}
	b.Stream = stream

	cons, err := js.CreateOrUpdateConsumer(ctx, StreamExecutions, jetstream.ConsumerConfig{
		Durable:       ConsumerWorkers,
		Description:   "workers pulling jobs",
		FilterSubject: SubjectPending,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       AckWait,
		MaxDeliver:    o.MaxDeliver,
		MaxAckPending: MaxAckPending,
	})
	if err != nil {
		return nil, fmt.Errorf("setup: consumer %s: %w", ConsumerWorkers, err)
	}
	b.Consumer = cons

	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        StreamAdvisories,
		Description: "MAX_DELIVERIES advisories of the workers' consumer, kept for the sweeper",
		Subjects:    []string{MaxDeliveriesAdvisory},
		Storage:     jetstream.FileStorage,
		MaxAge:      StreamMaxAge,
		MaxBytes:    maxBytes,
	}); err != nil {
		return nil, fmt.Errorf("setup: stream %s: %w", StreamAdvisories, err)
	}
	ended, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        StreamEnded,
		Description: "ended executions in the order they ended, for retention",
		Subjects:    []string{SubjectEnded},
		Storage:     jetstream.FileStorage,
		MaxAge:      o.Retention + StreamMaxAge,
		Duplicates:  DuplicateWindow,
		Discard:     jetstream.DiscardNew,
		MaxBytes:    maxBytes,
	})
	if err != nil {
		return nil, fmt.Errorf("setup: stream %s: %w", StreamEnded, err)
	}
	b.Ended = ended
	adv, err := js.CreateOrUpdateConsumer(ctx, StreamAdvisories, jetstream.ConsumerConfig{
		Durable:   ConsumerAdvisories,
		AckPolicy: jetstream.AckExplicitPolicy,
		AckWait:   AckWait,
	})
	if err != nil {
		return nil, fmt.Errorf("setup: consumer %s: %w", ConsumerAdvisories, err)
	}
	b.Advisories = adv
	return &b, nil
}

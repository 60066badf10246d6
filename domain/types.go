package domain

import (
	"encoding/json"
	"time"
)

// User is a registered account. PasswordHash never leaves the process: it has
// no JSON name, and stores persist it through their own record types.
type User struct {
	ID           string    `json:"id"`
	Username     string    `json:"username"`
	Email        string    `json:"email"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
	PasswordHash string    `json:"-"`
	// TokenGeneration counts password changes and logouts: only tokens
	// issued for the current generation are accepted.
	TokenGeneration int `json:"-"`
}

// Network modes of a function's container.
const (
	NetworkNone     = "none"
	NetworkInternal = "internal"
)

// Function defaults and bounds (contract §3).
const (
	DefaultTimeoutSeconds = 300
	MaxTimeoutSeconds     = 300
	DefaultMemoryMB       = 512
	MinMemoryMB           = 6
	MaxMemoryMB           = 16384
	DefaultCPUs           = 1.0
	MaxCPUs               = 64.0
	MaxEnvVars            = 64
	MaxEnvValueBytes      = 4096
	MaxDescriptionBytes   = 1024
)

// Function is a user's deployable unit: an image run once per execution.
type Function struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	ImageURL    string            `json:"image_url"`
	Description string            `json:"description"`
	Owner       string            `json:"owner"`
	Timeout     int               `json:"timeout"`
	MemoryMB    int               `json:"memory_mb"`
	CPUs        float64           `json:"cpus"`
	Env         map[string]string `json:"env"`
	Network     string            `json:"network"`
	// MaxRetries is how many times a failure of the function itself is
	// retried (0 to MaxFunctionRetries).
	MaxRetries int `json:"max_retries"`
	// Warm lets the worker keep the function's container between its
	// executions (each still a fresh process, contract §4); false gives
	// every execution a container of its own. Default true, also for a
	// stored function written before the field existed (UnmarshalJSON).
	Warm      bool      `json:"warm"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// UnmarshalJSON decodes f with Warm true unless the JSON says otherwise, so
// that functions stored before the field existed keep the default.
func (f *Function) UnmarshalJSON(b []byte) error {
	type plain Function // without this method
	p := plain{Warm: true}
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*f = Function(p)
	return nil
}

// Status is an execution's state.
type Status string

// Execution statuses (contract §3).
const (
	StatusPending   Status = "pending"
	StatusRunning   Status = "running"
	StatusComplete  Status = "complete"
	StatusFailed    Status = "failed"
	StatusCancelled Status = "cancelled"
	StatusTimeout   Status = "timeout"
)

// Final reports whether s is an end state: nothing may change it afterwards.
func (s Status) Final() bool {
	switch s {
	case StatusComplete, StatusFailed, StatusCancelled, StatusTimeout:
		return true
	}
	return false
}

// Valid reports whether s is one of the contract's statuses.
func (s Status) Valid() bool {
	return s == StatusPending || s == StatusRunning || s.Final()
}

// Execution limits (contract §3 and §4).
const (
	MaxInputBytes  = 192 << 10 // input over this → ErrPayloadTooLarge
	MaxOutputBytes = 1 << 20   // stdout over this → failed
	MaxLogBytes    = 1 << 20   // stderr cut here, Truncated set
)

// Execution is one run of a function. Durations are in seconds. Logs are
// served by their own route, so they carry no JSON name here.
type Execution struct {
	ID         string     `json:"id"`
	FunctionID string     `json:"function_id"`
	Owner      string     `json:"owner"`
	Status     Status     `json:"status"`
	Input      string     `json:"input"`
	Output     string     `json:"output"`
	Error      string     `json:"error"`
	CreatedAt  time.Time  `json:"created_at"`
	StartTime  *time.Time `json:"start_time"`
	EndTime    *time.Time `json:"end_time"`
	Duration   float64    `json:"duration"`
	Attempts   int        `json:"attempts"`
	WorkerID   string     `json:"worker_id,omitempty"`
	// QueueDuration is the time from creation to the start of the run that
	// ended it; StartupDuration the time the container took to start.
	QueueDuration   float64 `json:"queue_duration"`
	StartupDuration float64 `json:"startup_duration"`
	// ColdStart tells whether the run that ended it started a container
	// (true) or was given a warm one of its function (false).
	ColdStart bool `json:"cold_start"`

	// RedriveOf is the dead letter this execution redrives.
	RedriveOf string `json:"redrive_of,omitempty"`
	// DeadAt is when the execution became a dead letter (it used up its
	// attempts).
	DeadAt *time.Time `json:"dead_at,omitempty"`

	Logs          string `json:"-"`
	LogsTruncated bool   `json:"-"`
	// RetryAt is when a requeued execution may run again; the counters
	// are the failed attempts by cause (RetryPolicy.Next). Stores persist
	// them; the API does not show them.
	RetryAt          *time.Time `json:"-"`
	PlatformFailures int        `json:"-"`
	FunctionFailures int        `json:"-"`

	// MaxMemoryBytes is the container's peak memory and CPUSeconds the CPU
	// time it used, read from its cgroup before removal (0: unknown).
	MaxMemoryBytes int64   `json:"max_memory_bytes"`
	CPUSeconds     float64 `json:"cpu_seconds"`
}

// ExecutionFilter narrows a listing. Zero values mean "any".
type ExecutionFilter struct {
	FunctionID string
	Status     Status
	Limit      int
	// Cursor continues a listing where the page that returned it as Next
	// stopped; empty starts at the newest execution. It is opaque: only the
	// store that issued it reads it, and a malformed one is ErrInvalidInput.
	Cursor string
}

// ExecutionPage is one page of a listing, newest first. Next, when not
// empty, is the Cursor of the page that follows (older executions); a page
// may hold fewer than the limit and still have a Next when the filters
// skipped many executions. Empty Next means nothing older remains.
type ExecutionPage struct {
	Executions []*Execution
	Next       string
}

// DeadLetter is an execution that used up its attempts, listed until it is
// redriven or discarded (contract §3).
type DeadLetter struct {
	ExecutionID string    `json:"execution_id"`
	FunctionID  string    `json:"function_id"`
	Owner       string    `json:"-"`
	Error       string    `json:"error"`
	Attempts    int       `json:"attempts"`
	CreatedAt   time.Time `json:"created_at"`
	DeadAt      time.Time `json:"dead_at"`
}

// DeadLetterOf is the dead-letter entry of e, which DeadLetter ended.
func DeadLetterOf(e *Execution) DeadLetter {
	d := DeadLetter{ExecutionID: e.ID, FunctionID: e.FunctionID, Owner: e.Owner, Error: e.Error, Attempts: e.Attempts, CreatedAt: e.CreatedAt}
	if e.DeadAt != nil {
		d.DeadAt = *e.DeadAt
	}
	return d
}

// Listing limits.
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

// Lease is the live state of an execution that has not ended: where its job
// is and, while an attempt runs, which worker holds it. A holder renews it
// while it runs; a lease not renewed within LeaseTTL belongs to a dead worker
// and its execution is taken back (see the sweeper).
type Lease struct {
	ExecutionID string    `json:"execution_id"`
	Owner       string    `json:"owner"`
	FunctionID  string    `json:"function_id"`
	CreatedAt   time.Time `json:"created_at"`
	// JobSeq is the job's stream sequence; 0 until it is published.
	JobSeq uint64 `json:"job_seq,omitempty"`
	// WorkerID and Attempt name the holder; empty while pending.
	WorkerID string `json:"worker_id,omitempty"`
	Attempt  int    `json:"attempt,omitempty"`
	// Delivery lets another process settle the holder's delivery of the
	// job (hand it back at once when the holder died).
	Delivery string `json:"delivery,omitempty"`
	// Revision and Written are the store's revision and time of the last
	// write (the last renewal while held).
	Revision uint64    `json:"-"`
	Written  time.Time `json:"-"`
}

// DefaultRetention is how long an ended execution is kept, with its output,
// logs and data objects, when EXECUTION_RETENTION is not set; MinRetention
// is the shortest accepted (for tests).
const (
	DefaultRetention = 168 * time.Hour
	MinRetention     = 10 * time.Second
)

// Lease timing. A holder renews every LeaseRenew; a lease unrenewed for
// LeaseTTL is dead. With the sweeper's pass every SweepInterval, a dead
// worker's execution is taken back within LeaseTTL+SweepInterval.
const (
	LeaseTTL      = 10 * time.Second
	LeaseRenew    = 3 * time.Second
	SweepInterval = 3 * time.Second
)

// Held reports whether l names the given attempt as its holder.
func (l *Lease) Held(worker string, attempt int) bool {
	return l.WorkerID == worker && l.Attempt == attempt && worker != ""
}

// IdempotencyRecord binds a user's Idempotency-Key to the execution it made
// and what it was made of, so that a replay with other content is refused.
type IdempotencyRecord struct {
	ExecutionID string `json:"execution_id"`
	FunctionID  string `json:"function_id"`
	InputSHA256 string `json:"input_sha256"`
}

// MaxIdempotencyKeyBytes bounds an Idempotency-Key (contract §3: 1–128
// printable characters).
const MaxIdempotencyKeyBytes = 128

// ValidateIdempotencyKey checks an Idempotency-Key header value.
func ValidateIdempotencyKey(k string) error {
	if len(k) < 1 || len(k) > MaxIdempotencyKeyBytes {
		return Invalid("Idempotency-Key must be 1 to %d printable characters", MaxIdempotencyKeyBytes)
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return Invalid("Idempotency-Key must be 1 to %d printable characters", MaxIdempotencyKeyBytes)
		}
	}
	return nil
}

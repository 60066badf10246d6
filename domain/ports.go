package domain

import (
	"context"
	"time"
)

// UserStore keeps users. Create is atomic on the username (case-insensitive):
// of two concurrent creates of one name exactly one succeeds, the other gets
// ErrConflict. Update runs mutate on the current value and writes it with a
// revision check, retrying on a concurrent write, so no update is lost.
type UserStore interface {
	Create(ctx context.Context, u *User) error
	Get(ctx context.Context, id string) (*User, error)                              // ErrUserNotFound
	GetByUsername(ctx context.Context, username string) (*User, error)              // ErrUserNotFound
	Update(ctx context.Context, id string, mutate func(*User) error) (*User, error) // mutate's error aborts
	Delete(ctx context.Context, id string) error                                    // ErrUserNotFound
}

// FunctionStore keeps functions, scoped by owner: a function of another owner
// is ErrFunctionNotFound. Names are unique per owner (ErrConflict), enforced
// atomically, including on rename through Update.
type FunctionStore interface {
	Create(ctx context.Context, f *Function) error
	Get(ctx context.Context, owner, id string) (*Function, error)
	List(ctx context.Context, owner string) ([]*Function, error) // by name
	Update(ctx context.Context, owner, id string, mutate func(*Function) error) (*Function, error)
	Delete(ctx context.Context, owner, id string) error
	DeleteOwner(ctx context.Context, owner string) error // every function of owner
}

// ExecutionStore keeps execution records, scoped by owner like functions.
// Get returns Output and Logs too; List leaves Input, Output and Logs empty.
// List answers one page of at most f.Limit executions, newest first, and
// costs about the same however many executions the owner has: a page reads
// what it returns plus a bounded overhead, never the whole history.
// Update is revision-checked like UserStore.Update: mutate sees the latest
// value and may refuse (return an error) e.g. when the status is final.
type ExecutionStore interface {
	Create(ctx context.Context, e *Execution) error
	Get(ctx context.Context, owner, id string) (*Execution, error) // ErrExecutionNotFound
	List(ctx context.Context, owner string, f ExecutionFilter) (ExecutionPage, error)
	Update(ctx context.Context, owner, id string, mutate func(*Execution) error) (*Execution, error)
	// Watch sends the record each time it changes (the current value first)
	// until ctx ends; the channel is closed then.
	Watch(ctx context.Context, owner, id string) (<-chan *Execution, error)
	DeleteOwner(ctx context.Context, owner string) error
}

// Job is the message that asks a worker to run one execution.
type Job struct {
	ExecutionID string `json:"execution_id"`
	FunctionID  string `json:"function_id"`
	Owner       string `json:"owner"`
}

// JobQueue accepts jobs for the workers (stream EXECUTIONS, subject
// executions.pending). msgID dedupes: a second publish of one id within the
// stream's duplicate window is dropped. It returns the job's stream sequence.
type JobQueue interface {
	Enqueue(ctx context.Context, j Job, msgID string) (uint64, error)
}

// Delivery is one delivery of a Job to a worker. Delivered counts the
// server's deliveries of the job from 1 (attempts are counted in the
// execution's record, not here). Ref names the delivery so that another
// process can settle it if this one dies; JobSeq is the job's position.
type Delivery interface {
	Job() Job
	Delivered() int
	Ref() string
	JobSeq() uint64
	Ack() error
	// Retry asks for redelivery after delay (a failure of the platform, not
	// of the function).
	Retry(delay time.Duration) error
	// InProgress extends the ack deadline while a long run goes on.
	InProgress() error
	// Drop ends the delivery for good: no redelivery.
	Drop() error
}

// ResultPublisher announces an ended execution on executions.results.
type ResultPublisher interface {
	PublishResult(ctx context.Context, e *Execution) error
}

// RunSpec is what a Runtime needs to run one execution.
type RunSpec struct {
	ExecutionID string
	FunctionID  string
	WorkerID    string
	// Owner and Version (the function's updated_at) name the function a
	// warm container may serve: a container is never given to another
	// owner, another function or another version of it.
	Owner   string
	Version string
	// Warm allows a warm container (the function's "warm"); false runs
	// the execution in a container of its own, removed afterwards.
	Warm  bool
	Image string
	// Env is the function's env plus the FAAS_* variables; those
	// PerExecutionEnv names differ between executions of one function.
	Env      map[string]string
	Input    []byte
	MemoryMB int
	CPUs     float64
	Timeout  time.Duration
	Network  string
}

// RunResult is what a run produced. A Runtime returns an error only when the
// platform failed (daemon unreachable, image absent: ErrImageNotFound); a
// function that fails, times out or is killed is a RunResult.
type RunResult struct {
	ExitCode        int
	Stdout          []byte // at most MaxOutputBytes
	StdoutOverflow  bool   // the function wrote more than MaxOutputBytes
	Stderr          []byte // at most MaxLogBytes
	StderrTruncated bool
	OOMKilled       bool
	TimedOut        bool          // spec.Timeout passed; the container was killed
	Cancelled       bool          // ctx ended first; the container was killed
	StartupDuration time.Duration // from the request to a started container
	RunDuration     time.Duration // from start to exit
	// MaxMemoryBytes and CPUSeconds: the execution's peak memory and CPU
	// time from its container's cgroup (0 when unknown). In a warm
	// container CPU is the cgroup's delta over the execution; memory is
	// the peak since the execution began where the cgroup can be reset
	// (v1), else the container's peak so far (an upper bound).
	MaxMemoryBytes int64
	CPUSeconds     float64
	// ColdStart: a container was created for this run (false: a warm
	// container of the function served it).
	ColdStart bool
}

// Inside a function with network "internal", its objects are at
// $FAAS_API_URL/function-objects/$FAAS_FUNCTION_ID/<name>: the runtime
// serves InternalAPIPort on the container's own loopback, the worker sets
// FAAS_API_URL to InternalAPIURL.
const (
	InternalAPIPort = 9080
	InternalAPIURL  = "http://127.0.0.1:9080/api"
)

// PerExecutionEnv reports whether the variable k of RunSpec.Env changes
// from one execution of a function to the next; the rest of Env is the
// function's own and may be set once on a warm container.
func PerExecutionEnv(k string) bool {
	switch k {
	case "FAAS_EXECUTION_ID", "FAAS_ATTEMPT", "FAAS_TOKEN":
		return true
	}
	return false
}

// Runtime runs one execution with hard limits, whatever happens. The end
// of a run is the end of the execution's process, not of its container: a
// warm runtime keeps the container for the next execution of the same
// function version (RunSpec.Owner, FunctionID, Version) after killing every
// process the execution left, and a cold one (RunSpec.Warm false) removes
// it. Cancelling ctx kills the execution (and its container).
type Runtime interface {
	Run(ctx context.Context, spec RunSpec) (RunResult, error)
}

// WarmRetirer is a Runtime that keeps warm containers: Retire removes those
// of a function (updated or deleted) now rather than at their idle timeout.
type WarmRetirer interface {
	Retire(owner, functionID string) int
}

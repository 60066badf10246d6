package domain

import "time"

// User is a registered account. PasswordHash never leaves the process: it has
// no JSON name, and stores persist it through their own record types.
type User struct {
	ID           string    `json:"id"`
	Username     string    `json:"username"`
	Email        string    `json:"email"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
	PasswordHash string    `json:"-"`
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
	CreatedAt   time.Time         `json:"created_at"`
	UpdatedAt   time.Time         `json:"updated_at"`
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

	Logs          string `json:"-"`
	LogsTruncated bool   `json:"-"`
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

// Listing limits.
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

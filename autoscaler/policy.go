package autoscaler

import (
	"fmt"
	"sort"
	"time"
)

// Worker states the policy reads (the heartbeat's status, contract §6),
// plus StatusStarting for a worker the backend runs that has not beaten yet.
const (
	StatusIdle     = "idle"
	StatusBusy     = "busy"
	StatusDraining = "draining"
	StatusStarting = "starting"
)

// Policy is the autoscaler's configuration (contract §2, §6).
type Policy struct {
	Min, Max int // MIN_WORKERS, MAX_WORKERS
	// Up and Down are SCALE_UP_THRESHOLD and SCALE_DOWN_THRESHOLD: pending
	// jobs per live worker above Up grows the pool, below Down shrinks it.
	Up, Down int
	Cooldown time.Duration // COOLDOWN_PERIOD: never two changes closer
}

// WorkerLoad is one worker the backend runs, as its heartbeat shows it.
type WorkerLoad struct {
	ID     string
	Status string // StatusIdle, StatusBusy, StatusDraining or StatusStarting
	Active int    // executions running
	Slots  int    // MAX_CONCURRENT_EXECUTIONS of the worker
}

// Input is what one decision looks at.
type Input struct {
	// Pending is the backlog: jobs no worker has taken yet.
	Pending int
	// Workers are the live workers of the backend (a dead one is absent).
	Workers []WorkerLoad
	// Desired is the target of the previous decisions (0: none yet). Live
	// workers fewer than Desired means some died: they are replaced.
	Desired int
	// LastChange is when the pool last grew or shrank (zero: never).
	LastChange time.Time
	Now        time.Time
	Policy     Policy
}

// Decision is what the autoscaler does.
type Decision struct {
	// From is the number of serving (not draining) workers, Target the
	// number wanted: the backend starts workers up to Target; Retire lists
	// the idle workers to drain (Target = From - len(Retire) then).
	From, Target int
	Retire       []string
	Reason       string
	// Changed reports a scale up or down (it starts a cooldown); a dead
	// worker's replacement or a clamp to MIN/MAX is not a change.
	Changed bool
	// Deferred reports a change the cooldown held back.
	Deferred bool
}

// Decide is the policy, a pure function of its input:
//
//   - load = Pending / serving workers (draining ones are leaving);
//   - load > Up: grow, in one step, to enough workers for the backlog:
//     max(serving+1, ceil(Pending/Up)), at most Max;
//   - load < Down: shrink to max(Min, ceil(Pending/Up)) (the smallest pool
//     the backlog would not grow again), retiring idle workers only: a busy
//     or starting worker is never retired, so busy workers with an empty
//     queue stay;
//   - either change waits until Cooldown has passed since the last one;
//   - otherwise hold at max(serving, Desired) clamped to [Min, Max]:
//     dead workers are replaced and the floor and ceiling hold, without
//     waiting for the cooldown.
func Decide(in Input) Decision {
	p := in.Policy
	var serving, idle []WorkerLoad
	for _, w := range in.Workers {
		if w.Status == StatusDraining {
			continue
		}
		serving = append(serving, w)
		if w.Status == StatusIdle && w.Active == 0 {
			idle = append(idle, w)
		}
	}
	n := len(serving)
	d := Decision{From: n}
	clamp := func(x int) int { return max(p.Min, min(p.Max, x)) }
	cooling := !in.LastChange.IsZero() && in.Now.Sub(in.LastChange) < p.Cooldown
	up := max(p.Up, 1)
	backlogNeeds := (in.Pending + up - 1) / up // ceil(Pending/Up)
	hold := n
	if in.Desired > hold {
		hold = in.Desired
	}
	hold = clamp(hold)

	// Above MAX_WORKERS (the setting was lowered): shed idle workers now.
	if n > p.Max {
		d.Retire = pickIdle(idle, n-p.Max)
		d.Target = n - len(d.Retire)
		d.Reason = fmt.Sprintf("above MAX_WORKERS=%d", p.Max)
		return d
	}

	switch {
	case in.Pending > p.Up*n: // load > Up (any backlog with no worker)
		want := clamp(max(n+1, backlogNeeds))
		if want <= hold {
			break // at the ceiling already, or replacing dead workers covers it
		}
		if cooling {
			d.Target, d.Deferred = hold, true
			d.Reason = fmt.Sprintf("scale up to %d deferred: cooldown until %s", want, in.LastChange.Add(p.Cooldown).Format(time.RFC3339Nano))
			return d
		}
		d.Target, d.Changed = want, true
		d.Reason = fmt.Sprintf("pending %d > %d per worker × %d workers: up to %d", in.Pending, p.Up, n, want)
		return d
	case n > 0 && in.Pending < p.Down*n: // load < Down
		floor := clamp(backlogNeeds)
		if n <= floor {
			break
		}
		retire := pickIdle(idle, n-floor)
		if len(retire) == 0 {
			d.Target = n
			d.Reason = fmt.Sprintf("pending %d < %d per worker × %d workers, but no worker is idle", in.Pending, p.Down, n)
			return d
		}
		if cooling {
			d.Target, d.Deferred = hold, true
			d.Reason = fmt.Sprintf("scale down to %d deferred: cooldown until %s", n-len(retire), in.LastChange.Add(p.Cooldown).Format(time.RFC3339Nano))
			return d
		}
		d.Retire, d.Target, d.Changed = retire, n-len(retire), true
		d.Reason = fmt.Sprintf("pending %d < %d per worker × %d workers: down to %d, retiring %d idle", in.Pending, p.Down, n, d.Target, len(retire))
		return d
	}
	d.Target = hold
	switch {
	case n < p.Min && hold > n:
		d.Reason = fmt.Sprintf("below MIN_WORKERS=%d: starting %d", p.Min, hold-n)
	case hold > n:
		d.Reason = fmt.Sprintf("replacing %d dead workers", hold-n)
	default:
		d.Reason = "load within thresholds"
	}
	return d
}

// pickIdle chooses k idle workers, by id for a stable choice.
func pickIdle(idle []WorkerLoad, k int) []string {
	ids := make([]string, 0, len(idle))
	for _, w := range idle {
		ids = append(ids, w.ID)
	}
	sort.Strings(ids)
	if k < len(ids) {
		ids = ids[:k]
	}
	if len(ids) == 0 {
		return nil
	}
	return ids
}

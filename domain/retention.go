package domain

import "time"

// Ended is one entry of the ended-executions log that retention reads in
// the order executions ended: Seq is its position in the log, At when it
// was logged (the end, or within moments of it).
type Ended struct {
	Seq   uint64
	Owner string
	ID    string
	At    time.Time
}

// Due reports whether an execution logged as ended at `at` has outlived
// retention at now: then it goes, with its output, logs and data objects.
func Due(at, now time.Time, retention time.Duration) bool {
	return !now.Before(at.Add(retention))
}

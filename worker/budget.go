package worker

import "sync"

// Budget is a worker's memory budget (WORKER_MEMORY_MB): a job is taken
// only when the memory its function asks for fits beside what runs.
//
// A job asking for more than the whole budget would never fit; rather than
// being pulled and handed back forever it runs alone, once nothing else
// runs (its container's own limit still caps it). So every job runs
// eventually and the budget is passed by at most one oversized job.
type Budget struct {
	mu    sync.Mutex
	total int // MB; 0: no budget
	used  int
	freed chan struct{} // closed (and replaced) at each Release
}

// NewBudget returns a budget of totalMB; 0 or less means no budget.
func NewBudget(totalMB int) *Budget {
	return &Budget{total: max(totalMB, 0), freed: make(chan struct{})}
}

// Total is the budget in MB (0: none).
func (b *Budget) Total() int { return b.total }

// Freed is closed the next time memory is released: a job waiting for room
// tries again then.
func (b *Budget) Freed() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.freed
}

// fits is the pure decision: whether need MB may start with used of total.
func fits(total, used, need int) bool {
	switch {
	case total == 0:
		return true
	case need > total:
		return used == 0
	default:
		return used+need <= total
	}
}

// TryAcquire takes need MB if they fit, reporting whether it did.
func (b *Budget) TryAcquire(need int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !fits(b.total, b.used, need) {
		return false
	}
	b.used += need
	return true
}

// Release gives back need MB taken by TryAcquire.
func (b *Budget) Release(need int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used = max(b.used-need, 0)
	close(b.freed)
	b.freed = make(chan struct{})
}

package docker

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/faasplatform/faas/domain"
)

// poolKey names what a warm container was made for: the owner, the
// function and its version, and everything of the spec that is fixed at
// creation (image, the function's own env, limits, network). A container
// serves only executions of the same key, so an update of the function, or
// another owner's function of the same image, never gets it.
func poolKey(spec domain.RunSpec) string {
	h := sha256.New()
	field := func(s string) { fmt.Fprintf(h, "%d:%s;", len(s), s) }
	field(spec.Owner)
	field(spec.FunctionID)
	field(spec.Version)
	field(spec.Image)
	field(spec.Network)
	field(fmt.Sprint(spec.MemoryMB))
	field(fmt.Sprint(math.Float64bits(spec.CPUs)))
	for _, kv := range functionEnv(spec.Env) {
		field(kv)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// functionEnv is env without the per-execution variables, as sorted
// KEY=VALUE: what a warm container is created with.
func functionEnv(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		if !domain.PerExecutionEnv(k) {
			out = append(out, k+"="+v)
		}
	}
	sort.Strings(out)
	return out
}

// envList is env as sorted KEY=VALUE.
func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// idleInfo is what eviction decides on.
type idleInfo struct {
	since time.Time // idle since
}

// evictions is the pool's pure eviction decision: the indexes of idle
// containers to remove at now, those idle for timeout or longer, then the
// longest idle ones beyond maxIdle (0: no cap).
func evictions(idle []idleInfo, now time.Time, timeout time.Duration, maxIdle int) []int {
	var out []int
	var kept []int
	for i, c := range idle {
		if timeout > 0 && now.Sub(c.since) >= timeout {
			out = append(out, i)
		} else {
			kept = append(kept, i)
		}
	}
	if maxIdle > 0 && len(kept) > maxIdle {
		slices.SortStableFunc(kept, func(a, b int) int { return idle[a].since.Compare(idle[b].since) })
		out = append(out, kept[:len(kept)-maxIdle]...)
	}
	sort.Ints(out)
	return out
}

// warmPool holds the idle warm containers of a Runtime, by key. A
// container is either in the pool (idle) or held by one execution, never
// both, so one container runs one execution at a time.
type warmPool struct {
	mu      sync.Mutex
	idle    map[string][]*warmContainer // most recently used last
	closed  bool
	timeout time.Duration
	maxIdle int
}

func newWarmPool(timeout time.Duration, maxIdle int) *warmPool {
	return &warmPool{idle: map[string][]*warmContainer{}, timeout: timeout, maxIdle: maxIdle}
}

// take returns an idle container of key (nil if none) and the idle
// containers of the same function under another key: the function changed,
// they will never serve again.
func (p *warmPool) take(key, owner, functionID string) (c *warmContainer, stale []*warmContainer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, nil
	}
	if l := p.idle[key]; len(l) > 0 {
		c = l[len(l)-1]
		p.idle[key] = l[:len(l)-1]
		if len(p.idle[key]) == 0 {
			delete(p.idle, key)
		}
		return c, nil
	}
	for k, l := range p.idle {
		if len(l) > 0 && l[0].owner == owner && l[0].functionID == functionID {
			stale = append(stale, l...)
			delete(p.idle, k)
		}
	}
	return nil, stale
}

// put returns c to the pool at now; false when the pool is closed (c is
// the caller's to remove). evicted are containers put out to respect the
// cap.
func (p *warmPool) put(c *warmContainer, now time.Time) (kept bool, evicted []*warmContainer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false, nil
	}
	c.idleSince = now
	p.idle[c.key] = append(p.idle[c.key], c)
	return true, p.evictLocked(now)
}

// expire takes out the containers that evictions picks at now.
func (p *warmPool) expire(now time.Time) []*warmContainer {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.evictLocked(now)
}

func (p *warmPool) evictLocked(now time.Time) []*warmContainer {
	var all []*warmContainer
	for _, l := range p.idle {
		all = append(all, l...)
	}
	info := make([]idleInfo, len(all))
	for i, c := range all {
		info[i] = idleInfo{since: c.idleSince}
	}
	idx := evictions(info, now, p.timeout, p.maxIdle)
	if len(idx) == 0 {
		return nil
	}
	out := make([]*warmContainer, 0, len(idx))
	gone := map[*warmContainer]bool{}
	for _, i := range idx {
		out = append(out, all[i])
		gone[all[i]] = true
	}
	for k, l := range p.idle {
		l = slices.DeleteFunc(l, func(c *warmContainer) bool { return gone[c] })
		if len(l) == 0 {
			delete(p.idle, k)
		} else {
			p.idle[k] = l
		}
	}
	return out
}

// retire takes out every idle container of owner's function.
func (p *warmPool) retire(owner, functionID string) []*warmContainer {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*warmContainer
	for k, l := range p.idle {
		if len(l) > 0 && l[0].owner == owner && l[0].functionID == functionID {
			out = append(out, l...)
			delete(p.idle, k)
		}
	}
	return out
}

// close refuses containers from now on and takes out every idle one.
func (p *warmPool) close() []*warmContainer {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	var out []*warmContainer
	for _, l := range p.idle {
		out = append(out, l...)
	}
	p.idle = map[string][]*warmContainer{}
	return out
}

// size is the number of idle containers.
func (p *warmPool) size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, l := range p.idle {
		n += len(l)
	}
	return n
}

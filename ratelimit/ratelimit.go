// Package ratelimit holds the fixed-window counters of the API's request and
// failed-login limits: like APISIX's limit-count, each key gets Limit hits per
// window that starts at its first hit. The counters live in the memory of one
// gateway process; a platform with several gateways limits per gateway.
package ratelimit

import (
	"sync"
	"time"
)

// maxKeys bounds the memory of one Window: past it, windows that have
// ended are dropped at once, and when none has, the oldest is.
const maxKeys = 100_000

// Decision is the state of one key after a call.
type Decision struct {
	// Allowed is false once the key has used its Limit in this window.
	Allowed bool
	// Limit is the hits a window allows; Remaining what is left of it.
	Limit, Remaining int
	// Reset is when the key's current window ends.
	Reset time.Time
}

// RetryAfter is how long until the window ends, in whole seconds, at least 1
// (what a Retry-After header carries).
func (d Decision) RetryAfter(now time.Time) int {
	return max(int((d.Reset.Sub(now)+time.Second-1)/time.Second), 1)
}

type window struct {
	start time.Time
	hits  int
}

// Window counts hits per key in fixed windows. The zero value is not
// usable; New makes one. A nil *Window allows everything.
type Window struct {
	limit  int
	period time.Duration
	now    func() time.Time

	mu   sync.Mutex
	keys map[string]*window
}

// New returns a Window of limit hits per period; now is the clock (nil:
// time.Now). A limit of 0 or less returns nil: no limit.
func New(limit int, period time.Duration, now func() time.Time) *Window {
	if limit <= 0 || period <= 0 {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	return &Window{limit: limit, period: period, now: now, keys: map[string]*window{}}
}

// Take counts one hit of key and says whether it was within the limit. A
// refused hit is not counted.
func (l *Window) Take(key string) Decision { return l.do(key, true, false) }

// Peek says whether key has hits left, counting nothing.
func (l *Window) Peek(key string) Decision { return l.do(key, false, false) }

// Add counts one hit of key even past the limit (a failed login, counted
// after the fact).
func (l *Window) Add(key string) Decision { return l.do(key, true, true) }

func (l *Window) do(key string, count, force bool) Decision {
	if l == nil {
		return Decision{Allowed: true}
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.keys[key]
	if w == nil || !now.Before(w.start.Add(l.period)) {
		if w == nil && count {
			l.makeRoom(now)
		}
		w = &window{start: now}
		if count {
			l.keys[key] = w
		}
	}
	allowed := w.hits < l.limit
	if count && (allowed || force) {
		w.hits++
	}
	return Decision{Allowed: allowed, Limit: l.limit, Remaining: max(l.limit-w.hits, 0), Reset: w.start.Add(l.period)}
}

// makeRoom keeps the map under maxKeys: ended windows go first, then the
// oldest one.
func (l *Window) makeRoom(now time.Time) {
	if len(l.keys) < maxKeys {
		return
	}
	var oldestKey string
	var oldest time.Time
	for k, w := range l.keys {
		if !now.Before(w.start.Add(l.period)) {
			delete(l.keys, k)
			continue
		}
		if oldestKey == "" || w.start.Before(oldest) {
			oldestKey, oldest = k, w.start
		}
	}
	if len(l.keys) >= maxKeys {
		delete(l.keys, oldestKey)
	}
}

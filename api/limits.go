package api

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/faasplatform/faas/domain"
	"github.com/faasplatform/faas/ratelimit"
)

// Headers of the request limit (the names APISIX's limit-count uses).
const (
	rateLimitLimitHeader     = "X-RateLimit-Limit"
	rateLimitRemainingHeader = "X-RateLimit-Remaining"
	rateLimitResetHeader     = "X-RateLimit-Reset"
)

// clientAddr is the host part of the request's peer address (the client's
// address as the plugin passes it through APISIX).
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// rateLimitKey is the key of a request's limit: its user once
// authenticated, its client address before.
func rateLimitKey(r *http.Request, userID string) string {
	if userID != "" {
		return "user:" + userID
	}
	return "addr:" + clientAddr(r)
}

// takeRequest counts the request against Deps.RateLimit, sets the quota
// headers, and returns a rate_limited error once the key's window is used.
func (h *handler) takeRequest(w http.ResponseWriter, r *http.Request, userID string) error {
	if h.deps.RateLimit == nil {
		return nil
	}
	d := h.deps.RateLimit.Take(rateLimitKey(r, userID))
	now := time.Now()
	w.Header().Set(rateLimitLimitHeader, strconv.Itoa(d.Limit))
	w.Header().Set(rateLimitRemainingHeader, strconv.Itoa(d.Remaining))
	w.Header().Set(rateLimitResetHeader, strconv.Itoa(d.RetryAfter(now)))
	if d.Allowed {
		return nil
	}
	return h.limited(w, d, now, "too many requests: at most %d per %s; try again later", d.Limit, h.deps.RateLimitWindow)
}

// limited is a rate_limited error with the Retry-After header set.
func (h *handler) limited(w http.ResponseWriter, d ratelimit.Decision, now time.Time, format string, args ...any) error {
	w.Header().Set("Retry-After", strconv.Itoa(d.RetryAfter(now)))
	return domain.Errorf(domain.ErrRateLimited, format, args...)
}

// loginKeys are the keys of a login's failure limit: its username (in any
// case) and its client address.
func loginKeys(r *http.Request, username string) [2]string {
	return [2]string{"name:" + strings.ToLower(username), "addr:" + clientAddr(r)}
}

// checkLogin refuses a login whose username or address has used its failed
// logins for the window.
func (h *handler) checkLogin(w http.ResponseWriter, r *http.Request, username string) error {
	if h.deps.LoginLimit == nil {
		return nil
	}
	for _, k := range loginKeys(r, username) {
		if d := h.deps.LoginLimit.Peek(k); !d.Allowed {
			return h.limited(w, d, time.Now(), "too many failed logins; try again later")
		}
	}
	return nil
}

// failedLogin counts a failed login against its username and address.
func (h *handler) failedLogin(r *http.Request, username string) {
	if h.deps.LoginLimit == nil {
		return
	}
	for _, k := range loginKeys(r, username) {
		h.deps.LoginLimit.Add(k)
	}
}

// healthPattern is the health route, which no rate limit counts (probes).
const healthPattern = "/api/v1/health"

// waitSlots caps the ?wait=true requests each user has open at once
// (Deps.MaxWaitsPerUser): each holds a watcher on NATS for up to
// WaitTimeout. A nil *waitSlots has no cap.
type waitSlots struct {
	max int
	mu  sync.Mutex
	n   map[string]int
}

func newWaitSlots(max int) *waitSlots {
	if max <= 0 {
		return nil
	}
	return &waitSlots{max: max, n: map[string]int{}}
}

// acquire takes one of user's slots, false when all are taken.
func (s *waitSlots) acquire(user string) bool {
	if s == nil {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n[user] >= s.max {
		return false
	}
	s.n[user]++
	return true
}

// release gives back a slot acquire took.
func (s *waitSlots) release(user string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n[user]--; s.n[user] <= 0 {
		delete(s.n, user)
	}
}

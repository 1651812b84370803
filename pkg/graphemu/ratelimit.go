package graphemu

import (
	"math"
	"strconv"
	"time"
)

// writeLimit models Intune's write limit: at most n writes in any window of
// per (a sliding window); a write beyond it is answered 429 with the seconds
// until the oldest write in the window leaves it.
type writeLimit struct {
	n      int
	per    time.Duration
	now    func() time.Time
	writes []time.Time // accepted writes inside the window, oldest first
	// throttled counts 429s answered by the limit.
	throttled int
}

// SetWriteLimit makes the emulator throttle writes like Intune: at most n
// writes per period (Intune: 100 per 20 s per app per tenant), measured on
// now (nil: time.Now; tests pass a scaled clock). n <= 0 turns it off.
// Reset turns it off too.
func (s *Server) SetWriteLimit(n int, per time.Duration, now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limit = writeLimit{n: n, per: per, now: now}
}

// WriteLimitThrottled returns how many writes the write limit answered 429.
func (s *Server) WriteLimitThrottled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limit.throttled
}

// overWriteLimit records one write against the limit, or reports that it is
// over with the Retry-After to send. Callers hold mu.
func (s *Server) overWriteLimit() (bool, string) {
	l := &s.limit
	if l.n <= 0 {
		return false, ""
	}
	now := l.now()
	i := 0
	for i < len(l.writes) && !now.Before(l.writes[i].Add(l.per)) {
		i++
	}
	l.writes = l.writes[i:]
	if len(l.writes) < l.n {
		l.writes = append(l.writes, now)
		return false, ""
	}
	l.throttled++
	wait := l.writes[0].Add(l.per).Sub(now)
	return true, strconv.Itoa(int(math.Ceil(wait.Seconds())))
}

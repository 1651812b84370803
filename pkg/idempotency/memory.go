package idempotency

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Memory is the embedded store for `make run` and single-process use. Its
// records live as long as the process.
type Memory struct {
	mu      sync.Mutex
	records map[string]*memRecord
	now     func() time.Time
	// max bounds the records kept; expired ones are dropped first.
	max int
}

type memRecord struct {
	status, fingerprint, holder string
	inProgressUntil, expires    time.Time
	resp                        Response
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty embedded store. now is the clock (nil means
// time.Now); max bounds the number of records (0 means 100000).
func NewMemory(now func() time.Time, max int) *Memory {
	if now == nil {
		now = time.Now
	}
	if max <= 0 {
		max = 100000
	}
	return &Memory{records: map[string]*memRecord{}, now: now, max: max}
}

// Begin implements Store.
func (m *Memory) Begin(ctx context.Context, key, fingerprint string, inProgressUntil time.Time) (*Lease, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if r, ok := m.records[key]; ok && !r.expired(now) {
		if r.fingerprint != fingerprint {
			return nil, ErrMismatch
		}
		if r.status == StatusCompleted {
			resp := r.resp
			return &Lease{Key: key, Replay: &resp}, nil
		}
		return nil, &InProgressError{RetryAfter: retryAfter(r.inProgressUntil, now)}
	}
	if len(m.records) >= m.max {
		m.sweep(now)
		if len(m.records) >= m.max {
			return nil, ErrFull
		}
	}
	l := &Lease{Key: key, Holder: newHolder()}
	m.records[key] = &memRecord{status: StatusInProgress, fingerprint: fingerprint, holder: l.Holder,
		inProgressUntil: inProgressUntil, expires: inProgressUntil}
	return l, nil
}

func (r *memRecord) expired(now time.Time) bool {
	if r.status == StatusInProgress {
		return !now.Before(r.inProgressUntil)
	}
	return !now.Before(r.expires)
}

// ErrFull: the embedded store is full of deliveries still being applied;
// none is evicted, so the new one is refused (and retried by its sender).
var ErrFull = errors.New("idempotency: the embedded store is full of deliveries in progress")

// sweep drops expired records, then, if still full, the completed record
// that expires first: never one in progress, whose duplicate would
// otherwise get a second lease.
func (m *Memory) sweep(now time.Time) {
	var oldestKey string
	var oldest time.Time
	for k, r := range m.records {
		if r.expired(now) {
			delete(m.records, k)
			continue
		}
		if r.status == StatusCompleted && (oldestKey == "" || r.expires.Before(oldest)) {
			oldestKey, oldest = k, r.expires
		}
	}
	if len(m.records) >= m.max && oldestKey != "" {
		delete(m.records, oldestKey)
	}
}

// Complete implements Store.
func (m *Memory) Complete(ctx context.Context, l *Lease, resp Response, expires time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.records[l.Key]
	if !ok || r.holder != l.Holder || r.status != StatusInProgress {
		return ErrLost
	}
	r.status, r.resp, r.expires = StatusCompleted, resp, expires
	return nil
}

// Release implements Store.
func (m *Memory) Release(ctx context.Context, l *Lease) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.records[l.Key]; ok && r.holder == l.Holder && r.status == StatusInProgress {
		delete(m.records, l.Key)
	}
	return nil
}

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
	// note and noteUntil are an attempt's note (Attempted), kept through
	// the holds of the attempts after it until noteUntil.
	note      []byte
	noteUntil time.Time
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
	r, ok := m.records[key]
	noteLive := ok && r.note != nil && now.Before(r.noteUntil)
	if ok && (!r.expired(now) || noteLive) {
		// A live note keeps the key for its delivery, even past a dead
		// holder's expiry.
		if r.fingerprint != fingerprint {
			return nil, ErrMismatch
		}
		switch {
		case r.status == StatusCompleted:
			resp := r.resp
			return &Lease{Key: key, Replay: &resp}, nil
		case r.status == StatusInProgress && !r.expired(now):
			return nil, &InProgressError{RetryAfter: retryAfter(r.inProgressUntil, now)}
		}
	}
	l := &Lease{Key: key, Holder: newHolder()}
	if noteLive {
		// An attempted record, or a holder of one that died: the note
		// goes on with the new hold.
		l.Attempt, l.attemptUntil = r.note, r.noteUntil
		r.status, r.holder, r.inProgressUntil, r.expires = StatusInProgress, l.Holder, inProgressUntil, inProgressUntil
		return l, nil
	}
	if len(m.records) >= m.max {
		m.sweep(now)
		if len(m.records) >= m.max {
			return nil, ErrFull
		}
	}
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

// gone reports whether r may be dropped: expired, and any note with it.
func (r *memRecord) gone(now time.Time) bool {
	return r.expired(now) && !now.Before(r.noteUntil)
}

// ErrFull: the embedded store is full of deliveries still being applied;
// none is evicted, so the new one is refused (and retried by its sender).
var ErrFull = errors.New("idempotency: the embedded store is full of deliveries in progress")

// sweep drops expired records, then, if still full, the completed record
// that expires first: never one in progress, whose duplicate would
// otherwise get a second lease, nor an attempted one, whose retry would
// lose its note.
func (m *Memory) sweep(now time.Time) {
	var oldestKey string
	var oldest time.Time
	for k, r := range m.records {
		if r.gone(now) {
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

// heldBy returns the record l holds (in progress, its holder), or nil.
// Callers hold m.mu.
func (m *Memory) heldBy(l *Lease) *memRecord {
	if r, ok := m.records[l.Key]; ok && r.holder == l.Holder && r.status == StatusInProgress {
		return r
	}
	return nil
}

// giveUp makes r an attempted record keeping note until until.
func (r *memRecord) giveUp(note []byte, until time.Time) {
	r.status, r.holder, r.expires, r.note, r.noteUntil = StatusAttempted, "", until, note, until
}

// Complete implements Store.
func (m *Memory) Complete(ctx context.Context, l *Lease, resp Response, expires time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.heldBy(l)
	if r == nil {
		return ErrLost
	}
	r.status, r.resp, r.expires, r.note, r.noteUntil = StatusCompleted, resp, expires, nil, time.Time{}
	return nil
}

// Release implements Store.
func (m *Memory) Release(ctx context.Context, l *Lease) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.heldBy(l)
	switch {
	case r == nil:
	case l.Attempt != nil && m.now().Before(l.attemptUntil):
		r.giveUp(l.Attempt, l.attemptUntil)
	default:
		delete(m.records, l.Key)
	}
	return nil
}

// Note implements Store.
func (m *Memory) Note(ctx context.Context, l *Lease, note []byte, expires time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.heldBy(l)
	if r == nil {
		return ErrLost
	}
	r.note, r.noteUntil = append([]byte(nil), note...), expires
	if l.Attempt != nil {
		l.Attempt, l.attemptUntil = r.note, expires // what its release puts back
	}
	return nil
}

// Attempted implements Store.
func (m *Memory) Attempted(ctx context.Context, l *Lease, note []byte, expires time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.heldBy(l)
	if r == nil {
		return ErrLost
	}
	r.giveUp(append([]byte(nil), note...), expires)
	return nil
}

package chatrequest

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Memory is the embedded store, for `make run` and tests: one process, its
// requests live as long as the process. It holds at most
// Options.MaxRequests; when full, Create drops the requests past their
// expiry (pending or decided) and, if none is, refuses with ErrFull rather
// than drop one that can still be decided.
type Memory struct {
	o    Options
	mu   sync.Mutex
	byID map[string]memItem
}

// memItem is a stored request: its JSON, as DynamoDB's item holds it, so
// that both stores give back the same request; and its expiry.
type memItem struct {
	data    []byte
	expires time.Time
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty embedded store; o may be nil.
func NewMemory(o *Options) *Memory {
	return &Memory{o: o.withDefaults(), byID: map[string]memItem{}}
}

// Create implements Store.
func (m *Memory) Create(ctx context.Context, r *Request) error {
	now := m.o.Now()
	data, err := prepare(r, now, m.o.TTL)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.byID[r.ID]; ok {
		return fmt.Errorf("%w: %s", ErrExists, r.ID)
	}
	if len(m.byID) >= m.o.MaxRequests {
		for id, it := range m.byID {
			if !now.Before(it.expires) {
				delete(m.byID, id)
			}
		}
		if len(m.byID) >= m.o.MaxRequests {
			return ErrFull
		}
	}
	m.byID[r.ID] = memItem{data: data, expires: r.Expires}
	return nil
}

// read is the request of the (canonical) id, or ErrNotFound; m.mu is held.
func (m *Memory) read(id string) (*Request, error) {
	it, ok := m.byID[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return decode(it.data)
}

// Get implements Store.
func (m *Memory) Get(ctx context.Context, id string) (*Request, error) {
	id, err := canonicalID(id)
	if err != nil {
		return nil, err
	}
	now := m.o.Now()
	m.mu.Lock()
	r, err := m.read(id)
	m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if r.Expired(now) {
		return r, fmt.Errorf("%w: %s", ErrExpired, id)
	}
	return r, nil
}

// Decide implements Store.
func (m *Memory) Decide(ctx context.Context, id, to, by, byName string) (*Request, error) {
	id, err := canonicalID(id)
	if err != nil {
		return nil, err
	}
	if err := checkDecision(to, by); err != nil {
		return nil, err
	}
	now := m.o.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	r, err := m.read(id)
	if err != nil {
		return nil, err
	}
	d, err := decide(r, now, to, by, byName)
	if err != nil {
		return d, err
	}
	data, err := encode(d)
	if err != nil {
		return nil, err
	}
	m.byID[id] = memItem{data: data, expires: d.Expires}
	return d, nil
}

// Reopen puts a request by approved back to pending (Store).
func (m *Memory) Reopen(ctx context.Context, id, by string, decided, attempted time.Time, recordID string) (*Request, error) {
	return m.rewrite(id, func(r *Request) (*Request, error) { return reopen(r, by, decided, attempted, recordID) })
}

// Finish marks an approval finished (Store).
func (m *Memory) Finish(ctx context.Context, id, by string, decided time.Time) (*Request, error) {
	now := m.o.Now()
	return m.rewrite(id, func(r *Request) (*Request, error) { return finish(r, by, decided, now) })
}

// Retake puts an approval that never finished back to pending (Store).
func (m *Memory) Retake(ctx context.Context, id, by string, decided time.Time) (*Request, error) {
	now := m.o.Now()
	return m.rewrite(id, func(r *Request) (*Request, error) { return retake(r, by, decided, now) })
}

// rewrite stores change's answer for the request with id, atomically.
func (m *Memory) rewrite(id string, change func(*Request) (*Request, error)) (*Request, error) {
	id, err := canonicalID(id)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, err := m.read(id)
	if err != nil {
		return nil, err
	}
	o, err := change(r)
	if err != nil {
		return o, err
	}
	data, err := encode(o)
	if err != nil {
		return nil, err
	}
	m.byID[id] = memItem{data: data, expires: o.Expires}
	return o, nil
}

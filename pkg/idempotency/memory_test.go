package idempotency

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// held returns how many records m keeps.
func (m *Memory) held() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.records)
}

// complete records key as answered, its record kept until expires.
func complete(t *testing.T, st Store, key string, now, expires time.Time) {
	t.Helper()
	l, err := st.Begin(context.Background(), key, "fp-"+key, now.Add(10*time.Second))
	if err != nil || l.Replay != nil {
		t.Fatalf("Begin(%q) = %+v, %v; want a fresh hold", key, l, err)
	}
	if err := st.Complete(context.Background(), l, Response{Status: 200, Body: []byte(key)}, expires); err != nil {
		t.Fatalf("Complete(%q) = %v", key, err)
	}
}

// replays reports whether key's answer is still replayed.
func replays(t *testing.T, st Store, key string, now time.Time) bool {
	t.Helper()
	l, err := st.Begin(context.Background(), key, "fp-"+key, now.Add(10*time.Second))
	if err != nil {
		t.Fatalf("Begin(%q) = %v", key, err)
	}
	return l.Replay != nil && string(l.Replay.Body) == key
}

// TestMemoryDropsExpiredRecordsWhenFull: a full embedded store makes room
// by dropping expired records, and keeps every record still in force, so a
// long-running `make run` neither grows without bound nor forgets a live
// delivery.
func TestMemoryDropsExpiredRecordsWhenFull(t *testing.T) {
	c := &clock{t: t0}
	m := NewMemory(c.now, 3)
	complete(t, m, "old-1", c.now(), t0.Add(time.Hour))
	complete(t, m, "old-2", c.now(), t0.Add(time.Hour))
	complete(t, m, "live", c.now(), t0.Add(48*time.Hour))
	c.advance(2 * time.Hour)

	complete(t, m, "new", c.now(), c.now().Add(48*time.Hour))
	if n := m.held(); n != 2 {
		t.Errorf("records held = %d, want 2 (the expired ones dropped, %q and %q kept)", n, "live", "new")
	}
	for _, k := range []string{"live", "new"} {
		if !replays(t, m, k, c.now()) {
			t.Errorf("Begin(%q) does not replay its answer after the sweep", k)
		}
	}
}

// TestMemoryEvictsTheSoonestToExpireWhenFullOfLiveRecords: with nothing
// expired, a full store forgets the record that would have expired first,
// and stays at its bound however many deliveries arrive.
func TestMemoryEvictsTheSoonestToExpireWhenFullOfLiveRecords(t *testing.T) {
	c := &clock{t: t0}
	m := NewMemory(c.now, 2)
	complete(t, m, "soon", c.now(), t0.Add(time.Hour))
	complete(t, m, "late", c.now(), t0.Add(48*time.Hour))

	complete(t, m, "next", c.now(), t0.Add(24*time.Hour))
	if n := m.held(); n != 2 {
		t.Errorf("records held = %d, want the bound 2", n)
	}
	if !replays(t, m, "late", c.now()) {
		t.Errorf("the record expiring last was evicted")
	}
	if !replays(t, m, "next", c.now()) {
		t.Errorf("the newest record is missing")
	}
	// "soon" was evicted: the same delivery is held afresh.
	if replays(t, m, "soon", c.now()) {
		t.Errorf("Begin(%q) replayed; want it evicted as the first to expire", "soon")
	}

	for i := range 20 {
		complete(t, m, fmt.Sprint("burst-", i), c.now(), t0.Add(time.Duration(i+1)*time.Minute))
	}
	if n := m.held(); n > 2 {
		t.Errorf("records held after 20 more deliveries = %d, want at most 2", n)
	}
}

// TestMemoryInProgressRecordsExpireForTheSweep: a hold whose holder died
// counts as expired when the store is full, so it never blocks the room.
func TestMemoryInProgressRecordsExpireForTheSweep(t *testing.T) {
	c := &clock{t: t0}
	m := NewMemory(c.now, 1)
	if _, err := m.Begin(context.Background(), "dead", "fp", t0.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	c.advance(3 * time.Second)
	complete(t, m, "next", c.now(), c.now().Add(time.Hour))
	if n := m.held(); n != 1 {
		t.Errorf("records held = %d, want 1", n)
	}
	if _, err := m.Begin(context.Background(), "next", "other", c.now().Add(time.Second)); !errors.Is(err, ErrMismatch) {
		t.Errorf("Begin(next, other fingerprint) = %v, want ErrMismatch (the record kept)", err)
	}
}

// TestMemoryNeverEvictsADeliveryInProgress: full, the embedded store
// evicts the completed record that expires first, never one in progress;
// full of deliveries in progress, it refuses a new one.
func TestMemoryNeverEvictsADeliveryInProgress(t *testing.T) {
	ctx, now := context.Background(), time.Now()
	m := NewMemory(func() time.Time { return now }, 3)
	for i := range 2 {
		l, _ := m.Begin(ctx, fmt.Sprint("done-", i), "fp", now.Add(time.Minute))
		_ = m.Complete(ctx, l, Response{Status: 200}, now.Add(time.Duration(48+i)*time.Hour))
	}
	if _, err := m.Begin(ctx, "generic:msg_1", "fp", now.Add(25*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Begin(ctx, "generic:other", "fp", now.Add(25*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Begin(ctx, "generic:msg_1", "fp", now.Add(25*time.Second)); !errors.As(err, new(*InProgressError)) {
		t.Fatalf("a duplicate of the delivery in progress: %v, want in progress", err)
	}
	if l, err := m.Begin(ctx, "done-1", "fp", now.Add(time.Minute)); err != nil || l.Replay == nil {
		t.Fatalf("the completed record that expires last: %v %v, want its replay", l, err)
	}
	_, _ = m.Begin(ctx, "generic:third", "fp", now.Add(25*time.Second)) // evicts done-1
	if _, err := m.Begin(ctx, "generic:fourth", "fp", now.Add(25*time.Second)); !errors.Is(err, ErrFull) {
		t.Fatalf("full of deliveries in progress: %v, want ErrFull", err)
	}
}

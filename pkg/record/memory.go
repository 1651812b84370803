package record

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Memory is the embedded store, for `make run` and tests: one process, its
// records live as long as the process. It holds at most
// Options.MaxRecords; when full, records past their retention go first,
// then the oldest by time (then id), so it keeps the most recent changes.
type Memory struct {
	o            Options
	mu           sync.Mutex
	byID         map[string]*memItem
	byTicket     map[[2]string][]*memItem // oldest first
	byAssignment map[[2]string][]*memItem // oldest first
}

type memItem struct {
	sortKey     string
	ticket, asg [2]string
	data        []byte
	expires     int64
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty embedded store; o may be nil.
func NewMemory(o *Options) *Memory {
	return &Memory{o: o.withDefaults(), byID: map[string]*memItem{},
		byTicket: map[[2]string][]*memItem{}, byAssignment: map[[2]string][]*memItem{}}
}

// Put implements Store.
func (m *Memory) Put(ctx context.Context, r *Record) error {
	now := m.o.Now()
	data, err := prepare(r, now)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.byID[r.ID]; ok {
		if !expired(old.expires, now) {
			if bytes.Equal(old.data, data) {
				return nil
			}
			return ErrConflict
		}
		m.remove(r.ID, old)
	}
	if len(m.byID) >= m.o.MaxRecords {
		m.evict(now)
	}
	it := &memItem{sortKey: sortKey(r), ticket: [2]string{r.Sender, r.Ticket.ID},
		asg: [2]string{r.ConfigurationID, r.AssignmentID}, data: data, expires: expiresAt(now, m.o.Retention)}
	m.byID[r.ID] = it
	m.byTicket[it.ticket] = insert(m.byTicket[it.ticket], it)
	m.byAssignment[it.asg] = insert(m.byAssignment[it.asg], it)
	return nil
}

func insert(list []*memItem, it *memItem) []*memItem {
	i, _ := slices.BinarySearchFunc(list, it.sortKey, func(e *memItem, k string) int { return strings.Compare(e.sortKey, k) })
	return slices.Insert(list, i, it)
}

// remove takes the record with id out of every index.
func (m *Memory) remove(id string, it *memItem) {
	delete(m.byID, id)
	drop := func(idx map[[2]string][]*memItem, k [2]string) {
		list := slices.DeleteFunc(idx[k], func(e *memItem) bool { return e == it })
		if len(list) == 0 {
			delete(idx, k)
		} else {
			idx[k] = list
		}
	}
	drop(m.byTicket, it.ticket)
	drop(m.byAssignment, it.asg)
}

// evict makes room for one record: every expired record goes; if none
// did, the oldest by time (then id).
func (m *Memory) evict(now time.Time) {
	var oldestID string
	var oldest *memItem
	freed := false
	for id, it := range m.byID {
		if expired(it.expires, now) {
			m.remove(id, it)
			freed = true
			continue
		}
		if oldest == nil || it.sortKey < oldest.sortKey {
			oldestID, oldest = id, it
		}
	}
	if !freed && oldest != nil {
		m.remove(oldestID, oldest)
	}
}

// Get implements Store.
func (m *Memory) Get(ctx context.Context, id string) (*Record, error) {
	if err := checkID("id", id); err != nil {
		return nil, err
	}
	m.mu.Lock()
	it, ok := m.byID[id]
	m.mu.Unlock()
	if !ok || expired(it.expires, m.o.Now()) {
		return nil, &NotFoundError{ID: id}
	}
	r, err := decode(it.data)
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// ByTicket implements Store.
func (m *Memory) ByTicket(ctx context.Context, sender, ticketID string) ([]Record, error) {
	if err := checkLookup("sender", sender, "ticket id", ticketID); err != nil {
		return nil, err
	}
	now := m.o.Now()
	m.mu.Lock()
	list := slices.Clone(m.byTicket[[2]string{sender, ticketID}])
	m.mu.Unlock()
	var out []Record
	for _, it := range list {
		if expired(it.expires, now) {
			continue
		}
		if len(out) == MaxTicketRecords {
			return nil, fmt.Errorf("record: the ticket has more than %d records", MaxTicketRecords)
		}
		r, err := decode(it.data)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// ByAssignment implements Store.
func (m *Memory) ByAssignment(ctx context.Context, configurationID, assignmentID string, limit int) ([]Record, error) {
	if err := checkLookup("configuration id", configurationID, "assignment id", assignmentID); err != nil {
		return nil, err
	}
	limit = historyLimit(limit)
	now := m.o.Now()
	m.mu.Lock()
	list := slices.Clone(m.byAssignment[[2]string{configurationID, assignmentID}])
	m.mu.Unlock()
	var out []Record
	for i := len(list) - 1; i >= 0 && len(out) < limit; i-- {
		if expired(list[i].expires, now) {
			continue
		}
		r, err := decode(list[i].data)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// checkLookup checks the two parts of a lookup's key as Put checks them.
func checkLookup(name1, v1, name2, v2 string) error {
	if err := checkID(name1, v1); err != nil {
		return err
	}
	return checkID(name2, v2)
}

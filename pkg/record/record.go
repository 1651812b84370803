package record

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Actions of a record.
const (
	ActionApply  = "apply"
	ActionRevert = "revert"
)

// States of a record. Only StateApplied is written today; StateScheduled is
// the state of a change queued for its change window.
const (
	StateApplied   = "applied"
	StateScheduled = "scheduled"
)

// Record is one change enrollhook wrote (or scheduled): enough to say who
// asked, who approved, what Graph held before and after, and to put the
// before back. A dry run writes nothing and has no record.
type Record struct {
	// ID is the delivery's de-duplication key (apply.Key, apply.ChatKey):
	// one record per delivery, and what `/intune revert <id>` names.
	ID string `json:"id"`
	// Action is ActionApply or ActionRevert.
	Action string `json:"action"`
	// Reverts is the ID of the record a revert puts back; empty for an
	// apply.
	Reverts string `json:"reverts,omitempty"`
	// State is StateApplied (the default) or StateScheduled.
	State      string `json:"state"`
	Sender     string `json:"sender"`
	DeliveryID string `json:"deliveryId,omitempty"`
	Ticket     Ticket `json:"ticket"`

	ConfigurationID string `json:"configurationId"`
	AssignmentID    string `json:"assignmentId"`
	// Before and After are the assignment as Graph held it before the write
	// and afterwards, in Graph's JSON; JSON null when there was none.
	Before json.RawMessage `json:"before"`
	After  json.RawMessage `json:"after"`
	// GraphRequestIDs are the request-id headers of the change's Graph
	// calls, in order.
	GraphRequestIDs []string `json:"graphRequestIds,omitempty"`
	// Time is when the change was applied (or scheduled); Put sets it from
	// the store's clock when it is zero.
	Time time.Time `json:"time"`
	// NotBefore, for a scheduled change, is when it is to be applied (its
	// window's start).
	NotBefore time.Time `json:"notBefore,omitzero"`
}

// Ticket is the approval behind a change as the record keeps it: the
// fields of change.Ticket that name the ticket and its people, under the
// same Go and JSON names; the state (always approved) is not kept.
type Ticket struct {
	ID            string `json:"id"`
	System        string `json:"system,omitempty"`
	URL           string `json:"url,omitempty"`
	RequestedBy   string `json:"requestedBy,omitempty"`
	RequestedByID string `json:"requestedById,omitempty"`
	ApprovedBy    string `json:"approvedBy,omitempty"`
	ApprovedByID  string `json:"approvedById,omitempty"`
}

// Store keeps change records. Implementations are safe for concurrent use.
type Store interface {
	// Put stores r. It fills r.Time (the store's clock) and r.State
	// (StateApplied) when they are empty, so that a retried Put of the same
	// *Record is the same record. The first record stored under an id is
	// kept: a Put of an equal record returns nil, of a different one
	// ErrConflict. It refuses an incomplete record (ErrInvalid) and one
	// over MaxSize (ErrTooLarge).
	Put(ctx context.Context, r *Record) error
	// Get returns the record with id, or a *NotFoundError.
	Get(ctx context.Context, id string) (*Record, error)
	// ByTicket returns every record of a sender's ticket, oldest first
	// (by Time, then ID), including a Put that returned just before.
	ByTicket(ctx context.Context, sender, ticketID string) ([]Record, error)
	// ByAssignment returns the latest records of an assignment, latest
	// first, at most limit of them (limit < 1: DefaultHistory; at most
	// MaxHistory).
	ByAssignment(ctx context.Context, configurationID, assignmentID string, limit int) ([]Record, error)
}

// Bounds of a record and of the reads.
const (
	// MaxSize caps a record's JSON (what both stores keep). A Graph
	// assignment is well under 1 KiB; the cap keeps a DynamoDB item far
	// below its 400 KB limit and a page of a query within one answer.
	MaxSize = 64 << 10
	// MaxIDLength caps each id (record, delivery, ticket, configuration,
	// assignment) and the sender's name, in bytes, so that the keys built
	// from them fit DynamoDB's key limits even fully escaped.
	MaxIDLength = 256
	// DefaultHistory and MaxHistory bound ByAssignment.
	DefaultHistory = 10
	MaxHistory     = 100
	// MaxTicketRecords bounds ByTicket: a ticket with more records is an
	// error, never a silently shortened list (a revert must see them all).
	MaxTicketRecords = 1000
	// DefaultRetention is how long a record is kept (90 days).
	DefaultRetention = 90 * 24 * time.Hour
)

// Errors of the stores.
var (
	// ErrInvalid: the record (or a lookup's key) lacks a required field or
	// has a malformed one; the message names the field, never its value.
	ErrInvalid = errors.New("record: invalid")
	// ErrTooLarge: the record's JSON exceeds MaxSize.
	ErrTooLarge = errors.New("record: larger than the store keeps")
	// ErrConflict: another record is stored under the same id; the first
	// one stays (Get returns it).
	ErrConflict = errors.New("record: another record is stored under this id")
	// ErrNotFound: no record with that id (or it is past its retention).
	ErrNotFound = errors.New("record: not found")
)

// NotFoundError is Get's answer for an id without a record.
type NotFoundError struct{ ID string }

func (e *NotFoundError) Error() string { return ErrNotFound.Error() }

// Is makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// Options are the optional settings of a store; nil means every default.
type Options struct {
	// Retention is how long a record is kept after it is stored (default
	// DefaultRetention). Reads leave out a record past it, whether or not
	// DynamoDB's TTL has deleted it yet.
	Retention time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// MaxRecords bounds the embedded store (default 10000); ignored by
	// DynamoDB.
	MaxRecords int
}

func (o *Options) withDefaults() Options {
	var out Options
	if o != nil {
		out = *o
	}
	if out.Retention <= 0 {
		out.Retention = DefaultRetention
	}
	if out.Now == nil {
		out.Now = time.Now
	}
	if out.MaxRecords <= 0 {
		out.MaxRecords = 10000
	}
	return out
}

// prepare completes r (Time, State), checks it and returns its JSON, the
// form both stores keep and compare: Before and After compacted, the time
// in UTC, no HTML escaping.
func prepare(r *Record, now time.Time) ([]byte, error) {
	if r == nil {
		return nil, fmt.Errorf("%w: no record", ErrInvalid)
	}
	if r.Time.IsZero() {
		r.Time = now.UTC()
	}
	if r.State == "" {
		r.State = StateApplied
	}
	c := *r
	c.Time = r.Time.UTC()
	if y := c.Time.Year(); y < 2000 || y > 9999 {
		return nil, fmt.Errorf("%w: time must be in the years 2000 to 9999", ErrInvalid)
	}
	for _, f := range []struct{ name, v string }{
		{"id", c.ID}, {"sender", c.Sender}, {"ticket.id", c.Ticket.ID},
		{"configurationId", c.ConfigurationID}, {"assignmentId", c.AssignmentID},
	} {
		if err := checkID(f.name, f.v); err != nil {
			return nil, err
		}
	}
	switch c.Action {
	case ActionApply:
		if c.Reverts != "" {
			return nil, fmt.Errorf("%w: reverts is set on an apply", ErrInvalid)
		}
	case ActionRevert:
		if err := checkID("reverts", c.Reverts); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: action must be %q or %q", ErrInvalid, ActionApply, ActionRevert)
	}
	if c.State != StateApplied && c.State != StateScheduled {
		return nil, fmt.Errorf("%w: state must be %q or %q", ErrInvalid, StateApplied, StateScheduled)
	}
	if len(c.DeliveryID) > MaxIDLength || !utf8.ValidString(c.DeliveryID) {
		return nil, fmt.Errorf("%w: deliveryId must be valid UTF-8 of at most %d bytes", ErrInvalid, MaxIDLength)
	}
	for _, b := range []struct {
		name string
		v    *json.RawMessage
	}{{"before", &c.Before}, {"after", &c.After}} {
		if len(*b.v) == 0 {
			return nil, fmt.Errorf("%w: %s is required (JSON null when there was no assignment)", ErrInvalid, b.name)
		}
		if len(*b.v) > MaxSize {
			return nil, fmt.Errorf("%w: %s", ErrTooLarge, b.name)
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, *b.v); err != nil {
			return nil, fmt.Errorf("%w: %s is not JSON", ErrInvalid, b.name)
		}
		*b.v = buf.Bytes()
	}
	for _, id := range c.GraphRequestIDs {
		if id == "" || len(id) > MaxIDLength || !utf8.ValidString(id) {
			return nil, fmt.Errorf("%w: graphRequestIds must be non-empty, valid UTF-8, at most %d bytes each", ErrInvalid, MaxIDLength)
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&c); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	data := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes of JSON, at most %d", ErrTooLarge, len(data), MaxSize)
	}
	return data, nil
}

// checkID refuses an empty id, one over MaxIDLength and invalid UTF-8 (which
// a JSON encoder would turn into U+FFFD, so two ids could meet).
func checkID(name, v string) error {
	switch {
	case v == "":
		return fmt.Errorf("%w: %s is required", ErrInvalid, name)
	case len(v) > MaxIDLength:
		return fmt.Errorf("%w: %s is longer than %d bytes", ErrInvalid, name, MaxIDLength)
	case !utf8.ValidString(v):
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalid, name)
	}
	return nil
}

// decode reads a record's stored JSON.
func decode(data []byte) (Record, error) {
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return Record{}, fmt.Errorf("record: stored record: %w", err)
	}
	return r, nil
}

// historyLimit applies ByAssignment's bounds.
func historyLimit(limit int) int {
	switch {
	case limit < 1:
		return DefaultHistory
	case limit > MaxHistory:
		return MaxHistory
	}
	return limit
}

// expiresAt is a record's expiry in epoch seconds (DynamoDB's TTL unit),
// and expired says whether it has passed; both stores use them, so both
// forget a record at the same second.
func expiresAt(now time.Time, retention time.Duration) int64 { return now.Add(retention).Unix() }
func expired(expires int64, now time.Time) bool              { return now.Unix() >= expires }

// keyPart escapes '%' and '#' in one component of a key, so that '#'
// separates components unambiguously: ("a#b", "c") and ("a", "b#c") never
// make the same key.
var keyPart = strings.NewReplacer("%", "%25", "#", "%23").Replace

// Keys of the DynamoDB items, built here only.
func ticketKey(sender, ticketID string) string {
	return "ticket#" + keyPart(sender) + "#" + keyPart(ticketID)
}

func assignmentKey(configurationID, assignmentID string) string {
	return "assignment#" + keyPart(configurationID) + "#" + keyPart(assignmentID)
}

func idKey(id string) string { return "record#" + keyPart(id) }

// timeLayout is fixed-width, so that keys sort as times do (RFC 3339 with
// nanoseconds trims trailing zeros and would not).
const timeLayout = "2006-01-02T15:04:05.000000000Z"

// sortKey orders a ticket's and an assignment's records by time, then id.
func sortKey(r *Record) string { return r.Time.UTC().Format(timeLayout) + "#" + keyPart(r.ID) }

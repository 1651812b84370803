package chatrequest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// States of a request. A request is created pending and decided once.
const (
	StatePending  = "pending"
	StateApproved = "approved"
	StateRejected = "rejected"
)

// DefaultTTL is how long a request waits for a decision unless
// Options.TTL says otherwise.
const DefaultTTL = time.Hour

// MaxIDLength bounds a request id (chat's are 8 characters).
const MaxIDLength = 64

// MaxSize caps a request's JSON, what both stores keep (Change and Before
// are most of it): far above any assignment change, well under DynamoDB's
// 400 KB item.
const MaxSize = 64 << 10

// Request is a chat change waiting for a second person.
type Request struct {
	// ID is the short id users type (chat.NewRequestID): ASCII letters and
	// digits, kept in upper case and matched in any case.
	ID string `json:"id"`
	// Sender is "slack" or "teams"; Tenant the Slack workspace or the
	// Teams (Entra) tenant.
	Sender string `json:"sender"`
	Tenant string `json:"tenant,omitempty"`
	// RequestedBy is the requester's stable user id (Slack U…, Teams AAD
	// object id): the one Decide compares with the approver.
	RequestedBy string `json:"requestedBy"`
	// RequestedByOther is another id of the requester the sender gave
	// (chat.Invocation.OtherUser: Teams' 29: id), for the allow-list
	// checked again at approval.
	RequestedByOther string `json:"requestedByOther,omitempty"`
	// RequestedByName is the requester as the audit names them
	// ("slack:T0001/U0456EFGH").
	RequestedByName string `json:"requestedByName,omitempty"`
	ConfigurationID string `json:"configurationId,omitempty"`
	AssignmentID    string `json:"assignmentId,omitempty"`
	// Change is the validated change (change.Request JSON); Before the
	// assignment as Graph held it when the change was planned, for the
	// drift check. Both come back compacted.
	Change json.RawMessage `json:"change"`
	Before json.RawMessage `json:"before,omitempty"`
	// ResponseURL is Slack's response_url of the request command: a
	// capability to post to the conversation. String and LogValue leave it
	// out; never log it.
	ResponseURL string `json:"responseUrl,omitempty"`
	// State is StatePending, StateApproved or StateRejected.
	State string `json:"state"`
	// DecidedBy (a stable user id), DecidedByName and Decided (the store's
	// clock) are set by Decide.
	DecidedBy     string    `json:"decidedBy,omitempty"`
	DecidedByName string    `json:"decidedByName,omitempty"`
	Decided       time.Time `json:"decided,omitzero"`
	// Created is when the request was made; Expires when it can no longer
	// be decided (whole seconds, UTC).
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	// Attempted, when not zero, is when the first approval of the request
	// whose write to Graph got no clear answer began (Reopen): the change
	// may have been applied, so the next approval that finds Graph holding
	// it, with no other change recorded since, records it as applied
	// rather than refusing it as drifted.
	Attempted time.Time `json:"attempted,omitzero"`
	// AttemptedBy and AttemptedByName are who approved that attempt: the
	// approver its change is recorded with, should it be found applied.
	AttemptedBy     string `json:"attemptedBy,omitempty"`
	AttemptedByName string `json:"attemptedByName,omitempty"`
	// AttemptedIDs are the change record ids of the approvals that stopped
	// after recording writes, or whose write had no clear answer: what
	// they recorded (a revert's steps put back before it stopped) is the
	// request's own, not another change.
	AttemptedIDs []string `json:"attemptedIds,omitempty"`
	// Finished is when the approval that decided the request applied its
	// change (Finish): an approved request without it is still running,
	// or never finished (Retake).
	Finished time.Time `json:"finished,omitzero"`
}

// Expired reports whether r is pending and past its expiry at now. A
// decided request never expires: it stays decided.
func (r *Request) Expired(now time.Time) bool {
	return r.State == StatePending && !now.Before(r.Expires)
}

// LogValue is what slog shows of a request: no ResponseURL, no change.
func (r *Request) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("id", r.ID), slog.String("sender", r.Sender), slog.String("state", r.State),
		slog.String("requestedBy", r.RequestedByName),
		slog.String("configurationId", r.ConfigurationID), slog.String("assignmentId", r.AssignmentID),
		slog.Time("expires", r.Expires),
	}
	if r.DecidedByName != "" {
		attrs = append(attrs, slog.String("decidedBy", r.DecidedByName))
	}
	return slog.GroupValue(attrs...)
}

// String is LogValue's text, so that %v and %+v do not print ResponseURL
// either.
func (r *Request) String() string { return r.LogValue().String() }

// Errors of the stores; test them with errors.Is.
var (
	// ErrNotFound: no request has the id (never created, or dropped after
	// its expiry).
	ErrNotFound = errors.New("chatrequest: no such request")
	// ErrExists: Create of an id a stored request already has.
	ErrExists = errors.New("chatrequest: the request id is taken")
	// ErrExpired: the request is pending but past its expiry. Get and
	// Decide return the request with it.
	ErrExpired = errors.New("chatrequest: the request has expired")
	// ErrDecided: the request was already approved or rejected. Decide
	// returns the request as decided with it (DecidedBy says who).
	ErrDecided = errors.New("chatrequest: the request was already decided")
	// ErrSelfApproval: Decide to approve by the requester (the same
	// RequestedBy). Decide returns the request, still pending, with it.
	ErrSelfApproval = errors.New("chatrequest: the requester cannot approve their own request")
	// ErrFull: the embedded store holds Options.MaxRequests unexpired
	// requests.
	ErrFull = errors.New("chatrequest: too many pending requests")
	// ErrInvalid: a malformed argument (the error says which).
	ErrInvalid = errors.New("chatrequest: invalid request")
)

// Store keeps pending chat requests. Implementations are safe for
// concurrent use; DynamoDB is also safe across processes sharing a table.
type Store interface {
	// Create stores r as a new pending request. r.ID is upper-cased; an id
	// a stored request has, expired or not, is refused (ErrExists).
	// Created and Expires are filled in when zero: the store's clock, and
	// Created plus the TTL; Expires is then cut to whole seconds and must
	// be after the store's clock.
	Create(ctx context.Context, r *Request) error
	// Get returns the request with the id (any letter case), or
	// ErrNotFound. A pending request past its expiry comes back with
	// ErrExpired (the request and the error, both non-nil).
	Get(ctx context.Context, id string) (*Request, error)
	// Decide moves a pending, unexpired request to StateApproved or
	// StateRejected (to), by the user with the stable id by (byName for
	// the audit), atomically: of concurrent Decide calls of one request
	// exactly one succeeds and returns the request as decided. The others
	// get the request with ErrDecided (as decided: DecidedBy says by whom),
	// ErrExpired or ErrSelfApproval (approval by RequestedBy; rejection by
	// the requester is allowed); or ErrNotFound.
	Decide(ctx context.Context, id, to, by, byName string) (*Request, error)
	// Reopen puts a request that user by approved back to pending, when
	// its change could not be applied for a reason that may pass (Graph
	// unavailable, out of time), so that it can be approved again rather
	// than being lost. attempted, when not zero, is when that approval's
	// write went to Graph without a clear answer (Request.Attempted), and
	// recordID, when not empty, the change record id it recorded writes
	// under (a revert's steps before it stopped; kept in
	// Request.AttemptedIDs). decided, when not zero, is the decision the
	// caller made (Decided): a request decided otherwise, by someone
	// else, or at another time (taken over since, Retake) is left as it
	// is (ErrDecided).
	Reopen(ctx context.Context, id, by string, decided, attempted time.Time, recordID string) (*Request, error)
	// Finish marks the request approved by by at decided (the decision
	// the caller made) as finished: its change applied.
	Finish(ctx context.Context, id, by string, decided time.Time) (*Request, error)
	// Retake puts back to pending a request approved by by at decided
	// (the decision the caller saw) that never finished: that approval's
	// write may have landed, so it is kept as the request's attempt
	// (Attempted, when not set already). Any other state, a finished
	// approval or another decision since is left as it is (ErrDecided);
	// a request past its expiry too (ErrExpired).
	Retake(ctx context.Context, id, by string, decided time.Time) (*Request, error)
}

// approvedAs reports whether r is approved by by at decided (at any time,
// for a zero decided): the decision Reopen, Finish and Retake act on.
func approvedAs(r *Request, by string, decided time.Time) bool {
	return r.State == StateApproved && r.DecidedBy == by && (decided.IsZero() || r.Decided.Equal(decided))
}

// finish is Finish's change of r.
func finish(r *Request, by string, decided, now time.Time) (*Request, error) {
	if !approvedAs(r, by, decided) {
		return r, fmt.Errorf("%w: %s", ErrDecided, r.ID)
	}
	o := *r
	o.Finished = now.UTC()
	return &o, nil
}

// retake is Retake's change of r at now.
func retake(r *Request, by string, decided, now time.Time) (*Request, error) {
	if !approvedAs(r, by, decided) || !r.Finished.IsZero() {
		return r, fmt.Errorf("%w: %s", ErrDecided, r.ID)
	}
	if !now.Before(r.Expires) {
		return r, fmt.Errorf("%w: %s", ErrExpired, r.ID)
	}
	return reopen(r, by, decided, decided, "")
}

// reopen is Reopen's change of r.
func reopen(r *Request, by string, decided, attempted time.Time, recordID string) (*Request, error) {
	if !approvedAs(r, by, decided) {
		return r, fmt.Errorf("%w: %s", ErrDecided, r.ID)
	}
	o := *r
	o.State, o.DecidedBy, o.DecidedByName, o.Decided = StatePending, "", "", time.Time{}
	if !attempted.IsZero() && o.Attempted.IsZero() {
		// The first such write is the earliest that may have landed.
		o.Attempted, o.AttemptedBy, o.AttemptedByName = attempted.UTC(), r.DecidedBy, r.DecidedByName
	}
	if recordID != "" && !slices.Contains(o.AttemptedIDs, recordID) {
		o.AttemptedIDs = append(slices.Clip(o.AttemptedIDs), recordID)
	}
	return &o, nil
}

// Options configure a store; the zero value (or nil) is the defaults.
type Options struct {
	// TTL is how long a request waits for a decision (default DefaultTTL).
	TTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// MaxRequests bounds the embedded store (default 10000); ignored by
	// DynamoDB.
	MaxRequests int
}

func (o *Options) withDefaults() Options {
	var out Options
	if o != nil {
		out = *o
	}
	if out.TTL <= 0 {
		out.TTL = DefaultTTL
	}
	if out.Now == nil {
		out.Now = time.Now
	}
	if out.MaxRequests <= 0 {
		out.MaxRequests = 10000
	}
	return out
}

// canonicalID checks id (ASCII letters and digits, 1 to MaxIDLength) and
// returns it in upper case.
func canonicalID(id string) (string, error) {
	if id == "" || len(id) > MaxIDLength {
		return "", fmt.Errorf("%w: the id must be 1 to %d letters or digits", ErrInvalid, MaxIDLength)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return "", fmt.Errorf("%w: the id must be 1 to %d letters or digits", ErrInvalid, MaxIDLength)
		}
	}
	return strings.ToUpper(id), nil
}

// prepare completes and checks r for Create, and returns its JSON.
func prepare(r *Request, now time.Time, ttl time.Duration) ([]byte, error) {
	id, err := canonicalID(r.ID)
	if err != nil {
		return nil, err
	}
	invalid := func(why string) error { return fmt.Errorf("%w: %s", ErrInvalid, why) }
	switch {
	case r.Sender == "":
		return nil, invalid("no sender")
	case r.RequestedBy == "":
		return nil, invalid("no requester")
	case r.State != "" && r.State != StatePending:
		return nil, invalid("a new request is pending")
	case r.DecidedBy != "" || r.DecidedByName != "" || !r.Decided.IsZero():
		return nil, invalid("a new request is not decided")
	case len(r.Change) == 0 || !json.Valid(r.Change):
		return nil, invalid("the change is not JSON")
	case len(r.Before) > 0 && !json.Valid(r.Before):
		return nil, invalid("before is not JSON")
	}
	r.ID = id
	r.State = StatePending
	if r.Created.IsZero() {
		r.Created = now
	}
	r.Created = r.Created.UTC()
	if r.Expires.IsZero() {
		r.Expires = r.Created.Add(ttl)
	}
	r.Expires = r.Expires.UTC().Truncate(time.Second)
	if !now.Before(r.Expires) {
		return nil, invalid("it expires before it is stored")
	}
	return encode(r)
}

func encode(r *Request) ([]byte, error) {
	data, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("chatrequest: encode %s: %w", r.ID, err)
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%w: over %d bytes of JSON", ErrInvalid, MaxSize)
	}
	return data, nil
}

func decode(data []byte) (*Request, error) {
	var r Request
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("chatrequest: stored request: %w", err)
	}
	return &r, nil
}

// checkDecision checks Decide's arguments.
func checkDecision(to, by string) error {
	if to != StateApproved && to != StateRejected {
		return fmt.Errorf("%w: a decision is %s or %s", ErrInvalid, StateApproved, StateRejected)
	}
	if by == "" {
		return fmt.Errorf("%w: no decider", ErrInvalid)
	}
	return nil
}

// decide is Decide's verdict on the stored request r at now: the request
// as decided, or r with the reason it cannot be.
func decide(r *Request, now time.Time, to, by, byName string) (*Request, error) {
	switch {
	case r.State != StatePending:
		return r, fmt.Errorf("%w: %s %s", ErrDecided, r.ID, r.State)
	case r.Expired(now):
		return r, fmt.Errorf("%w: %s", ErrExpired, r.ID)
	case to == StateApproved && (by == r.RequestedBy || r.RequestedByOther != "" && by == r.RequestedByOther):
		return r, fmt.Errorf("%w: %s", ErrSelfApproval, r.ID)
	}
	d := *r
	d.State, d.DecidedBy, d.DecidedByName, d.Decided = to, by, byName, now.UTC()
	return &d, nil
}

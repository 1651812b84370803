package apply

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/idempotency"
	"github.com/enrollhook/enrollhook/pkg/record"
)

// Store is what the pipeline needs for de-duplication; see
// idempotency.Store for the protocol and the errors.
type Store interface {
	Begin(ctx context.Context, key, fingerprint string, inProgressUntil time.Time) (*idempotency.Lease, error)
	Complete(ctx context.Context, l *idempotency.Lease, resp idempotency.Response, expires time.Time) error
	Release(ctx context.Context, l *idempotency.Lease) error
	Note(ctx context.Context, l *idempotency.Lease, note []byte, expires time.Time) error
	Attempted(ctx context.Context, l *idempotency.Lease, note []byte, expires time.Time) error
}

// Key returns the store key and the fingerprint of a change. The key is the
// sender's delivery id where it has one (every sender derives it from bytes
// its signature covers, never from an unsigned header); otherwise a hash of
// the fingerprint, so the same approval sent twice without an id is still
// recognised. The fingerprint covers the whole decision: the sender, the
// ticket (id, system, state, requester, approver, link, window), the
// action and the change. The
// same key with another fingerprint is a conflict, not a replay.
// encoding/json writes struct fields in declaration order, so the sender's
// key order and whitespace change neither. The assignment, the last member,
// is the PATCH body's encoding (Request.PatchBody): the bytes Graph
// receives, which are what marshalling the Assignment as a member wrote,
// so fingerprints stored before stay the same (fingerprint_test.go).
func Key(source, deliveryID string, req *change.Request) (key, fingerprint string) {
	b, _ := json.Marshal(struct {
		Sender string         `json:"sender"`
		Ticket *change.Ticket `json:"ticket"`
		// Action is "revert" for a revert and empty for an apply (written
		// or not), so an apply's fingerprint is what it always was.
		Action          string `json:"action,omitempty"`
		ConfigurationID string `json:"configurationId"`
		AssignmentID    string `json:"assignmentId"`
	}{source, &req.Ticket, revertAction(req), req.ConfigurationID, req.AssignmentID})
	// The bytes are hashed where they are, not copied into one document
	// (nor passed to Marshal as a json.RawMessage member, which scans
	// them again): b without its closing brace, the member, the brace.
	h := sha256.New()
	h.Write(b[:len(b)-1])
	h.Write(assignmentMember)
	h.Write(req.PatchBody())
	h.Write(b[len(b)-1:])
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	fingerprint = hex.EncodeToString(sum[:])
	if deliveryID != "" {
		return source + ":" + deliveryID, fingerprint
	}
	return source + ":change:" + fingerprint, fingerprint
}

// assignmentMember opens the fingerprint's last member, the assignment.
var assignmentMember = []byte(`,"assignment":`)

func revertAction(req *change.Request) string {
	if req.Reverts() {
		return change.ActionRevert
	}
	return ""
}

// chatKeyPrefix keeps a chat delivery's record apart from the record the
// queued path keeps of its change.
const chatKeyPrefix = "chat:"

// ChatKey returns the store key and the fingerprint of a chat command's
// delivery, whatever its verb: the fingerprint is the signed body, so a
// command sent twice (a replay of a captured signed request, with or
// without a dry-run flag) is recognised and runs once.
func ChatKey(source, deliveryID string, body []byte) (key, fingerprint string) {
	sum := sha256.Sum256(body)
	return chatKeyPrefix + source + ":" + deliveryID, hex.EncodeToString(sum[:])
}

// workKeyPrefix marks the worker's own record of a change in the store: the
// webhook's record says the delivery was queued, the worker's says it was
// applied, so a message SQS delivers twice is applied once.
const workKeyPrefix = "apply:"

// WorkKey is the key of the worker's record of the queued change whose
// delivery has key.
func WorkKey(key string) string { return workKeyPrefix + key }

// HeaderDryRun marks a stored answer as a dry run's plan: the delivery id
// is spent on the dry run, and the same delivery without the flag is
// refused, never applied. RFC 7240's Preference-Applied says the same to
// the caller.
const HeaderDryRun = "Preference-Applied"

// DryRunApplied is HeaderDryRun's value on a dry run's answer.
const DryRunApplied = "dry-run"

// IsDryRunAnswer reports whether a stored answer was a dry run's.
func IsDryRunAnswer(r *idempotency.Response) bool {
	return r.Headers[HeaderDryRun] == DryRunApplied
}

// Deduplicates reports whether the pipeline has a de-duplication store.
func (p *Pipeline) Deduplicates() bool { return p.opts.Dedupe.Store != nil }

// Until is how long a delivery taken now stays in progress: ctx's deadline,
// or Timeout from now.
func (p *Pipeline) Until(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now().Add(p.opts.Deadlines.Timeout)
}

// Take takes the delivery key with its fingerprint in the store until
// until. Without a store it returns nil, nil: nothing to complete. The
// errors and the replay (Lease.Replay) are idempotency.Store's: Run answers
// them for a change (takeRefusal), and a chat command's own record
// (package webhook) in its own words.
func (p *Pipeline) Take(ctx context.Context, key, fingerprint string, until time.Time) (*idempotency.Lease, error) {
	if p.opts.Dedupe.Store == nil {
		return nil, nil
	}
	return p.opts.Dedupe.Store.Begin(ctx, key, fingerprint, until)
}

// Complete records resp as the answer of the delivery of lease, for
// replays; Release gives the delivery up, so that the sender's retry runs.
// Both do nothing for a nil lease. The answer is already decided: the store
// write is not cut short by a caller that went away, and a failure is only
// logged.
func (p *Pipeline) Complete(ctx context.Context, lease *idempotency.Lease, resp idempotency.Response) {
	p.completeFor(ctx, lease, resp, p.opts.Dedupe.CompletedTTL)
}

// completeFor is Complete, the answer kept for ttl.
func (p *Pipeline) completeFor(ctx context.Context, lease *idempotency.Lease, resp idempotency.Response, ttl time.Duration) {
	if lease == nil {
		return
	}
	// A record left in progress is taken over once its lease ends, and the
	// sender's retry would then apply the change again: hence the bounded
	// retries of storeWrite.
	err := p.storeWrite(ctx, func(ctx context.Context) error {
		return p.opts.Dedupe.Store.Complete(ctx, lease, resp, time.Now().Add(ttl))
	})
	if err != nil {
		p.log.WarnContext(ctx, "de-duplication record not updated", Cause(err))
	}
}

// storeWrite makes a store write that must not be cut short by a caller
// that went away (the detached context), but must not hold the answer past
// the invoke's deadline either (which the detached context would lose):
// up to completeAttempts tries, each bounded by completeTimeout and the
// deadline of ctx.
func (p *Pipeline) storeWrite(ctx context.Context, write func(context.Context) error) error {
	deadline, has := ctx.Deadline()
	ctx = context.WithoutCancel(ctx)
	var err error
	for attempt := 0; attempt < completeAttempts; attempt++ {
		until := time.Now().Add(completeTimeout)
		if has && deadline.Before(until) {
			until = deadline
		}
		actx, cancel := context.WithDeadline(ctx, until)
		err = write(actx)
		cancel()
		if err == nil || permanent(err) || has && !time.Now().Before(deadline) {
			break
		}
	}
	return err
}

// permanent reports whether a store write failed for good: tried again it
// fails the same way.
func permanent(err error) bool {
	return errors.Is(err, idempotency.ErrLost) || errors.Is(err, record.ErrConflict) ||
		errors.Is(err, record.ErrInvalid) || errors.Is(err, record.ErrTooLarge)
}

// completeAttempts and completeTimeout bound the store writes of Complete
// and Release (storeWrite).
const (
	completeAttempts = 3
	completeTimeout  = 3 * time.Second
)

// Release gives the delivery of lease up (see Complete).
func (p *Pipeline) Release(ctx context.Context, lease *idempotency.Lease) {
	if lease == nil {
		return
	}
	err := p.storeWrite(ctx, func(ctx context.Context) error { return p.opts.Dedupe.Store.Release(ctx, lease) })
	if err != nil {
		p.log.WarnContext(ctx, "de-duplication record not updated", Cause(err))
	}
}

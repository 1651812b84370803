package idempotency

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"
)

// Status of a record.
const (
	StatusInProgress = "IN_PROGRESS"
	StatusCompleted  = "COMPLETED"
	// StatusAttempted: an attempt gave the key up with an outcome it
	// could not know (Attempted); the next Begin takes it with the note.
	StatusAttempted = "ATTEMPTED"
)

// Errors returned by Begin.
var (
	// ErrInProgress: another attempt holds the key; retry after
	// InProgressError.RetryAfter.
	ErrInProgress = errors.New("idempotency: delivery in progress")
	// ErrMismatch: the key was used with a different fingerprint (the same
	// delivery id with another body).
	ErrMismatch = errors.New("idempotency: delivery id reused with a different body")
	// ErrLost: the record was taken over by another attempt (this holder
	// overran its in-progress expiry) or is gone.
	ErrLost = errors.New("idempotency: the record is no longer held by this attempt")
)

// InProgressError carries how long the current holder may still run.
type InProgressError struct{ RetryAfter time.Duration }

func (e *InProgressError) Error() string { return ErrInProgress.Error() }

// Is makes errors.Is(err, ErrInProgress) true.
func (e *InProgressError) Is(target error) bool { return target == ErrInProgress }

// Response is the stored answer a duplicate gets back.
type Response struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    []byte            `json:"body,omitempty"`
}

// Lease is what Begin returns: either a fresh hold on the key (Replay nil),
// which the caller must Complete, Release or give up as Attempted, or the
// stored answer of a completed delivery (Replay set).
type Lease struct {
	Key    string
	Holder string
	Replay *Response
	// Attempt, on a fresh hold, is the note an earlier attempt of the
	// same delivery (same fingerprint) left with Attempted: its outcome
	// was unknown. nil when there was none, or it expired.
	Attempt []byte
	// attemptUntil is when Attempt expires: a Release keeps the note
	// until then.
	attemptUntil time.Time
}

// Store is a de-duplication store. Implementations are safe for concurrent
// use by many processes sharing the same backend.
type Store interface {
	// Begin takes key for one attempt with the given fingerprint, held until
	// inProgressUntil. It returns a Lease with Replay set when the key was
	// completed earlier with the same fingerprint; *InProgressError when
	// another live attempt holds it; ErrMismatch when the fingerprints
	// differ. Expired records (completed past their expiry, or in progress
	// past inProgressUntil) are taken over.
	Begin(ctx context.Context, key, fingerprint string, inProgressUntil time.Time) (*Lease, error)
	// Complete stores the answer and keeps it until expires. ErrLost when
	// the lease was taken over.
	Complete(ctx context.Context, l *Lease, resp Response, expires time.Time) error
	// Release removes the record so the next attempt runs; a failed attempt
	// calls it. Releasing a lost lease is not an error. A lease that
	// carries an earlier attempt's note (Lease.Attempt) gives the key back
	// with that note, as Attempted left it: the earlier outcome is still
	// unknown.
	Release(ctx context.Context, l *Lease) error
	// Note keeps note on the record the lease holds, until expires, before
	// the attempt does what it may not learn the outcome of (a write):
	// should the holder die, the attempt that takes the key over gets the
	// note (Lease.Attempt), as after Attempted. Release drops it, Complete
	// too; a lease that carries an earlier note carries this one instead
	// (Lease.Attempt), and its release puts this one back. ErrLost when
	// the lease was taken over.
	Note(ctx context.Context, l *Lease, note []byte, expires time.Time) error
	// Attempted gives the key up like Release, for an attempt whose
	// outcome it cannot know (a write sent, its answer lost), and keeps
	// note until expires: the next Begin with the same fingerprint takes
	// the key with Lease.Attempt set to note; another fingerprint is
	// ErrMismatch until then. Complete drops the note. ErrLost when the
	// lease was taken over.
	Attempted(ctx context.Context, l *Lease, note []byte, expires time.Time) error
}

func newHolder() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// minRetryAfter keeps Retry-After meaningful when the holder is about to expire.
const minRetryAfter = time.Second

func retryAfter(until, now time.Time) time.Duration {
	d := until.Sub(now)
	if d < minRetryAfter {
		return minRetryAfter
	}
	return d.Truncate(time.Second) + time.Second
}

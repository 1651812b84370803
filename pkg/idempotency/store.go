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
// which the caller must Complete or Release, or the stored answer of a
// completed delivery (Replay set).
type Lease struct {
	Key    string
	Holder string
	Replay *Response
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
	// calls it. Releasing a lost lease is not an error.
	Release(ctx context.Context, l *Lease) error
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

package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
)

// Version is the Message format this build writes and reads. A worker
// refuses (does not retry) a message of another version. Version 2 is
// sealed (seal.go); version 1 was not.
const Version = 2

// Message is one approved change on its way to the worker. It carries what
// the worker needs to apply the change exactly once and to report the
// outcome where the sender can see it; never a secret or a signature.
type Message struct {
	Version int `json:"v"`
	// Source is the sender's route name (generic, slack, ...).
	Source string `json:"source"`
	// DeliveryID is the sender's id of the delivery, "" when it had none.
	DeliveryID string `json:"deliveryId,omitempty"`
	// Key and Fingerprint are the delivery's de-duplication key and the
	// hash of the change; the worker takes "apply:"+Key before it applies.
	Key         string `json:"key"`
	Fingerprint string `json:"fingerprint"`
	// RequestID is the webhook's request id (X-Request-Id of the 202), so
	// the worker's audit line can be joined to the webhook's.
	RequestID string `json:"requestId"`
	// Request is the validated, approved change; its Ticket names the
	// ticket, requester and approver for the audit trail.
	Request *change.Request `json:"request"`
	// Record is the ServiceNow record of the ticket, "table/sys_id"
	// (change.Ticket.Record, which the Request's JSON does not carry), for
	// the write-back of the outcome; empty for other senders.
	Record string `json:"record,omitempty"`
	// Chat is set for chat commands (Slack, Teams).
	Chat *Chat `json:"chat,omitempty"`
	// Received is when the webhook received the delivery.
	Received time.Time `json:"received"`
	// NotBefore, when set, is when the change's window opens: the queue
	// holds the message until then (SQS DelaySeconds, at most MaxDelay),
	// and the worker checks the window again when it receives it.
	NotBefore time.Time `json:"notBefore,omitzero"`
}

// MaxDelay is the longest a queue holds a message back (SQS's limit for
// DelaySeconds): a change whose window opens later is refused, not queued.
const MaxDelay = 15 * time.Minute

// delaySeconds is how long to hold m back at now, in whole seconds rounded
// up (so that it never arrives before NotBefore), at most MaxDelay.
func (m *Message) delaySeconds(now time.Time) int {
	if m.NotBefore.IsZero() {
		return 0
	}
	d := m.NotBefore.Sub(now)
	if d <= 0 {
		return 0
	}
	s := int((d + time.Second - 1) / time.Second)
	return min(s, int(MaxDelay/time.Second))
}

// Chat is what the worker needs to answer a chat command later.
type Chat struct {
	Tenant string `json:"tenant,omitempty"`
	User   string `json:"user,omitempty"`
	// OtherUser is the user's other id (Teams: the 29: id beside the
	// Entra object id), for the allow-list checked again by the worker.
	OtherUser string `json:"otherUser,omitempty"`
	// ResponseURL is Slack's response_url, where the outcome is posted. It
	// is a capability: it travels in the message (encrypted at rest by
	// SQS) and is never logged.
	ResponseURL string `json:"responseUrl,omitempty"`
}

// ErrMalformed is returned by Decode for a body that is not a Message of
// this Version; such a message is never retried.
var ErrMalformed = errors.New("queue: malformed message")

// encode returns the message's JSON, before it is sealed.
func (m *Message) encode() ([]byte, error) {
	m.Version = Version
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("queue: encode message: %w", err)
	}
	return b, nil
}

// decode reads a message's JSON, once its seal holds. Errors wrap
// ErrMalformed.
func decode(body []byte) (*Message, error) {
	var m Message
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	switch {
	case m.Version != Version:
		return nil, fmt.Errorf("%w: version %d, want %d", ErrMalformed, m.Version, Version)
	case m.Request == nil || m.Key == "" || m.Source == "":
		return nil, fmt.Errorf("%w: no request, key or source", ErrMalformed)
	}
	return &m, nil
}

// Delivery is one received message, as the worker sees it.
type Delivery struct {
	// ID is the queue's message id.
	ID   string
	Body []byte
	// ReceiveCount is how many times the message was received, this time
	// included (SQS ApproximateReceiveCount).
	ReceiveCount int
}

// Handler processes one delivery. It returns nil when the message is done
// with (applied, a duplicate, or a permanent failure it has reported), and
// an error when the message should be received again later (a retryable
// failure: Graph throttled or unavailable, the store unreachable).
type Handler func(ctx context.Context, d Delivery) error

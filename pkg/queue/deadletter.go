package queue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Names of the message attributes a dead letter carries (SQS message
// attributes of DataType String; read them with
// `aws sqs receive-message --message-attribute-names All`).
const (
	// AttrReason is the problem type's slug (graph-unavailable, not-found,
	// malformed-request, ...), as in the worker's log line and the
	// webhook's problem+json answers.
	AttrReason = "reason"
	// AttrDetail is the caller-safe sentence of the problem.
	AttrDetail = "detail"
	// AttrFailure is FailureExhausted or FailurePermanent.
	AttrFailure = "failure"
	// AttrReceiveCount is how often the main queue delivered the message.
	AttrReceiveCount = "receiveCount"
	// AttrRequestID is the webhook's request id of the change (X-Request-Id
	// of its 202), to join the worker's and the webhook's log lines.
	AttrRequestID = "requestId"
	// AttrMessageID is the message's id on the main queue (the worker
	// log's messageId).
	AttrMessageID = "messageId"
)

// Values of AttrFailure.
const (
	// FailureExhausted: a retryable failure (Graph throttled or
	// unavailable, out of time, the store unreachable) still failing on
	// the last receive.
	FailureExhausted = "exhausted"
	// FailurePermanent: a failure that no retry mends (not found, refused,
	// not approved, not a message of this version).
	FailurePermanent = "permanent"
)

// Reason says why a message was dead-lettered. Empty fields are left out
// of the message attributes (SQS refuses an empty attribute value).
type Reason struct {
	// Problem is the problem type's slug (AttrReason).
	Problem string
	// Detail is the caller-safe reason; never a secret, a payload or a
	// response_url.
	Detail string
	// Failure is FailureExhausted or FailurePermanent.
	Failure      string
	ReceiveCount int
	RequestID    string
	MessageID    string
}

// Attributes returns r as message attributes, by name.
func (r Reason) Attributes() map[string]string {
	a := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			a[k] = v
		}
	}
	set(AttrReason, r.Problem)
	set(AttrDetail, r.Detail)
	set(AttrFailure, r.Failure)
	if r.ReceiveCount > 0 {
		a[AttrReceiveCount] = strconv.Itoa(r.ReceiveCount)
	}
	set(AttrRequestID, r.RequestID)
	set(AttrMessageID, r.MessageID)
	return a
}

// maxAttrValue bounds one attribute value; a detail is a sentence, this
// only guards the message size.
const maxAttrValue = 1024

// attrValue bounds v and replaces the characters SQS refuses in a message
// (those outside #x9, #xA, #xD, #x20-#xD7FF, #xE000-#xFFFD,
// #x10000-#x10FFFF), which would fail the send.
func attrValue(v string) string {
	if len(v) > maxAttrValue {
		v = v[:maxAttrValue]
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t', r == '\n', r == '\r', r >= 0x20 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000 && r <= 0x10FFFF:
			return r
		}
		return '\uFFFD'
	}, strings.ToValidUTF8(v, "\uFFFD"))
}

// DeadLetter sends body, as the main queue carried it, to this queue (the
// dead-letter queue) with r as message attributes, so that an operator
// sees why it failed and can move it back once the cause is fixed. The
// error names the SQS error code, never the body.
func (q *SQS) DeadLetter(ctx context.Context, body []byte, r Reason) error {
	if len(body) > maxBody {
		return errors.New("queue: message larger than SQS's 256 KiB")
	}
	in := sendMessage{MessageBody: string(body)}
	for k, v := range r.Attributes() {
		if in.MessageAttributes == nil {
			in.MessageAttributes = map[string]messageAttribute{}
		}
		in.MessageAttributes[k] = messageAttribute{DataType: "String", StringValue: attrValue(v)}
	}
	if err := q.send(ctx, in); err != nil {
		return fmt.Errorf("queue: sqs:SendMessage to the dead-letter queue: %w", err)
	}
	return nil
}

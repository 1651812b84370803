package queue

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// SendMessageAPI is how SQS calls the service: an *awsapi.Client of
// "sqs".
type SendMessageAPI interface {
	JSON(ctx context.Context, target string, in, out any) error
}

// sendMessage is SendMessage's request in SQS's JSON protocol.
type sendMessage struct {
	QueueURL          string                      `json:"QueueUrl"`
	MessageBody       string                      `json:"MessageBody"`
	DelaySeconds      int                         `json:"DelaySeconds,omitempty"`
	MessageAttributes map[string]messageAttribute `json:"MessageAttributes,omitempty"`
}

type messageAttribute struct {
	DataType    string `json:"DataType"`
	StringValue string `json:"StringValue"`
}

// send calls SendMessage.
func (q *SQS) send(ctx context.Context, in sendMessage) error {
	in.QueueURL = q.url
	return q.client.JSON(ctx, "AmazonSQS.SendMessage", in, nil)
}

// SQS enqueues messages on one Amazon SQS queue (a standard queue: it
// delivers at least once, and the worker de-duplicates).
type SQS struct {
	client SendMessageAPI
	url    string
	key    *Key
}

// NewSQS returns the queue at url (https://sqs.<region>.amazonaws.com/<account>/<name>),
// whose messages are sealed with key (the worker's).
func NewSQS(client SendMessageAPI, url string, key *Key) *SQS {
	return &SQS{client: client, url: url, key: key}
}

// maxBody is SQS's limit on a message body (256 KiB).
const maxBody = 256 << 10

// Enqueue sends m. The error names the SQS error code, never the body.
func (q *SQS) Enqueue(ctx context.Context, m *Message) error {
	body, err := m.Seal(q.key)
	if err != nil {
		return err
	}
	if len(body) > maxBody {
		return errors.New("queue: message larger than SQS's 256 KiB")
	}
	if err := q.send(ctx, sendMessage{MessageBody: string(body), DelaySeconds: m.delaySeconds(time.Now())}); err != nil {
		return fmt.Errorf("queue: sqs:SendMessage: %w", err)
	}
	return nil
}

package queue

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// SendMessageAPI is the part of the SQS client SQS calls.
type SendMessageAPI interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// SQS enqueues messages on one Amazon SQS queue (a standard queue: it
// delivers at least once, and the worker de-duplicates).
type SQS struct {
	client SendMessageAPI
	url    string
}

// NewSQS returns the queue at url (https://sqs.<region>.amazonaws.com/<account>/<name>).
func NewSQS(client SendMessageAPI, url string) *SQS {
	return &SQS{client: client, url: url}
}

// maxBody is SQS's limit on a message body (256 KiB).
const maxBody = 256 << 10

// Enqueue sends m. The error names the SQS error code, never the body.
func (q *SQS) Enqueue(ctx context.Context, m *Message) error {
	body, err := m.Encode()
	if err != nil {
		return err
	}
	if len(body) > maxBody {
		return errors.New("queue: message larger than SQS's 256 KiB")
	}
	_, err = q.client.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:    aws.String(q.url),
		MessageBody: aws.String(string(body)),
	})
	if err != nil {
		return fmt.Errorf("queue: sqs:SendMessage: %w", err)
	}
	return nil
}

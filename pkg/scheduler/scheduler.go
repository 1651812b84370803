package scheduler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/enrollhook/enrollhook/pkg/awsapi"
	"github.com/enrollhook/enrollhook/pkg/queue"
)

// API is how the client calls EventBridge Scheduler: an *awsapi.Client of
// "scheduler".
type API interface {
	REST(ctx context.Context, method, path string, query url.Values, in, out any) error
}

// Options name what a schedule is made of; all are required (New).
type Options struct {
	// Group is the stack's schedule group.
	Group string
	// TargetARN is the worker's queue; RoleARN the role the schedule
	// assumes to send to it; DeadLetterARN the queue a schedule that could
	// not deliver goes to.
	TargetARN, RoleARN, DeadLetterARN string
	// MaxAttempts and MaxAge are the schedule's retry policy; defaults
	// 185 and 24 hours (the Scheduler's own maxima).
	MaxAttempts int
	MaxAge      time.Duration
	// Key seals the message a schedule delivers, as the queue does (the
	// worker checks it); nil is the development key.
	Key *queue.Key
}

// Client creates and deletes the schedules of queued changes.
type Client struct {
	api API
	o   Options
}

// New returns the client; every Options name is required.
func New(api API, o Options) (*Client, error) {
	if o.Group == "" || o.TargetARN == "" || o.RoleARN == "" || o.DeadLetterARN == "" {
		return nil, errors.New("scheduler: the schedule group, the target queue, the role and the dead-letter queue are all required")
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 185
	}
	if o.MaxAge <= 0 {
		o.MaxAge = 24 * time.Hour
	}
	return &Client{api: api, o: o}, nil
}

// Name is the schedule of a ticket's change of one assignment: the same
// for every delivery of it, so a new one replaces the old.
func Name(sender, ticket, configurationID, assignmentID string) string {
	sum := sha256.Sum256([]byte(sender + "\x00" + ticket + "\x00" + configurationID + "\x00" + assignmentID))
	return "enrollhook-" + hex.EncodeToString(sum[:20])
}

// schedule is the body of CreateSchedule and UpdateSchedule.
type schedule struct {
	ActionAfterCompletion      string         `json:"ActionAfterCompletion"`
	ClientToken                string         `json:"ClientToken,omitempty"`
	Description                string         `json:"Description,omitempty"`
	FlexibleTimeWindow         flexibleWindow `json:"FlexibleTimeWindow"`
	GroupName                  string         `json:"GroupName"`
	ScheduleExpression         string         `json:"ScheduleExpression"`
	ScheduleExpressionTimezone string         `json:"ScheduleExpressionTimezone"`
	State                      string         `json:"State"`
	Target                     target         `json:"Target"`
}

type flexibleWindow struct {
	Mode string `json:"Mode"`
}

type target struct {
	Arn              string      `json:"Arn"`
	RoleArn          string      `json:"RoleArn"`
	Input            string      `json:"Input"`
	RetryPolicy      retryPolicy `json:"RetryPolicy"`
	DeadLetterConfig deadLetter  `json:"DeadLetterConfig"`
}

type retryPolicy struct {
	MaximumEventAgeInSeconds int `json:"MaximumEventAgeInSeconds"`
	MaximumRetryAttempts     int `json:"MaximumRetryAttempts"`
}

type deadLetter struct {
	Arn string `json:"Arn"`
}

// Expression is the one-time schedule expression of at: UTC, whole
// seconds rounded up, so that the change never arrives before its window.
func Expression(at time.Time) string {
	at = at.UTC()
	if t := at.Truncate(time.Second); !t.Equal(at) {
		at = t.Add(time.Second)
	}
	return "at(" + at.Format("2006-01-02T15:04:05") + ")"
}

// Schedule holds m until at: it creates the schedule of m's ticket and
// assignment, or replaces it when one is pending (a new delivery of the
// same change).
func (c *Client) Schedule(ctx context.Context, m *queue.Message, at time.Time) error {
	input, err := m.Seal(c.o.Key)
	if err != nil {
		return err
	}
	name := Name(m.Source, m.Request.Ticket.ID, m.Request.ConfigurationID, m.Request.AssignmentID)
	s := schedule{
		ActionAfterCompletion:      "DELETE",
		Description:                "enrollhook: ticket " + m.Request.Ticket.ID + ", applied when its change window opens",
		FlexibleTimeWindow:         flexibleWindow{Mode: "OFF"},
		GroupName:                  c.o.Group,
		ScheduleExpression:         Expression(at),
		ScheduleExpressionTimezone: "UTC",
		State:                      "ENABLED",
		Target: target{Arn: c.o.TargetARN, RoleArn: c.o.RoleARN, Input: string(input),
			RetryPolicy:      retryPolicy{MaximumEventAgeInSeconds: int(c.o.MaxAge / time.Second), MaximumRetryAttempts: c.o.MaxAttempts},
			DeadLetterConfig: deadLetter{Arn: c.o.DeadLetterARN}},
	}
	if len(s.Description) > 512 {
		s.Description = s.Description[:512]
	}
	path := "/schedules/" + url.PathEscape(name)
	// The token makes a retried create one create: the same change, at
	// the same time.
	s.ClientToken = token(name, s.ScheduleExpression, input)
	err = c.api.REST(ctx, http.MethodPost, path, nil, &s, nil)
	if isCode(err, "ConflictException") {
		// Pending already: replace it with this delivery's.
		s.ClientToken = ""
		err = c.api.REST(ctx, http.MethodPut, path, nil, &s, nil)
	}
	return err
}

// Unschedule deletes the schedule of a ticket's change of one assignment;
// one that does not exist (ran, deleted, never made) is not an error.
func (c *Client) Unschedule(ctx context.Context, sender, ticket, configurationID, assignmentID string) error {
	name := Name(sender, ticket, configurationID, assignmentID)
	err := c.api.REST(ctx, http.MethodDelete, "/schedules/"+url.PathEscape(name), url.Values{"groupName": {c.o.Group}}, nil, nil)
	if isCode(err, "ResourceNotFoundException") {
		return nil
	}
	return err
}

func token(parts ...any) string {
	h := sha256.New()
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			h.Write([]byte(v))
		case []byte:
			h.Write(v)
		}
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:64]
}

func isCode(err error, code string) bool {
	var ae *awsapi.Error
	return errors.As(err, &ae) && ae.Code == code
}

package wiring

// This file is the one place that calls pkg/webhook's constructors and the
// apply step: when that API changes, only this file follows.

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/enrollhook/enrollhook/pkg/config"
	"github.com/enrollhook/enrollhook/pkg/graph"
	"github.com/enrollhook/enrollhook/pkg/idempotency"
	"github.com/enrollhook/enrollhook/pkg/limiter"
	"github.com/enrollhook/enrollhook/pkg/policy"
	"github.com/enrollhook/enrollhook/pkg/queue"
	"github.com/enrollhook/enrollhook/pkg/source/slack"
	"github.com/enrollhook/enrollhook/pkg/webhook"
	"github.com/enrollhook/enrollhook/pkg/writeback"
)

// maxReceive is how often a queue delivers a message before it moves to the
// dead letters.
const maxReceive = webhook.MaxReceive

// parts are what both handlers are built from.
type parts struct {
	cfg       config.Config
	log       *slog.Logger
	graph     *graph.Client
	policy    *policy.Policy
	store     idempotency.Store
	writeBack *writeback.Writer
}

func (p parts) options() *webhook.Options {
	o := &webhook.Options{
		GraphVersion: p.cfg.GraphVersion,
		Logger:       p.log,
		Store:        p.store,
		CompletedTTL: p.cfg.Delivery.TTL,
		Limiter:      limiter.New(p.cfg.Delivery.WriteLimit, p.cfg.Delivery.WriteWindow, nil),
		Policy:       p.policy,
		// The write-slot wait and the enqueue keep the Graph client's margin.
		DeadlineMargin: p.cfg.DeadlineMargin,
		// The item PATCH, the assign action, or the first then the other;
		// the webhook and the worker apply the same.
		UpdateStrategy: p.cfg.UpdateStrategy,
	}
	if p.writeBack != nil {
		// The outcome to the ServiceNow record or Jira issue.
		o.WriteBack = p.writeBack
	}
	return o
}

// httpHandler is the webhook's HTTP handler; it starts the in-process
// queue's workers, if any, with its apply step.
func httpHandler(p parts, sources []webhook.Source, disabled []string, a async) http.Handler {
	o := p.options()
	o.MaxBodyBytes = p.cfg.MaxBodyBytes
	o.Disabled = disabled
	o.AsyncSources = p.cfg.Queue.Async
	switch {
	case a.sqs != nil:
		o.Queue = a.sqs
	case a.local != nil:
		o.Queue, o.DeadLetters = a.local, a.local
		if a.deadLetters != nil {
			o.DeadLetters = a.deadLetters
		}
	}
	h := webhook.NewHandler(p.graph, sources, o)
	if a.local != nil {
		a.local.Start(h.Process)
	}
	return h
}

// withRequestID carries the request id into ctx: the gateway's, else
// Lambda's.
func withRequestID(ctx context.Context, gatewayID, lambdaID string) context.Context {
	if gatewayID != "" {
		return webhook.WithRequestID(ctx, gatewayID)
	}
	if lambdaID != "" {
		return webhook.WithRequestID(ctx, lambdaID)
	}
	return ctx
}

// sqsHandler is the worker's: each record through the apply step, the ones
// to receive again reported as partial batch failures. deadLetters may be
// nil.
func sqsHandler(p parts, deadLetters *queue.SQS) func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
	o := p.options()
	o.FollowUps = map[string]webhook.FollowUpper{
		slack.Name: slack.NewPoster(&slack.Options{ResponseType: p.cfg.Senders.Slack.ResponseType,
			AllowLoopbackResponseURL: p.cfg.GraphInsecureHTTP}),
	}
	if deadLetters != nil {
		o.DeadLetters = deadLetters
	}
	h := webhook.NewHandler(p.graph, nil, o)
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		return queue.HandleSQS(ctx, ev, h.Process), nil
	}
}

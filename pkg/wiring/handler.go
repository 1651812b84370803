package wiring

// This file is the one place that calls the constructors of pkg/apply,
// pkg/webhook, pkg/worker and pkg/eventbridge: when their API changes, only
// this file follows.

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/chatrequest"
	"github.com/enrollhook/enrollhook/pkg/config"
	"github.com/enrollhook/enrollhook/pkg/eventbridge"
	"github.com/enrollhook/enrollhook/pkg/graph"
	"github.com/enrollhook/enrollhook/pkg/idempotency"
	"github.com/enrollhook/enrollhook/pkg/limiter"
	"github.com/enrollhook/enrollhook/pkg/policy"
	"github.com/enrollhook/enrollhook/pkg/queue"
	"github.com/enrollhook/enrollhook/pkg/record"
	"github.com/enrollhook/enrollhook/pkg/scheduler"
	"github.com/enrollhook/enrollhook/pkg/source/slack"
	"github.com/enrollhook/enrollhook/pkg/webhook"
	"github.com/enrollhook/enrollhook/pkg/worker"
	"github.com/enrollhook/enrollhook/pkg/writeback"
)

// maxReceive is how often a queue delivers a message before it moves to the
// dead letters.
const maxReceive = worker.MaxReceive

// parts are what both handlers are built from.
type parts struct {
	cfg     config.Config
	log     *slog.Logger
	graph   *graph.Client
	policy  *policy.Policy
	store   idempotency.Store
	records record.Store
	// requests keeps chat requests for a second person (the webhook's);
	// nil in the worker.
	requests chatrequest.Store
	// scheduler holds changes for windows more than 15 minutes ahead; nil
	// when not configured.
	scheduler *scheduler.Client
	writeBack *writeback.Writer
	// key seals queued messages (the webhook, the scheduler) and opens
	// them (the worker); nil is the development key (the in-process
	// queue).
	key *queue.Key
}

// parts builds what every function applies changes with: the Graph client
// and policy (whose errors are the configuration's own), the
// de-duplication store, the change records, the scheduler and write-back.
// It leaves the webhook's chat requests to the webhook.
func (b *builder) parts() (parts, error) {
	gc, pol, err := b.graphClient()
	if err != nil {
		return parts{}, err
	}
	p := parts{cfg: b.cfg, log: b.log, graph: gc, policy: pol, writeBack: b.writeBack(), key: b.key}
	if p.store, err = b.store(); err == nil {
		if p.records, err = b.records(); err == nil {
			p.scheduler, err = b.scheduler()
		}
	}
	if err != nil {
		return parts{}, &config.Error{Problems: []string{err.Error()}}
	}
	return p, nil
}

// pipeline is the apply pipeline of both functions: the webhook and the
// worker apply alike.
func (p parts) pipeline() *apply.Pipeline {
	o := &apply.Options{
		Logger: p.log,
		// The write-slot wait and the enqueue keep the Graph client's margin.
		Deadlines: apply.Deadlines{Margin: p.cfg.DeadlineMargin},
		// The item PATCH, the assign action, or the first then the other.
		Update: apply.Update{GraphVersion: p.cfg.GraphVersion, Strategy: p.cfg.UpdateStrategy,
			Limiter: limiter.New(p.cfg.Delivery.WriteLimit, p.cfg.Delivery.WriteWindow, nil)},
		Dedupe:  apply.Dedupe{Store: p.store, CompletedTTL: p.cfg.Delivery.TTL},
		Policy:  p.policy,
		Records: p.records,
	}
	if p.scheduler != nil {
		o.Scheduler = p.scheduler // never a nil *Client in the interface
	}
	if p.writeBack != nil {
		// The outcome to the ServiceNow record or Jira issue.
		o.WriteBack = p.writeBack
	}
	return apply.New(p.graph, o)
}

// httpHandler is the webhook's HTTP handler; it starts the in-process
// queue's workers, if any, on the same pipeline.
func httpHandler(p parts, sources []webhook.Source, disabled []string, a async) http.Handler {
	pipe := p.pipeline()
	o := &webhook.Options{MaxBodyBytes: p.cfg.MaxBodyBytes, Disabled: disabled,
		Async: webhook.Async{Sources: p.cfg.Queue.Async}}
	if p.requests != nil {
		o.Requests = p.requests
	}
	switch {
	case a.sqs != nil:
		o.Async.Queue = a.sqs
		if p.scheduler != nil {
			o.Async.Scheduler = p.scheduler
		}
	case a.local != nil:
		o.Async.Queue = a.local
	}
	h := webhook.NewHandler(pipe, sources, o)
	if a.local != nil {
		wo := &worker.Options{DeadLetters: a.local, FollowUps: map[string]worker.FollowUpper{}, Key: p.key, Allowlists: allowlists(p.cfg)}
		if a.deadLetters != nil {
			wo.DeadLetters = a.deadLetters
		}
		// The chat senders post the outcome of a queued command themselves.
		for _, s := range sources {
			if f, ok := s.(worker.FollowUpper); ok {
				wo.FollowUps[s.Name()] = f
			}
		}
		a.local.Start(worker.New(pipe, wo).Process)
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

// sqsHandler is the worker's: each record through the apply pipeline, the
// ones to receive again reported as partial batch failures. deadLetters may
// be nil.
func sqsHandler(p parts, deadLetters *queue.SQS) func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
	o := &worker.Options{FollowUps: map[string]worker.FollowUpper{
		slack.Name: slack.NewPoster(&slack.Options{ResponseType: p.cfg.Senders.Slack.ResponseType,
			AllowLoopbackResponseURL: p.cfg.GraphInsecureHTTP}),
	}}
	if deadLetters != nil {
		o.DeadLetters = deadLetters
	}
	o.Key, o.Allowlists = p.key, allowlists(p.cfg)
	w := worker.New(p.pipeline(), o)
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		return queue.HandleSQS(ctx, ev, w.Process), nil
	}
}

// eventsHandler is the events function's: each EventBridge event through
// the apply pipeline, checked first against the policy's allow-list.
func eventsHandler(p parts) func(context.Context, events.EventBridgeEvent) error {
	return eventbridge.New(p.pipeline(), p.policy).Handle
}

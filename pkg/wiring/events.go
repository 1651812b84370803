package wiring

import (
	"context"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/enrollhook/enrollhook/pkg/config"
	"github.com/enrollhook/enrollhook/pkg/preflight"
	"github.com/enrollhook/enrollhook/pkg/sender"
)

// Events builds the events function's EventBridge handler once, at cold
// start: the configuration, the one credential, the Graph client, the
// guardrail policy with its eventbridge allow-list, the de-duplication
// table, the change record store and the write limiter. Each event is
// applied through the same pipeline as the webhook's; the handler returns
// an error only for a retryable failure (eventbridge.Handler.Handle). Every
// problem found is returned together (*config.Error).
//
// A policy without an eventbridge allow-list is not a problem: the
// function then refuses every event (fail closed), and the cold-start log
// says so at warning level.
func Events(ctx context.Context, getenv func(string) string, log *slog.Logger, o *Options) (func(context.Context, events.EventBridgeEvent) error, error) {
	b, err := newBuilder(ctx, getenv, log, o)
	if err != nil {
		return nil, err
	}
	if b.cfg.Delivery.Table == "" {
		// EventBridge delivers at least once: applied once only when every
		// instance records the event id in the shared table.
		b.problems = append(b.problems, config.EnvIdempotency+" must name the de-duplication table: the events function applies an event once only by recording its id there")
	}
	// It only cancels schedules; a key, if set, seals like the webhook's.
	b.queueKey(false)
	// Its scheduler cancels the schedule of a change a newer one overtakes.
	p, err := b.parts()
	if err != nil {
		return nil, err
	}
	if !p.policy.AllowsEvents() {
		log.Warn("the policy has no eventbridge allow-list: every event is refused (policy-event) until it names the sources, accounts and detail-types that may send changes",
			slog.String("policy", p.policy.Origin()), slog.String("sender", sender.EventBridge))
	}
	h := eventsHandler(p)
	log.Info("events ready", slog.Any("config", b.cfg))
	return h, nil
}

// EventsEvent is what the events function takes from Lambda: an
// EventBridge event from its rule, or the preflight's request (see Event),
// which checks the events function's own role. EventBridge puts a sender's
// fields under detail, never beside them.
type EventsEvent struct {
	events.EventBridgeEvent
	EnrollhookCheck *preflight.Request `json:"enrollhookCheck,omitempty"`
}

// EventsLambda builds the events function's Lambda handler once, at cold
// start (Events): an EventBridge event is applied (an error only for a
// retryable failure), a preflight request answered with a
// preflight.Result.
func EventsLambda(ctx context.Context, getenv func(string) string, log *slog.Logger, o *Options) (func(context.Context, EventsEvent) (any, error), error) {
	h, err := Events(ctx, getenv, log, o)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, ev EventsEvent) (any, error) {
		if ev.EnrollhookCheck == nil {
			return nil, h(ctx, ev.EventBridgeEvent)
		}
		return runPreflight(ctx, getenv, *ev.EnrollhookCheck, log, o), nil
	}, nil
}

package wiring

import (
	"context"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/enrollhook/enrollhook/pkg/config"
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

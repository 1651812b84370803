package wiring

import (
	"context"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/enrollhook/enrollhook/pkg/config"
	"github.com/enrollhook/enrollhook/pkg/preflight"
	"github.com/enrollhook/enrollhook/pkg/queue"
)

// Worker builds the worker function's SQS handler once, at cold start: the
// configuration, the one credential, the Graph client, the de-duplication
// table, the write limiter, the Slack poster for outcomes and the
// dead-letter queue. Each record is applied through the same step as the
// webhook's; the records to receive again are reported as partial batch
// failures. Every problem found is returned together (*config.Error).
func Worker(ctx context.Context, getenv func(string) string, log *slog.Logger, o *Options) (func(context.Context, events.SQSEvent) (events.SQSEventResponse, error), error) {
	b, err := newBuilder(ctx, getenv, log, o)
	if err != nil {
		return nil, err
	}
	cfg := b.cfg
	if cfg.Queue.DeadLetterLocal {
		b.problems = append(b.problems, config.EnvDeadLetterURL+"=local is the in-process queue's; the worker needs the SQS dead-letter queue (template.yaml: ChangeDeadLetterQueue)")
	}
	if cfg.Delivery.Table == "" {
		// Exactly-once across worker instances needs the shared table; the
		// embedded store would only see this instance's messages.
		b.problems = append(b.problems, config.EnvIdempotency+" must name the de-duplication table: the worker applies a change once only by recording it there")
	}
	b.queueKey(true)
	// Its scheduler cancels the schedule of a change a newer one overtakes.
	p, err := b.parts()
	if err != nil {
		return nil, err
	}
	var deadLetters *queue.SQS
	if cfg.Queue.DeadLetterURL != "" {
		if deadLetters, err = b.sqsQueue(config.EnvDeadLetterURL, cfg.Queue.DeadLetterURL); err != nil {
			return nil, err
		}
	} else {
		log.Warn("no dead-letter queue (" + config.EnvDeadLetterURL + "): a message that fails for good is logged only; SQS's redrive moves a retryable one without its reason, and a permanent one is dropped")
	}
	h := sqsHandler(p, deadLetters)
	log.Info("worker ready", slog.Any("config", cfg))
	return h, nil
}

// WorkerEvent is what the worker function takes from Lambda: an SQS event
// from its event source mapping, or the preflight's request (see Event),
// which checks the worker's own role.
type WorkerEvent struct {
	events.SQSEvent
	EnrollhookCheck *preflight.Request `json:"enrollhookCheck,omitempty"`
}

// WorkerLambda builds the worker function's Lambda handler once, at cold
// start (Worker): an SQS event is answered with its partial batch
// failures, a preflight request with a preflight.Result.
func WorkerLambda(ctx context.Context, getenv func(string) string, log *slog.Logger, o *Options) (func(context.Context, WorkerEvent) (any, error), error) {
	h, err := Worker(ctx, getenv, log, o)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, ev WorkerEvent) (any, error) {
		if ev.EnrollhookCheck == nil {
			return h(ctx, ev.SQSEvent)
		}
		return runPreflight(ctx, getenv, *ev.EnrollhookCheck, log, o), nil
	}, nil
}

package wiring

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/enrollhook/enrollhook/pkg/awsapi"
	"github.com/enrollhook/enrollhook/pkg/chatrequest"
	"github.com/enrollhook/enrollhook/pkg/config"
	"github.com/enrollhook/enrollhook/pkg/idempotency"
	"github.com/enrollhook/enrollhook/pkg/queue"
	"github.com/enrollhook/enrollhook/pkg/record"
	"github.com/enrollhook/enrollhook/pkg/scheduler"
)

// awsClient is the client of service (dynamodb, scheduler, sqs) for the
// setting key, which its errors name.
func (b *builder) awsClient(key, service string) (*awsapi.Client, error) {
	c, err := b.awsConfig(key)
	if err != nil {
		return nil, err
	}
	client, err := awsapi.New(c, service)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return client, nil
}

// store is the de-duplication store: DynamoDB when a table is configured
// (the endpoint can be pointed elsewhere with AWS_ENDPOINT_URL_DYNAMODB),
// else the embedded store, which de-duplicates within one process only.
func (b *builder) store() (idempotency.Store, error) {
	if b.cfg.Delivery.Table == "" {
		b.log.Info("de-duplication: embedded store (one process); set " + config.EnvIdempotency + " to share it across instances")
		return idempotency.NewMemory(nil, 0), nil
	}
	client, err := b.awsClient(config.EnvIdempotency, "dynamodb")
	if err != nil {
		return nil, err
	}
	b.log.Info("de-duplication: DynamoDB", slog.String("table", b.cfg.Delivery.Table))
	return idempotency.NewDynamoDB(client, b.cfg.Delivery.Table, nil), nil
}

// records is the change record: DynamoDB when a table is configured, else
// the embedded store, which one process keeps (a revert finds only what
// that process applied).
func (b *builder) records() (record.Store, error) {
	c := b.cfg.ChangeRecord
	opts := &record.Options{Retention: c.Retention}
	if c.Table == "" {
		b.log.Info("change record: embedded store (one process); set " + config.EnvChangeTable + " to keep it across instances and restarts")
		return record.NewMemory(opts), nil
	}
	client, err := b.awsClient(config.EnvChangeTable, "dynamodb")
	if err != nil {
		return nil, err
	}
	b.log.Info("change record: DynamoDB", slog.String("table", c.Table))
	return record.NewDynamoDB(client, c.Table, opts), nil
}

// requests keeps the chat requests that wait for a second person: in the
// change-record table when there is one, else in the process.
func (b *builder) requests() (chatrequest.Store, error) {
	c := b.cfg.ChangeRecord
	opts := &chatrequest.Options{TTL: b.cfg.ChatRequestTTL}
	if c.Table == "" {
		return chatrequest.NewMemory(opts), nil
	}
	client, err := b.awsClient(config.EnvChangeTable, "dynamodb")
	if err != nil {
		return nil, err
	}
	return chatrequest.NewDynamoDB(client, c.Table, opts), nil
}

// scheduler is the EventBridge Scheduler client of ENROLLHOOK_SCHEDULE_*,
// or nil when scheduling is not configured (a change whose window opens
// more than 15 minutes ahead is then refused).
func (b *builder) scheduler() (*scheduler.Client, error) {
	s := b.cfg.Schedule
	if !s.Enabled() {
		return nil, nil
	}
	client, err := b.awsClient(config.EnvScheduleGroup, "scheduler")
	if err != nil {
		return nil, err
	}
	b.log.Info("scheduling: EventBridge Scheduler", slog.String("group", s.Group))
	return scheduler.New(client, scheduler.Options{Group: s.Group, TargetARN: s.QueueARN, RoleARN: s.RoleARN, DeadLetterARN: s.DeadLetterARN, Key: b.key})
}

// queueKey reads ENROLLHOOK_QUEUE_SECRET into b.key. need says whether
// this function must have one (it sends to or reads from an SQS queue or
// a schedule); without it, it is a problem, as is the published
// development key anywhere but with the in-process queue of a local
// process.
func (b *builder) queueKey(need bool) {
	secret := b.cfg.Queue.Secret
	switch {
	case secret == "" && need:
		b.problems = append(b.problems, config.EnvQueueSecret+" must be set: the worker applies only messages sealed with it, so that nothing else put on the queue changes Intune (template.yaml: QueueSecret)")
	case secret == "":
	case secret == queue.DevelopmentSecret && !(b.cfg.Queue.Local && b.opts.Local):
		b.problems = append(b.problems, config.EnvQueueSecret+" is the published development key; set a key of your own")
	case len(secret) < config.MinQueueSecretLength:
		// The configuration has said so.
	default:
		k, err := queue.NewKey(secret)
		if err != nil {
			b.problems = append(b.problems, config.EnvQueueSecret+": "+err.Error())
			return
		}
		b.key = k
	}
}

// sqsQueue is the SQS queue at url, for the setting key.
func (b *builder) sqsQueue(key, url string) (*queue.SQS, error) {
	client, err := b.awsClient(key, "sqs")
	if err != nil {
		return nil, err
	}
	return queue.NewSQS(client, url, b.key), nil
}

// async is the queue of the async path, if any: one of sqs and local.
type async struct {
	// sqs is the SQS queue of ENROLLHOOK_QUEUE_URL (the endpoint can be
	// pointed elsewhere with AWS_ENDPOINT_URL_SQS).
	sqs *queue.SQS
	// local is the in-process queue of the local server: its workers are
	// to be started with the handler's apply step.
	local *queue.Local
	// deadLetters is where local's workers send the messages they give up
	// on when ENROLLHOOK_DEAD_LETTER_URL names an SQS queue; else local's
	// own dead-letter list. With SQS the worker function does that.
	deadLetters *queue.SQS
}

// asyncQueue builds the queue of the async path; the zero async without
// one.
func (b *builder) asyncQueue() (async, error) {
	cfg := b.cfg
	if !cfg.Queue.Enabled() {
		return async{}, nil
	}
	if !cfg.Queue.Local {
		sq, err := b.sqsQueue(config.EnvQueueURL, cfg.Queue.URL)
		if err != nil {
			return async{}, err
		}
		b.log.Info("async: SQS", slog.String("queue", cfg.Queue.URL), slog.Any("sources", cfg.Queue.Async))
		return async{sqs: sq}, nil
	}
	if !b.opts.Local {
		// Lambda freezes the sandbox after each answer: a 202 would
		// promise a change the in-process queue may never apply.
		return async{}, errors.New(config.EnvQueueURL + "=local is for one long-running process; on Lambda use the SQS queue of template.yaml")
	}
	a := async{local: queue.NewLocal(&queue.LocalOptions{Logger: b.log, MaxReceive: maxReceive, Key: b.key})}
	where := config.QueueLocal
	if cfg.Queue.DeadLetterURL != "" {
		var err error
		if a.deadLetters, err = b.sqsQueue(config.EnvDeadLetterURL, cfg.Queue.DeadLetterURL); err != nil {
			return async{}, err
		}
		where = cfg.Queue.DeadLetterURL
	}
	b.log.Info("async: in-process queue (changes live in memory until applied)", slog.Any("sources", cfg.Queue.Async),
		slog.String("deadLetters", where))
	return a, nil
}

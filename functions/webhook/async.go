package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/enrollhook/enrollhook/pkg/config"
	"github.com/enrollhook/enrollhook/pkg/queue"
	"github.com/enrollhook/enrollhook/pkg/webhook"
)

// asyncOptions builds the queue of the async path once, at cold start: the
// SQS queue of ENROLLHOOK_QUEUE_URL (the AWS SDK's default credential
// chain; the endpoint can be pointed elsewhere with AWS_ENDPOINT_URL_SQS),
// or the in-process queue, whose workers run this handler's Process: start
// is then to be called with the handler. With the in-process queue, dl is
// where its workers send the messages they give up on
// (ENROLLHOOK_DEAD_LETTER_URL: the queue's own dead-letter list by default,
// or an SQS queue); with SQS the worker function does that. Without a
// queue, all four are nil.
func asyncOptions(ctx context.Context, cfg config.Config, log *slog.Logger, onLambda bool) (q webhook.Queue, start func(*webhook.Handler), dl webhook.DeadLetterQueue, err error) {
	if !cfg.Queue.Enabled() {
		return nil, nil, nil, nil
	}
	if cfg.Queue.Local {
		if onLambda {
			// Lambda freezes the sandbox after each answer: a 202 would
			// promise a change the in-process queue may never apply.
			return nil, nil, nil, errors.New(config.EnvQueueURL + "=local is for one long-running process; on Lambda use the SQS queue of template.yaml")
		}
		local := queue.NewLocal(&queue.LocalOptions{Logger: log, MaxReceive: webhook.MaxReceive})
		dl = local
		if cfg.Queue.DeadLetterURL != "" {
			awsCfg, err := awsConfig(ctx, config.EnvDeadLetterURL)
			if err != nil {
				return nil, nil, nil, err
			}
			dl = queue.NewSQS(sqs.NewFromConfig(awsCfg), cfg.Queue.DeadLetterURL)
		}
		log.Info("async: in-process queue (changes live in memory until applied)", slog.Any("sources", cfg.Queue.Async),
			slog.String("deadLetters", orLocal(cfg.Queue.DeadLetterURL)))
		return local, func(h *webhook.Handler) { local.Start(h.Process) }, dl, nil
	}
	awsCfg, err := awsConfig(ctx, config.EnvQueueURL)
	if err != nil {
		return nil, nil, nil, err
	}
	log.Info("async: SQS", slog.String("queue", cfg.Queue.URL), slog.Any("sources", cfg.Queue.Async))
	return queue.NewSQS(sqs.NewFromConfig(awsCfg), cfg.Queue.URL), nil, nil, nil
}

// awsConfig loads the AWS SDK's default configuration for the setting key.
func awsConfig(ctx context.Context, key string) (aws.Config, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return c, fmt.Errorf("%s: AWS configuration: %w", key, err)
	}
	return c, nil
}

func orLocal(url string) string {
	if url == "" {
		return config.QueueLocal
	}
	return url
}

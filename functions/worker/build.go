package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/enrollhook/enrollhook/pkg/config"
	"github.com/enrollhook/enrollhook/pkg/graph"
	"github.com/enrollhook/enrollhook/pkg/idempotency"
	"github.com/enrollhook/enrollhook/pkg/identity"
	"github.com/enrollhook/enrollhook/pkg/limiter"
	"github.com/enrollhook/enrollhook/pkg/policy"
	"github.com/enrollhook/enrollhook/pkg/queue"
	"github.com/enrollhook/enrollhook/pkg/source/slack"
	"github.com/enrollhook/enrollhook/pkg/webhook"
)

// build wires the worker once, at cold start: the configuration, the one
// credential, the Graph client, the de-duplication store, the write limiter,
// the Slack poster for outcomes and the dead-letter queue. Every problem
// found is returned together.
func build(ctx context.Context, getenv func(string) string, log *slog.Logger) (*webhook.Handler, error) {
	cfg, err := config.Load(getenv)
	var problems []string
	var cerr *config.Error
	if errors.As(err, &cerr) {
		problems = append(problems, cerr.Problems...)
	} else if err != nil {
		return nil, err
	}
	if cfg.Queue.DeadLetterLocal {
		problems = append(problems, config.EnvDeadLetterURL+"=local is the in-process queue's; the worker needs the SQS dead-letter queue (template.yaml: ChangeDeadLetterQueue)")
	}
	if cfg.Delivery.Table == "" {
		// Exactly-once across worker instances needs the shared table; the
		// embedded store would only see this instance's messages.
		problems = append(problems, config.EnvIdempotency+" must name the de-duplication table: the worker applies a change once only by recording it there")
	}
	var cred *identity.Credential
	if cfg.Identity.Valid {
		if cred, err = identity.New(identity.SettingsFrom(cfg), &identity.Options{Logger: log,
			DisableInstanceDiscovery: cfg.Identity.CustomAuthority}); err != nil {
			problems = append(problems, err.Error())
		}
	}
	// The policy in force when the message is applied, not when it was
	// queued.
	pol, err := policy.Load(cfg.Policy.Data, cfg.Policy.Origin, cfg.Policy.YAML)
	var pe *policy.Error
	switch {
	case errors.As(err, &pe):
		for _, p := range pe.Problems {
			problems = append(problems, pe.Origin+": "+p)
		}
	case err != nil:
		problems = append(problems, cfg.Policy.Origin+": "+err.Error())
	}
	if len(problems) > 0 {
		return nil, &config.Error{Problems: problems}
	}
	retries := cfg.MaxRetries
	if retries == 0 {
		retries = -1 // graph.Options reads zero as "default"
	}
	gc, err := graph.NewClient(cfg.GraphBaseURL, cred, cfg.Cloud.Scope, &graph.Options{
		MaxRetries:        retries,
		DeadlineMargin:    cfg.DeadlineMargin,
		InsecureAllowHTTP: cfg.GraphInsecureHTTP,
		Logger:            log,
	})
	if err != nil {
		return nil, err
	}
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	awsCfg, err := awsconfig.LoadDefaultConfig(actx)
	if err != nil {
		return nil, fmt.Errorf("%s: AWS configuration: %w", config.EnvIdempotency, err)
	}
	store := idempotency.NewDynamoDB(dynamodb.NewFromConfig(awsCfg), cfg.Delivery.Table, nil)
	var deadLetters webhook.DeadLetterQueue
	if cfg.Queue.DeadLetterURL != "" {
		deadLetters = queue.NewSQS(sqs.NewFromConfig(awsCfg), cfg.Queue.DeadLetterURL)
	} else {
		log.Warn("no dead-letter queue (" + config.EnvDeadLetterURL + "): a message that fails for good is logged only; SQS's redrive moves a retryable one without its reason, and a permanent one is dropped")
	}
	h := webhook.NewHandler(gc, nil, &webhook.Options{
		GraphVersion: cfg.GraphVersion,
		Logger:       log,
		Store:        store,
		CompletedTTL: cfg.Delivery.TTL,
		Limiter:      limiter.New(cfg.Delivery.WriteLimit, cfg.Delivery.WriteWindow, nil),
		// The write-slot wait keeps the Graph client's margin.
		DeadlineMargin: cfg.DeadlineMargin,
		// The same update strategy as the webhook's (template.yaml).
		UpdateStrategy: cfg.UpdateStrategy,
		FollowUps: map[string]webhook.FollowUpper{
			slack.Name: slack.NewPoster(&slack.Options{ResponseType: cfg.Senders.Slack.ResponseType,
				AllowLoopbackResponseURL: cfg.GraphInsecureHTTP}),
		},
		DeadLetters: deadLetters,
		Policy:      pol,
		// The outcome to the ServiceNow record or Jira issue, if configured.
		WriteBack: writeBackOf(cfg),
	})
	log.Info("worker ready", slog.Any("config", cfg))
	return h, nil
}

package wiring

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/enrollhook/enrollhook/pkg/config"
	"github.com/enrollhook/enrollhook/pkg/graph"
	"github.com/enrollhook/enrollhook/pkg/identity"
	"github.com/enrollhook/enrollhook/pkg/policy"
	"github.com/enrollhook/enrollhook/pkg/queue"
	"github.com/enrollhook/enrollhook/pkg/writeback"
)

// Options tune the builders. A nil *Options means every default.
type Options struct {
	// Local says the process is the long-running local server
	// (functions/local), not a Lambda function: the published development
	// secrets are accepted while Graph is a loopback emulator, and the
	// in-process queue may run. Default false: Lambda.
	Local bool
	// Credential tunes the one credential (a test's local Entra, say); the
	// builder sets its Logger and, for aws-federation, its AWSConfig.
	// Default: identity's defaults.
	Credential *identity.Options
	// AWS returns the AWS configuration of the DynamoDB, SQS and STS
	// clients; it is called once, and only when one of them is configured.
	// Default: AWSFromEnv, the configuration the Lambda runtime's
	// environment holds.
	AWS func(ctx context.Context) (aws.Config, error)
	// PrefetchToken has the Graph client fetch its token in the background
	// as soon as it is built (graph.Client.Prefetch), so that the cold
	// start's first delivery does not wait for it; the Lambda bootstrap
	// sets it. Default false: the token is fetched by the first call.
	PrefetchToken bool
}

// prefetchWithin bounds the cold start's token prefetch: well under the
// functions' 25 s timeout, so that a first call that waited for a hung
// prefetch still has time to fetch a token of its own.
const prefetchWithin = 8 * time.Second

// builder holds what one cold start has loaded so far.
type builder struct {
	ctx    context.Context
	getenv func(string) string
	log    *slog.Logger
	opts   Options
	cfg    config.Config
	// problems are the cold start's, listed together.
	problems []string
	aws      func() (aws.Config, error)
	// key is the queue's (queueKey); nil is the development key.
	key *queue.Key
}

func newBuilder(ctx context.Context, getenv func(string) string, log *slog.Logger, o *Options) (*builder, error) {
	b := &builder{ctx: ctx, getenv: getenv, log: log}
	if o != nil {
		b.opts = *o
	}
	b.aws = sync.OnceValues(func() (aws.Config, error) {
		if b.opts.AWS != nil {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			return b.opts.AWS(ctx)
		}
		return AWSFromEnv(getenv)
	})
	cfg, err := config.Load(getenv)
	var cerr *config.Error
	if errors.As(err, &cerr) {
		b.problems = append(b.problems, cerr.Problems...)
	} else if err != nil {
		return nil, err
	}
	b.cfg = cfg
	return b, nil
}

// awsConfig is the AWS configuration, for the setting key that needs it.
func (b *builder) awsConfig(key string) (aws.Config, error) {
	c, err := b.aws()
	if err != nil {
		return c, fmt.Errorf("%s: AWS configuration: %w", key, err)
	}
	return c, nil
}

// err is the cold start's problems as one error, or nil.
func (b *builder) err() error {
	if len(b.problems) == 0 {
		return nil
	}
	return &config.Error{Problems: b.problems}
}

// Credential builds the one credential cfg names (identity.FromConfig),
// with the AWS configuration aws-federation needs; nil, nil when the
// configuration's credential settings are invalid. The preflight builds
// its credential with it too, so that it tests what the function runs.
func Credential(ctx context.Context, cfg config.Config, getenv func(string) string, log *slog.Logger, o *Options) (*identity.Credential, error) {
	b := &builder{ctx: ctx, getenv: getenv, log: log, cfg: cfg}
	if o != nil {
		b.opts = *o
	}
	b.aws = func() (aws.Config, error) {
		if b.opts.AWS != nil {
			return b.opts.AWS(ctx)
		}
		return AWSFromEnv(getenv)
	}
	return b.credential()
}

func (b *builder) credential() (*identity.Credential, error) {
	var o identity.Options
	if b.opts.Credential != nil {
		o = *b.opts.Credential
	}
	o.Logger = b.log
	if b.cfg.Identity.Valid && b.cfg.Credential == config.CredentialAWS && o.AWSConfig == nil {
		c, err := b.awsConfig(config.EnvCredential + "=" + config.CredentialAWS)
		if err != nil {
			return nil, err
		}
		o.AWSConfig = &c
	}
	return identity.FromConfig(b.cfg, &o)
}

// graphClient builds the credential and the policy, adding their problems,
// and, when no problem was found, the Graph client.
func (b *builder) graphClient() (*graph.Client, *policy.Policy, error) {
	cred, err := b.credential()
	if err != nil {
		b.problems = append(b.problems, err.Error())
	}
	pol := b.policy()
	if err := b.err(); err != nil {
		return nil, nil, err
	}
	retries := b.cfg.MaxRetries
	if retries == 0 {
		retries = -1 // graph.Options reads zero as "default"
	}
	gc, err := graph.NewClient(b.cfg.GraphBaseURL, cred, b.cfg.Cloud.Scope, &graph.Options{
		MaxRetries:        retries,
		DeadlineMargin:    b.cfg.DeadlineMargin,
		InsecureAllowHTTP: b.cfg.GraphInsecureHTTP,
		Logger:            b.log,
	})
	if err == nil && b.opts.PrefetchToken {
		gc.Prefetch(b.ctx, prefetchWithin)
	}
	return gc, pol, err
}

// policy parses the configured guardrail policy, or takes the built-in
// default; the problems of a policy document are listed one by one with
// the rest of the cold start's. The worker loads it at its own cold start:
// the policy in force when a change is applied, not when it was queued.
func (b *builder) policy() *policy.Policy {
	cfg := b.cfg
	pol, err := policy.Load(cfg.Policy.Data, cfg.Policy.Origin, cfg.Policy.YAML)
	var pe *policy.Error
	switch {
	case errors.As(err, &pe):
		for _, p := range pe.Problems {
			b.problems = append(b.problems, pe.Origin+": "+p)
		}
		return nil
	case err != nil:
		b.problems = append(b.problems, cfg.Policy.Origin+": "+err.Error())
		return nil
	}
	b.log.Info("guardrail policy", slog.String("policy", pol.Origin()))
	return pol
}

// writeBack is the write-back of outcomes to tickets the configuration asks
// for, or nil: none.
func (b *builder) writeBack() *writeback.Writer {
	return writeback.New(writeback.Options{
		ServiceNow: writeback.Target(b.cfg.WriteBack.ServiceNow),
		Jira:       writeback.Target(b.cfg.WriteBack.Jira),
	})
}

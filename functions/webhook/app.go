package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/enrollhook/enrollhook/pkg/apigw"
	"github.com/enrollhook/enrollhook/pkg/chat"
	"github.com/enrollhook/enrollhook/pkg/config"
	"github.com/enrollhook/enrollhook/pkg/graph"
	"github.com/enrollhook/enrollhook/pkg/policy"
	"github.com/enrollhook/enrollhook/pkg/sender"
	"github.com/enrollhook/enrollhook/pkg/source/generic"
	"github.com/enrollhook/enrollhook/pkg/source/jira"
	"github.com/enrollhook/enrollhook/pkg/source/servicenow"
	"github.com/enrollhook/enrollhook/pkg/source/slack"
	"github.com/enrollhook/enrollhook/pkg/source/teams"
	"github.com/enrollhook/enrollhook/pkg/webhook"
)

// implemented lists the senders this version has adapters for.
var implemented = map[string]func(secret string, cfg config.Config) (webhook.Source, error){
	generic.Name: func(secret string, cfg config.Config) (webhook.Source, error) {
		return generic.New(secret, cfg.SignatureTolerance)
	},
	servicenow.Name: func(secret string, cfg config.Config) (webhook.Source, error) {
		return servicenow.New(secret, cfg.SignatureTolerance)
	},
	jira.Name: func(secret string, cfg config.Config) (webhook.Source, error) {
		j := cfg.Senders.Jira
		return jira.New(secret, &jira.Options{ApprovedStatuses: j.ApprovedStatuses, ApprovalField: j.ApprovalField,
			ConfigurationField: j.ConfigurationField, AssignmentField: j.AssignmentField, GroupField: j.GroupField,
			FilterField: j.FilterField, FilterType: j.FilterType, TargetType: j.TargetType, Tolerance: cfg.SignatureTolerance})
	},
	slack.Name: func(secret string, cfg config.Config) (webhook.Source, error) {
		s := cfg.Senders.Slack
		return slack.New(secret, &slack.Options{Tolerance: cfg.SignatureTolerance, ResponseType: s.ResponseType,
			Allow: chat.Allowlist{Tenant: s.TeamID, Users: s.AllowedUsers, TenantSetting: config.EnvSlackTeamID, UsersSetting: config.EnvSlackAllowedUsers}})
	},
	teams.Name: func(secret string, cfg config.Config) (webhook.Source, error) {
		t := cfg.Senders.Teams
		return teams.New(secret, &teams.Options{Tolerance: cfg.SignatureTolerance,
			Allow: chat.Allowlist{Tenant: t.TenantID, Users: t.AllowedUsers, TenantSetting: config.EnvTeamsTenantID, UsersSetting: config.EnvTeamsAllowedUsers}})
	},
}

// developmentSecret lists, by sender, the test for that sender's published
// development secret (its IsDevelopmentSecret: by decoded key, in any
// spelling). The cold start runs every test on every sender's secret: a
// published secret protects nothing, whichever variable it is set in.
var developmentSecret = map[string]func(secret string) bool{
	generic.Name:    generic.IsDevelopmentSecret,
	servicenow.Name: servicenow.IsDevelopmentSecret,
	jira.Name:       jira.IsDevelopmentSecret,
	slack.Name:      slack.IsDevelopmentSecret,
	teams.Name:      teams.IsDevelopmentSecret,
}

// isDevelopmentSecret reports whether secret is any sender's published
// development secret.
func isDevelopmentSecret(secret string) bool {
	for _, is := range developmentSecret {
		if is(secret) {
			return true
		}
	}
	return false
}

// chatNobodyAllowed names the setting a chat sender lacks to let anyone run
// commands, or "" when it has both.
func chatNobodyAllowed(name string, cfg config.Config) string {
	switch {
	case name == slack.Name && (cfg.Senders.Slack.TeamID == "" || len(cfg.Senders.Slack.AllowedUsers) == 0):
		return config.EnvSlackTeamID + " and " + config.EnvSlackAllowedUsers
	case name == teams.Name && (cfg.Senders.Teams.TenantID == "" || len(cfg.Senders.Teams.AllowedUsers) == 0):
		return config.EnvTeamsTenantID + " and " + config.EnvTeamsAllowedUsers
	}
	return ""
}

// build loads the configuration and wires the handler once, at cold start.
// Every problem found is returned together.
func build(getenv func(string) string, log *slog.Logger, onLambda bool) (http.Handler, config.Config, error) {
	cfg, err := config.Load(getenv)
	var problems []string
	var cerr *config.Error
	if errors.As(err, &cerr) {
		problems = append(problems, cerr.Problems...)
	} else if err != nil {
		return nil, cfg, err
	}
	var sources []webhook.Source
	var disabled []string
	for _, name := range sender.Names() {
		secret := cfg.Secrets[name]
		mk, ok := implemented[name]
		switch {
		case !ok && secret != "":
			log.Warn("sender not available in this version; its secret is ignored and its route answers 404", slog.String("source", name))
		case !ok:
		case secret == "":
			disabled = append(disabled, name)
			log.Warn("sender disabled: no secret, so its route refuses every delivery (fail closed)",
				slog.String("source", name), slog.String("set", config.SecretKey(name)))
		case (onLambda || !cfg.GraphInsecureHTTP) && isDevelopmentSecret(secret):
			// The published secrets are for the loopback emulator only.
			problems = append(problems, config.SecretKey(name)+" is the published development secret; set a secret of your own")
		default:
			s, err := mk(secret, cfg)
			if err != nil {
				problems = append(problems, config.SecretKey(name)+": "+err.Error())
				continue
			}
			if missing := chatNobodyAllowed(name, cfg); missing != "" {
				log.Warn("chat sender enabled, but nobody may run commands: every command is refused in its reply (fail closed)",
					slog.String("source", name), slog.String("set", missing))
			}
			sources = append(sources, s)
		}
	}
	// The credential is built whenever its own settings are sound, even
	// beside other problems, so that its failure (an unparsable
	// certificate, say) is listed with them rather than at the next start.
	cred, err := credentialFor(cfg, log) // check.go
	if err != nil {
		problems = append(problems, err.Error())
	}
	pol, policyProblems := loadPolicy(cfg, log)
	problems = append(problems, policyProblems...)
	if len(problems) > 0 {
		return nil, cfg, &config.Error{Problems: problems}
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
		return nil, cfg, err
	}
	store, lim, err := deliveryOptions(context.Background(), cfg, log)
	if err != nil {
		return nil, cfg, &config.Error{Problems: []string{err.Error()}}
	}
	q, startQueue, deadLetters, err := asyncOptions(context.Background(), cfg, log, onLambda) // async.go
	if err != nil {
		return nil, cfg, &config.Error{Problems: []string{err.Error()}}
	}
	h := webhook.NewHandler(gc, sources, &webhook.Options{
		MaxBodyBytes: cfg.MaxBodyBytes,
		GraphVersion: cfg.GraphVersion,
		Disabled:     disabled,
		Logger:       log,
		Store:        store,
		CompletedTTL: cfg.Delivery.TTL,
		Limiter:      lim,
		Queue:        q,
		AsyncSources: cfg.Queue.Async,
		DeadLetters:  deadLetters,
		Policy:       pol,
		// The write-slot wait and the enqueue keep the Graph client's margin.
		DeadlineMargin: cfg.DeadlineMargin,
		// The item PATCH, the assign action, or the first then the other.
		UpdateStrategy: cfg.UpdateStrategy,
		// The outcome to the ServiceNow record or Jira issue, if configured.
		WriteBack: writeBackOf(cfg),
	})
	if startQueue != nil {
		startQueue(h)
	}
	log.Info("ready", slog.Any("config", cfg))
	return h, cfg, nil
}

func runLambda(ctx context.Context, getenv func(string) string) error {
	log := lambdacontext.NewLogger()
	slog.SetDefault(log)
	h, _, err := build(getenv, log, true)
	if err != nil {
		// Failing the init phase makes Lambda report an init error instead
		// of answering callers with a half-configured function.
		log.Error("cold start failed", slog.String("error", err.Error()))
		return err
	}
	handler := apigw.Wrap(h, &apigw.Options{Context: func(ctx context.Context, ev *events.APIGatewayV2HTTPRequest) context.Context {
		if id := ev.RequestContext.RequestID; id != "" {
			return webhook.WithRequestID(ctx, id)
		}
		if lc, ok := lambdacontext.FromContext(ctx); ok {
			return webhook.WithRequestID(ctx, lc.AwsRequestID)
		}
		return ctx
	}})
	// withPreflight (check.go) also answers `aws lambda invoke` with an
	// enrollhookCheck payload: the preflight with the deployed role.
	lambda.StartWithOptions(withPreflight(handler, getenv, log), lambda.WithContext(ctx), lambda.WithEnableSIGTERM())
	return nil
}

// loadPolicy parses the configured guardrail policy, or takes the built-in
// default; the problems of a policy document are listed one by one with
// the rest of the cold start's. The worker (functions/worker) does the
// same.
func loadPolicy(cfg config.Config, log *slog.Logger) (*policy.Policy, []string) {
	pol, err := policy.Load(cfg.Policy.Data, cfg.Policy.Origin, cfg.Policy.YAML)
	var pe *policy.Error
	switch {
	case errors.As(err, &pe):
		out := make([]string, 0, len(pe.Problems))
		for _, p := range pe.Problems {
			out = append(out, pe.Origin+": "+p)
		}
		return nil, out
	case err != nil:
		return nil, []string{cfg.Policy.Origin + ": " + err.Error()}
	}
	log.Info("guardrail policy", slog.String("policy", pol.Origin()))
	return pol, nil
}

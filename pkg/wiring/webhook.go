package wiring

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/enrollhook/enrollhook/pkg/apigw"
	"github.com/enrollhook/enrollhook/pkg/config"
	"github.com/enrollhook/enrollhook/pkg/identity"
	"github.com/enrollhook/enrollhook/pkg/preflight"
)

// Webhook builds the webhook's HTTP handler once, at cold start, and
// returns it with the configuration it read. Every problem found is
// returned together (*config.Error). The handler has a Wait method for the
// chat commands still finishing after their answer.
func Webhook(ctx context.Context, getenv func(string) string, log *slog.Logger, o *Options) (http.Handler, config.Config, error) {
	b, err := newBuilder(ctx, getenv, log, o)
	if err != nil {
		return nil, config.Config{}, err
	}
	if b.cfg.Delivery.Table == "" && !b.opts.Local {
		// Each Lambda instance has its own process: an embedded store
		// would let a delivery (or a dry run's id) that reaches another
		// instance apply again. Only the local server may do without.
		b.problems = append(b.problems, config.EnvIdempotency+" must name the de-duplication table: on Lambda the webhook applies a delivery once only by recording it there, across instances")
	}
	sources, disabled := b.senders()
	// Messages to an SQS queue or a schedule are sealed with the key the
	// worker checks; the in-process queue may use the development key.
	b.queueKey(b.cfg.Queue.URL != "" || b.cfg.Schedule.Enabled())
	// The credential is built whenever its own settings are sound, even
	// beside other problems, so that its failure is listed with them rather
	// than at the next start.
	p, err := b.parts()
	if err != nil {
		return nil, b.cfg, err
	}
	p.requests, err = b.requests()
	if err != nil {
		return nil, b.cfg, &config.Error{Problems: []string{err.Error()}}
	}
	if pol := p.policy; pol.SecondPerson("slack", "assign") || pol.SecondPerson("teams", "assign") || pol.SecondPerson("slack", "revert") || pol.SecondPerson("teams", "revert") {
		if b.cfg.ChangeRecord.Table == "" && !b.opts.Local {
			log.Warn("chat changes need a second person, but requests live in this instance only: an approval that reaches another instance finds no request; set " + config.EnvChangeTable)
		}
		if b.cfg.Senders.Slack.ResponseType != "in_channel" {
			log.Warn("chat changes need a second person, but Slack replies are ephemeral: only the requester sees a request and its buttons; set " + config.EnvSlackResponseType + "=in_channel so approvers see them")
		}
	}
	a, err := b.asyncQueue()
	if err != nil {
		return nil, b.cfg, &config.Error{Problems: []string{err.Error()}}
	}
	h := httpHandler(p, sources, disabled, a)
	log.Info("ready", slog.Any("config", b.cfg))
	return h, b.cfg, nil
}

// Event is what the webhook function takes from Lambda: an API Gateway
// HTTP API (payload 2.0) event, or the preflight's request from
//
//	aws lambda invoke --function-name FUNCTION --cli-binary-format raw-in-base64-out \
//	  --payload '{"enrollhookCheck":{"configurationId":"ID"}}' /dev/stdout
//
// which runs the preflight with the function's own role and environment.
// API Gateway cannot produce the latter: its events carry the caller's
// body inside "body", never as a top-level member. Invoking needs
// lambda:InvokeFunction.
type Event struct {
	events.APIGatewayV2HTTPRequest
	EnrollhookCheck *preflight.Request `json:"enrollhookCheck,omitempty"`
}

// WebhookLambda builds the webhook function's Lambda handler once, at cold
// start: an API Gateway event goes to the HTTP handler (Webhook), its answer
// an events.APIGatewayV2HTTPResponse; a preflight request is answered with
// a preflight.Result.
func WebhookLambda(ctx context.Context, getenv func(string) string, log *slog.Logger, o *Options) (func(context.Context, Event) (any, error), error) {
	h, _, err := Webhook(ctx, getenv, log, o)
	if err != nil {
		return nil, err
	}
	gateway := apigw.Wrap(h, &apigw.Options{Context: func(ctx context.Context, ev *events.APIGatewayV2HTTPRequest) context.Context {
		lc, _ := lambdacontext.FromContext(ctx)
		var lambdaID string
		if lc != nil {
			lambdaID = lc.AwsRequestID
		}
		return withRequestID(ctx, ev.RequestContext.RequestID, lambdaID)
	}})
	return func(ctx context.Context, ev Event) (any, error) {
		if ev.EnrollhookCheck == nil {
			return gateway(ctx, ev.APIGatewayV2HTTPRequest)
		}
		return runPreflight(ctx, getenv, *ev.EnrollhookCheck, log, o), nil
	}, nil
}

// runPreflight answers the preflight's request with the function's own
// role and environment (preflight.Invoke), and logs the result. Each
// function answers it: each has its own role, trusted on the Entra app by
// its own federated credential.
func runPreflight(ctx context.Context, getenv func(string) string, req preflight.Request, log *slog.Logger, o *Options) preflight.Result {
	res := preflight.Invoke(ctx, getenv, req, log, func(cfg config.Config, log *slog.Logger) (*identity.Credential, error) {
		return Credential(ctx, cfg, getenv, log, o)
	})
	log.InfoContext(ctx, "preflight", slog.Bool("ready", res.Ready), slog.Any("report", res.Report))
	return res
}

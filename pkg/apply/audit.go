package apply

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/graph"
)

// The audit trail: one JSON line per decision, built here and only here
// (Audit), for the request path, chat commands and the worker. Every line has the same keys (auditKeys); a value nobody knows
// is null, never left out, so a query over the trail needs no special case.
// Never a token, a secret, a signature or the payload: the ticket, ids and
// assignment targets only.

// AuditMessage is the msg of every audit line; MetricsMessage that of the
// Embedded Metric Format documents that follow each one.
const (
	AuditMessage   = "audit"
	MetricsMessage = "metrics"
	// MetricsNamespace is the CloudWatch namespace of the metrics.
	MetricsNamespace = "enrollhook"
)

// Audit outcomes.
const (
	AuditApplied      = "applied"
	AuditReplayed     = "replayed"
	AuditRefused      = "refused"
	AuditFailed       = "failed"
	AuditQueued       = "queued"
	AuditDeadLettered = "dead-lettered"
	// AuditRequested and AuditRejected: a chat change that waits for a
	// second person, and one the second person (or its requester)
	// rejected. Neither changes anything.
	AuditRequested = "requested"
	AuditRejected  = "rejected"
	// AuditUnknown: a write went to Graph without a clear answer (or a
	// fault of ours came after it): the change may have been applied, as
	// the ticket is told (change.MayHaveApplied). AuditPartial: a revert put back
	// (or cancelled) part of what it was to, then stopped; the lines before
	// it say what it put back. Both count as Failed in the metrics.
	AuditUnknown = "unknown"
	AuditPartial = "partial"
)

// auditKeys are the keys of every audit line after time, level and msg.
var auditKeys = []string{"xRequestId", "deliveryId", "sender", "action", "ticketId", "ticketUrl", "requester", "approver",
	"configurationId", "assignmentId", "before", "after", "graphRequestId", "clientRequestId", "outcome", "reason", "durationMs"}

// Entry is what one decision's audit line says.
type Entry struct {
	RequestID, DeliveryID, Sender string
	Request                       *change.Request
	// Before is the assignment's target before the change, when a read
	// made it known (the assign strategy's list); nil otherwise.
	Before json.RawMessage
	// After is the assignment as Graph holds it afterwards (its target is
	// logged), or nil when nothing was applied.
	After   []byte
	Result  *graph.Result
	Outcome string // an Audit* outcome; "planned" (a dry run) writes no line
	Reason  string // the problem slug of a refusal or failure
	Start   time.Time
	// GraphTime is the time spent in Graph calls; zero when none was made.
	GraphTime time.Duration
}

// Audit writes e's audit line and its metrics. A dry run ("planned")
// changes nothing and decides nothing: no line.
func (p *Pipeline) Audit(ctx context.Context, e *Entry) {
	if e.Outcome == "planned" {
		return
	}
	level := slog.LevelInfo
	switch e.Outcome {
	case AuditFailed, AuditDeadLettered, AuditUnknown, AuditPartial:
		level = slog.LevelWarn
	}
	if !p.log.Enabled(ctx, level) {
		return // nothing would be written: skip building the line and the metrics
	}
	dur := float64(time.Since(e.Start).Microseconds()) / 1000
	attrs := make([]slog.Attr, 0, len(auditKeys))
	attrs = append(attrs, nullable("xRequestId", e.RequestID), nullable("deliveryId", e.DeliveryID), nullable("sender", e.Sender))
	var t change.Ticket
	var conf, asg string
	action := change.ActionApply
	if e.Request != nil {
		t, conf, asg = e.Request.Ticket, e.Request.ConfigurationID, e.Request.AssignmentID
		if e.Request.Reverts() {
			action = change.ActionRevert
		}
	}
	attrs = append(attrs, slog.String("action", action))
	attrs = append(attrs, nullable("ticketId", t.ID), nullable("ticketUrl", t.URL), nullable("requester", t.RequestedBy),
		nullable("approver", t.ApprovedBy), nullable("configurationId", conf), nullable("assignmentId", asg),
		rawAttr("before", e.Before), rawAttr("after", graph.TargetOf(e.After)))
	var gid, cid string
	if e.Result != nil {
		gid, cid = e.Result.RequestID, e.Result.ClientRequestID
	}
	attrs = append(attrs, nullable("graphRequestId", gid), nullable("clientRequestId", cid),
		slog.String("outcome", e.Outcome), nullable("reason", e.Reason), slog.Float64("durationMs", dur))
	p.log.LogAttrs(ctx, level, AuditMessage, attrs...)
	p.metrics(ctx, e)
}

// metrics writes one CloudWatch Embedded Metric Format document for e to
// the same log: Applied, Replayed, Refused (by reason), Failed (by reason),
// and, when Graph was called, GraphLatency (ms) and GraphRetries.
func (p *Pipeline) metrics(ctx context.Context, e *Entry) {
	type metric struct {
		Name string `json:"Name"`
		Unit string `json:"Unit"`
	}
	type directive struct {
		Namespace  string     `json:"Namespace"`
		Dimensions [][]string `json:"Dimensions"`
		Metrics    []metric   `json:"Metrics"`
	}
	var dirs []directive
	var values []slog.Attr
	count := func(name string, dims []string) {
		dirs = append(dirs, directive{Namespace: MetricsNamespace, Dimensions: [][]string{dims}, Metrics: []metric{{name, "Count"}}})
		values = append(values, slog.Int(name, 1))
	}
	var dims []slog.Attr
	switch e.Outcome {
	case AuditApplied:
		count("Applied", []string{})
	case AuditReplayed:
		count("Replayed", []string{})
	case AuditRefused, AuditFailed, AuditDeadLettered, AuditUnknown, AuditPartial:
		name := "Refused"
		if e.Outcome != AuditRefused {
			name = "Failed"
		}
		reason := e.Reason
		if reason == "" {
			reason = "unknown"
		}
		count(name, []string{"reason"})
		dims = append(dims, slog.String("reason", reason))
	}
	if e.GraphTime > 0 || e.Result != nil {
		retries := 0
		if e.Result != nil {
			retries = e.Result.Retries
		}
		dirs = append(dirs, directive{Namespace: MetricsNamespace, Dimensions: [][]string{{}},
			Metrics: []metric{{"GraphLatency", "Milliseconds"}, {"GraphRetries", "Count"}}})
		values = append(values, slog.Float64("GraphLatency", float64(e.GraphTime.Microseconds())/1000), slog.Int("GraphRetries", retries))
	}
	if len(dirs) == 0 {
		return // queued: the worker's line counts it
	}
	aws := map[string]any{"Timestamp": time.Now().UnixMilli(), "CloudWatchMetrics": dirs}
	attrs := append([]slog.Attr{slog.Any("_aws", aws)}, dims...)
	p.log.LogAttrs(ctx, slog.LevelInfo, MetricsMessage, append(attrs, values...)...)
}

// nullable is s, or null when empty.
func nullable(key, s string) slog.Attr {
	if s == "" {
		return slog.Any(key, nil)
	}
	return slog.String(key, s)
}

func rawAttr(key string, b json.RawMessage) slog.Attr {
	if len(b) == 0 {
		return slog.Any(key, nil)
	}
	return slog.Any(key, b)
}

// Slug is the problem type of err after the URN prefix (ProblemFor); ""
// for nil.
func Slug(err error) string {
	if err == nil {
		return ""
	}
	return Describe(err).Slug
}

// FailedOutcome is the audit outcome of a decision err stopped, told as
// the ticket is (WriteBack): AuditPartial for a revert that stopped part
// way, AuditUnknown when the change may have been applied
// (change.MayHaveApplied), else AuditRefused when the problem is the caller's (a
// 4xx), AuditFailed otherwise.
func FailedOutcome(err error) string {
	switch {
	case errors.Is(err, change.ErrPartlyApplied):
		return AuditPartial
	case change.MayHaveApplied(err):
		return AuditUnknown
	case Describe(err).Status < 500:
		return AuditRefused
	}
	return AuditFailed
}

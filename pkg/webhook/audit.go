package webhook

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/chat"
	"github.com/enrollhook/enrollhook/pkg/graph"
)

// The audit trail: one JSON line per decision, built here and only here,
// for the request path (finish), chat (chatAnswer, followUp) and the worker
// (workLog). Every line has the same keys (auditKeys); a value nobody knows
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
)

// auditKeys are the keys of every audit line after time, level and msg.
var auditKeys = []string{"xRequestId", "deliveryId", "sender", "ticketId", "ticketUrl", "requester", "approver",
	"configurationId", "assignmentId", "before", "after", "graphRequestId", "clientRequestId", "outcome", "reason", "durationMs"}

// auditEntry is what one decision's audit line says.
type auditEntry struct {
	requestID, deliveryID, sender string
	req                           *change.Request
	// before is the assignment's target before the change, when a read
	// made it known (the assign strategy's list); nil otherwise.
	before json.RawMessage
	// after is the assignment as Graph holds it afterwards (its target is
	// logged), or nil when nothing was applied.
	after   []byte
	result  *graph.Result
	outcome string
	reason  string // the problem slug of a refusal or failure
	start   time.Time
	// graphTime is the time spent in Graph calls; zero when none was made.
	graphTime time.Duration
}

// audit writes e's audit line and its metrics. A dry run ("planned")
// changes nothing and decides nothing: no line.
func (h *Handler) audit(ctx context.Context, e *auditEntry) {
	if e.outcome == "planned" {
		return
	}
	level := slog.LevelInfo
	switch e.outcome {
	case AuditFailed, AuditDeadLettered:
		level = slog.LevelWarn
	}
	if !h.log.Enabled(ctx, level) {
		return // nothing would be written: skip building the line and the metrics
	}
	dur := float64(time.Since(e.start).Microseconds()) / 1000
	attrs := make([]slog.Attr, 0, len(auditKeys))
	attrs = append(attrs, nullable("xRequestId", e.requestID), nullable("deliveryId", e.deliveryID), nullable("sender", e.sender))
	var t change.Ticket
	var conf, asg string
	if e.req != nil {
		t, conf, asg = e.req.Ticket, e.req.ConfigurationID, e.req.AssignmentID
	}
	attrs = append(attrs, nullable("ticketId", t.ID), nullable("ticketUrl", t.URL), nullable("requester", t.RequestedBy),
		nullable("approver", t.ApprovedBy), nullable("configurationId", conf), nullable("assignmentId", asg),
		rawAttr("before", e.before), rawAttr("after", graph.TargetOf(e.after)))
	var gid, cid string
	if e.result != nil {
		gid, cid = e.result.RequestID, e.result.ClientRequestID
	}
	attrs = append(attrs, nullable("graphRequestId", gid), nullable("clientRequestId", cid),
		slog.String("outcome", e.outcome), nullable("reason", e.reason), slog.Float64("durationMs", dur))
	h.log.LogAttrs(ctx, level, AuditMessage, attrs...)
	h.metrics(ctx, e)
}

// metrics writes one CloudWatch Embedded Metric Format document for e to
// the same log: Applied, Replayed, Refused (by reason), Failed (by reason),
// and, when Graph was called, GraphLatency (ms) and GraphRetries.
func (h *Handler) metrics(ctx context.Context, e *auditEntry) {
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
	switch e.outcome {
	case AuditApplied:
		count("Applied", []string{})
	case AuditReplayed:
		count("Replayed", []string{})
	case AuditRefused, AuditFailed, AuditDeadLettered:
		name := "Refused"
		if e.outcome != AuditRefused {
			name = "Failed"
		}
		reason := e.reason
		if reason == "" {
			reason = "unknown"
		}
		count(name, []string{"reason"})
		dims = append(dims, slog.String("reason", reason))
	}
	if e.graphTime > 0 || e.result != nil {
		retries := 0
		if e.result != nil {
			retries = e.result.Retries
		}
		dirs = append(dirs, directive{Namespace: MetricsNamespace, Dimensions: [][]string{{}},
			Metrics: []metric{{"GraphLatency", "Milliseconds"}, {"GraphRetries", "Count"}}})
		values = append(values, slog.Float64("GraphLatency", float64(e.graphTime.Microseconds())/1000), slog.Int("GraphRetries", retries))
	}
	if len(dirs) == 0 {
		return // queued: the worker's line counts it
	}
	aws := map[string]any{"Timestamp": time.Now().UnixMilli(), "CloudWatchMetrics": dirs}
	attrs := append([]slog.Attr{slog.Any("_aws", aws)}, dims...)
	h.log.LogAttrs(ctx, slog.LevelInfo, MetricsMessage, append(attrs, values...)...)
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

// problemSlug is the problem type of err after the URN prefix.
func problemSlug(err error) string {
	if err == nil {
		return ""
	}
	p, _ := problemFor(err, "")
	return strings.TrimPrefix(p.Type, ProblemTypePrefix)
}

// chatAudit writes the audit line of a chat command's decision: an assign
// applied, queued, refused (the user, the policy, invalid values) or
// failed. Help, usage, show and plan change nothing and are not decisions;
// a pending answer is decided by its follow-up, which calls this again.
func (h *Handler) chatAudit(ctx context.Context, rec *chatRecord, reply *chat.Reply, start time.Time) {
	e := &auditEntry{requestID: rec.requestID, deliveryID: rec.deliveryID, sender: rec.source, req: rec.req,
		result: rec.result, start: start, reason: problemSlug(rec.err)}
	if rec.a != nil {
		e.before, e.graphTime = rec.a.before, rec.a.graphTime
	}
	switch reply.Status {
	case chat.StatusApplied:
		e.outcome = AuditApplied
		if rec.a != nil {
			e.after = rec.a.body
		}
	case chat.StatusQueued:
		e.outcome = AuditQueued
	case chat.StatusReplayed:
		e.outcome = AuditReplayed
	case chat.StatusRefused:
		e.outcome = AuditRefused
		if e.reason == "" {
			e.reason = "chat-user-not-allowed"
		}
	case chat.StatusInvalid:
		e.outcome = AuditRefused
		if e.reason == "" {
			e.reason = string(change.CodeInvalid)
		}
	case chat.StatusFailed:
		e.outcome = AuditFailed
		if p, _ := problemFor(rec.err, ""); p.Status < 500 {
			e.outcome = AuditRefused
		}
	default:
		return
	}
	h.audit(ctx, e)
}

// workAudit writes the audit line of the worker's decision on one delivery:
// applied, replayed (applied before), refused or failed for good, or
// dead-lettered. A retry is not a decision: the message comes back.
func (h *Handler) workAudit(ctx context.Context, wr *workRecord, outcome string, start time.Time) {
	e := &auditEntry{result: wr.result, start: start, reason: problemSlug(wr.err)}
	if m := wr.msg; m != nil {
		e.requestID, e.deliveryID, e.sender, e.req = m.RequestID, m.DeliveryID, m.Source, m.Request
	}
	if wr.a != nil {
		e.before, e.graphTime = wr.a.before, wr.a.graphTime
	}
	switch {
	case outcome == workApplied:
		e.outcome = AuditApplied
		if wr.a != nil {
			e.after = wr.a.body
		}
	case outcome == workReplayed:
		e.outcome = AuditReplayed
	case wr.deadLetter == deadLetterSent || outcome == workDead:
		e.outcome = AuditDeadLettered
	case outcome == workFailed || outcome == workDropped:
		e.outcome = AuditFailed
		if p, _ := problemFor(wr.err, ""); p.Status < 500 {
			e.outcome = AuditRefused
		}
	default:
		return
	}
	h.audit(ctx, e)
}

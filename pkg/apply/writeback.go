package apply

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/graph"
	"github.com/enrollhook/enrollhook/pkg/writeback"
)

// WriteBacker posts the outcome of a change to its ticket
// (*writeback.Writer). Write returns an error wrapping writeback.ErrSkipped
// when it sent nothing (the system is not configured, or the ticket lacks
// the ids), any other error when the write-back failed.
type WriteBacker interface {
	Write(ctx context.Context, n *writeback.Note) error
}

// writesBack reports whether the outcome of req from source goes to its
// ticket: an ITSM sender whose system the writer is configured for.
func (p *Pipeline) writesBack(source string, req *change.Request) bool {
	if p.opts.WriteBack == nil || req == nil || (source != writeback.ServiceNow && source != writeback.Jira) {
		return false
	}
	if c, ok := p.opts.WriteBack.(interface{ Configured(string) bool }); ok && !c.Configured(source) {
		return false
	}
	return true
}

// WriteBack posts the outcome of the apply step of an ITSM change
// (ServiceNow: a work note; Jira: a comment) to its ticket, after the
// sender's answer is decided: the request path calls it after answering,
// the worker once an outcome is final. It never changes the answer or the
// stored outcome; a failure is logged (ids, the status or kind of failure;
// never the credentials or a body) and counted by the writer. It is bounded
// by the invoke's deadline less the margin, and by the writer's own
// timeout.
func (p *Pipeline) WriteBack(ctx context.Context, source, requestID string, req *change.Request, res *graph.Result, err error) {
	if !p.writesBack(source, req) {
		return
	}
	n := &writeback.Note{System: source, Ticket: req.Ticket.ID, Record: req.Ticket.Record,
		Outcome: writeback.Applied, RequestID: requestID,
		ApprovedBy: req.Ticket.ApprovedBy, RequestedBy: req.Ticket.RequestedBy,
		ConfigurationID: req.ConfigurationID, AssignmentID: req.AssignmentID, TargetType: TargetType(req)}
	if res != nil {
		n.GraphRequestID = res.RequestID
	}
	if err != nil {
		pr, _ := ProblemFor(err, requestID)
		n.Problem, n.Detail = strings.TrimPrefix(pr.Type, ProblemTypePrefix), pr.Detail
		n.Outcome = writeback.Failed
		var re *graph.ResponseError
		fromGraph := errors.As(err, &re)
		switch slug := n.Problem; {
		case errors.Is(err, change.ErrPartlyApplied):
			// A revert stopped after putting back (or cancelling) part of
			// what it was to; the detail says which.
			n.Outcome = writeback.Partial
		case change.MayHaveApplied(err):
			// A write that may have been applied (run.go), an earlier
			// attempt's that may have been (attempt.go), or Graph that
			// stopped answering once the write may have reached it.
			n.Outcome = writeback.Unknown
		case errors.Is(err, change.ErrNothingSent):
			// Out of time before anything went to Graph: failed.
		case slug == string(change.CodeNotFound), slug == string(change.CodeGraphRefused), slug == string(change.CodeGraphPermission):
			// Graph's own refusal; not a 429 or a 408, which are
			// unavailable (above): the write may have gone through.
			n.Outcome = writeback.Refused
		}
		if fromGraph && re.RequestID != "" {
			n.GraphRequestID = re.RequestID
		}
	}
	// Not cut short by the end of the request, but never past the invoke's
	// deadline less the margin kept for answering.
	wctx, cancel := p.Outbound(context.WithoutCancel(ctx))
	defer cancel()
	if d, ok := ctx.Deadline(); ok {
		var cancel2 context.CancelFunc
		wctx, cancel2 = context.WithDeadline(wctx, d.Add(-p.opts.Deadlines.Margin))
		defer cancel2()
	}
	began := time.Now()
	werr := p.opts.WriteBack.Write(wctx, n)
	attrs := []slog.Attr{slog.String("xRequestId", requestID), slog.String("source", source),
		slog.String("ticket", req.Ticket.ID), slog.String("outcome", n.Outcome)}
	if n.GraphRequestID != "" {
		attrs = append(attrs, slog.String("graphRequestId", n.GraphRequestID))
	}
	level := slog.LevelInfo
	switch {
	case werr == nil:
		attrs = append(attrs, slog.String("writeBack", "posted"))
	case errors.Is(werr, writeback.ErrSkipped):
		attrs = append(attrs, slog.String("writeBack", "skipped"), NamedCause("reason", werr))
	default:
		level = slog.LevelWarn
		attrs = append(attrs, slog.String("writeBack", "failed"), Cause(werr))
		if c, ok := p.opts.WriteBack.(interface{ Failures() int64 }); ok {
			attrs = append(attrs, slog.Int64("writeBackFailures", c.Failures()))
		}
	}
	attrs = append(attrs, slog.Float64("durationMs", float64(time.Since(began).Microseconds())/1000))
	p.log.LogAttrs(ctx, level, "write-back", attrs...)
}

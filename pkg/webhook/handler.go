package webhook

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/graph"
	"github.com/enrollhook/enrollhook/pkg/queue"
	"github.com/enrollhook/enrollhook/pkg/source"
)

// Response headers of the external contract.
const (
	HeaderRequestID = "X-Request-Id"
	// HeaderGraphRequestID is Graph's request id of the change: what a
	// Microsoft support case needs.
	HeaderGraphRequestID = apply.HeaderGraphRequestID
	// HeaderReplay marks an answer served from the de-duplication store.
	HeaderReplay = "Idempotent-Replay"
)

// Source is one sender adapter.
type Source interface {
	// Name is the route segment: POST /hooks/{name}.
	Name() string
	// Authenticate checks the request's signature over the raw body and
	// only then parses it, once: the Delivery holds the sender's delivery
	// id and what it parsed, which Decode (or Invocation) reads instead of
	// the bytes. Errors are *change.Error with CodeUnauthenticated.
	Authenticate(h http.Header, body []byte, now time.Time) (source.Delivery, error)
	// Decode turns the delivery into a validated change. Errors are
	// *change.Error with CodeMalformed or CodeInvalid, or CodeNotApproved
	// when the sender's own payload says the change is not approved (an
	// ITSM decision other than approved; a Jira event that approves
	// nothing), so it is refused for that reason before its fields are
	// checked.
	Decode(d source.Delivery, opts *change.Options) (*change.Request, error)
}

// Options tune the handler. A nil *Options means the defaults.
type Options struct {
	// MaxBodyBytes caps the request body; default 256 KiB.
	MaxBodyBytes int64
	// Disabled names senders of the contract that have no secret: their
	// route answers 401 source-not-configured (fail closed).
	Disabled []string
	// Now is the clock for signature windows; default time.Now.
	Now func() time.Time
	// Requests keeps chat requests that wait for a second person, when
	// the policy wants one (approval.go); nil means chat commands are their
	// own approval.
	Requests Requests
	// Async takes the changes of some senders to the worker instead of
	// applying them in the request (async.go).
	Async Async
}

// Async is the queued path: approved changes of the senders named are
// queued and answered 202 (chat senders: an "accepted" message); the
// worker (package worker) applies them.
type Async struct {
	// Queue takes the changes to the worker; nil means every change is
	// applied in the request.
	Queue Queue
	// Sources names the senders whose changes are queued. Ignored without
	// a Queue.
	Sources []string
	// Scheduler holds a queued change whose window opens later than the
	// queue can wait (apply.MaxQueueDelay) until it opens; the pipeline
	// has the same scheduler to cancel schedules (apply.Options.Scheduler).
	Scheduler Scheduler
}

// Scheduler schedules a queued change to reach the worker at a time.
type Scheduler interface {
	Schedule(ctx context.Context, m *queue.Message, at time.Time) error
}

// Handler serves the routes of the external contract.
type Handler struct {
	pipe     *apply.Pipeline
	sources  map[string]Source
	disabled map[string]bool
	opts     Options
	log      *slog.Logger
	mux      *http.ServeMux
	chat     chatWork // chat commands still running after their answer (chat.go)
	async    map[string]bool
}

// NewHandler returns the handler for the given senders, which applies
// changes through p.
func NewHandler(p *apply.Pipeline, sources []Source, opts *Options) *Handler {
	h := &Handler{pipe: p, sources: map[string]Source{}, disabled: map[string]bool{}, log: p.Logger()}
	if opts != nil {
		h.opts = *opts
	}
	if h.opts.MaxBodyBytes <= 0 {
		h.opts.MaxBodyBytes = 256 << 10
	}
	if h.opts.Now == nil {
		h.opts.Now = time.Now
	}
	for _, s := range sources {
		h.sources[s.Name()] = s
	}
	for _, name := range h.opts.Disabled {
		h.disabled[name] = true
	}
	h.async = map[string]bool{}
	if h.opts.Async.Queue != nil {
		for _, name := range h.opts.Async.Sources {
			h.async[name] = true
		}
	}
	h.routes()
	return h
}

// Sources returns the handler's senders, by name.
func (h *Handler) Sources() map[string]Source { return h.sources }

// routes shows the whole surface.
func (h *Handler) routes() {
	h.mux = http.NewServeMux()
	h.mux.HandleFunc(hookPattern, h.handleHook) // and ServeHTTP, for a configured sender
	h.mux.HandleFunc("GET /healthz", h.handleHealth)
	h.mux.HandleFunc("/healthz", h.methodNotAllowed("GET, HEAD", "the health check is read with GET"))
	h.mux.HandleFunc("/hooks/{source}", h.methodNotAllowed(http.MethodPost, "webhooks are sent with POST"))
	h.mux.HandleFunc("/", h.handleUnknownRoute)
}

type ctxKey struct{}

// WithRequestID makes id the request id of requests served with ctx (the
// API Gateway request id on Lambda).
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

func requestID(ctx context.Context) string {
	if id, ok := ctx.Value(ctxKey{}).(string); ok && id != "" && len(id) <= 128 && change.ValidKey(strings.ReplaceAll(id, "=", "_")) {
		return id
	}
	// A random (version 4) UUID, read into an array: uuid.NewString
	// allocates for its buffer as well as for the text.
	var u uuid.UUID
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u.String()
}

// hookPattern is the pattern of the hook route (routes).
const hookPattern = "POST /hooks/{source}"

// ServeHTTP implements http.Handler. Handlers read the request id from the
// X-Request-Id answer header.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header()[HeaderRequestID] = []string{requestID(r.Context())}
	// A delivery to a configured sender is routed here: ServeMux
	// allocates for the {source} wildcard of every match, and a forged
	// request should cost almost nothing. Any other path, including one
	// the mux would clean or redirect, goes through routes.
	if r.Method == http.MethodPost {
		if name, ok := strings.CutPrefix(r.URL.Path, "/hooks/"); ok && h.sources[name] != nil {
			r.Pattern = hookPattern
			h.hook(w, r, name)
			return
		}
	}
	if p := r.URL.Path; p == "" || p[0] != '/' || path.Clean(p) != p && p != "/" {
		// ServeMux would answer an unclean path (//, /./, /../) with an
		// empty redirect: no route has one.
		h.handleUnknownRoute(w, r)
		return
	}
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) handleHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, "application/json", map[string]string{"status": "ok"})
}

func (h *Handler) handleUnknownRoute(w http.ResponseWriter, r *http.Request) {
	h.refuse(w, r, "", "", time.Now(), &change.Error{Code: change.CodeUnknownSource, Kind: change.KindUnknownRoute,
		Message: "no such route; webhooks are sent as POST /hooks/{source}"})
}

// methodNotAllowed answers a method a route does not take: 405, a problem
// document, and Allow naming the methods it takes (the contract's rule for
// every documented path).
func (h *Handler) methodNotAllowed(allow, detail string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		h.refuse(w, r, "", "", time.Now(), change.Errorf(change.CodeMethodNotAllowed, "%s", detail))
	}
}

// record is what one request's log line says.
type record struct {
	source, deliveryID string
	req                *change.Request
	result             *graph.Result
	replayed           bool // answered from the de-duplication store
	deduplicated       bool // taken in the store (false: no store)
	queued             bool // answered 202: the worker applies it (async.go)
	planned            bool // a dry run: nothing written (dryrun.go)
	// before, after and graphTime are the audit line's (apply.Entry).
	before, after []byte
	graphTime     time.Duration
}

func (h *Handler) handleHook(w http.ResponseWriter, r *http.Request) {
	h.hook(w, r, r.PathValue("source"))
}

// hook serves POST /hooks/{name}.
func (h *Handler) hook(w http.ResponseWriter, r *http.Request, name string) {
	start := time.Now()
	src, ok := h.sources[name]
	if !ok {
		if h.disabled[name] {
			h.refuse(w, r, name, "", start, &change.Error{Code: change.CodeUnauthenticated, Kind: change.KindSourceNotConfigured,
				Message: "the " + name + " sender has no secret configured, so every delivery to it is refused"})
			return
		}
		h.refuse(w, r, "", "", start, &change.Error{Code: change.CodeUnknownSource,
			Message: "no such sender; available: " + strings.Join(h.available(), ", ")})
		return
	}
	body, err := h.readBody(w, r)
	if err != nil {
		h.refuse(w, r, name, "", start, err)
		return
	}
	d, err := src.Authenticate(r.Header, body, h.opts.Now())
	if err != nil {
		h.refuse(w, r, name, "", start, err)
		return
	}
	deliveryID := d.ID
	if ce := source.Header(r.Header, "Content-Encoding"); ce != "" && !strings.EqualFold(strings.TrimSpace(ce), "identity") {
		// The body is read as sent: a compressed one would be refused as
		// malformed, and plain JSON labelled compressed is not what its
		// sender meant.
		h.refuse(w, r, name, deliveryID, start, change.Errorf(change.CodeMediaType,
			"the body must be sent without a Content-Encoding (uncompressed); this one has one"))
		return
	}
	if rp, ok := src.(Replier); ok {
		// Chat commands answer in the sender's own format (chat.go).
		h.handleChat(w, r, name, rp, d, start)
		return
	}
	if err := checkJSON(source.Header(r.Header, "Content-Type")); err != nil {
		h.refuse(w, r, name, deliveryID, start, err)
		return
	}
	req, err := src.Decode(d, h.pipe.ChangeOptions())
	if err != nil {
		h.refuse(w, r, name, deliveryID, start, err)
		return
	}
	// The pipeline owns the order from here: approval, policy, the take of
	// the delivery, the dry run, the enqueue or the apply step, the
	// store's answer; the handler only answers (answer), then the audit
	// line and the write-back follow (Finish).
	job := &apply.Job{Sender: name, DeliveryID: deliveryID, RequestID: source.Header(w.Header(), HeaderRequestID), Request: req,
		Start: start, DryRun: req.DryRun || wantsDryRun(r)}
	if h.async[name] && !job.DryRun {
		h.queueJob(job) // async.go
	}
	o := h.pipe.Run(r.Context(), job)
	h.answer(w, r, record{source: name, deliveryID: deliveryID, req: req}, &o)
	// After the answer: the audit line, and the outcome to the ticket,
	// best effort.
	h.pipe.Finish(r.Context(), &o)
}

// answer sends the pipeline's outcome o as the HTTP answer: the stored
// answer of a replay (Idempotent-Replay: true), the assignment, the plan or
// the 202, or the problem; and logs the request's line.
func (h *Handler) answer(w http.ResponseWriter, r *http.Request, rec record, o *apply.Outcome) {
	rec.result, rec.before, rec.after, rec.graphTime = o.Result, o.Before, o.After, o.GraphTime
	rec.replayed, rec.deduplicated, rec.queued, rec.planned = o.Replay, o.Taken, o.Queued, o.Planned
	if o.Err != nil {
		h.respond(w, r, rec, o.Job().Start, o.Err)
		return
	}
	// Header.Set's effect, with one allocation for every value rather
	// than one each.
	hdr, vals := w.Header(), make([]string, 0, len(o.Headers)+3)
	set := func(k, v string) {
		vals = append(vals, v)
		hdr[http.CanonicalHeaderKey(k)] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
	for k, v := range o.Headers {
		set(k, v)
	}
	if o.Replay {
		set(HeaderReplay, "true")
	}
	if !o.Replay || o.Headers["Content-Type"] == "" {
		set("Content-Type", "application/json")
	}
	set("Content-Length", strconv.Itoa(len(o.Body)))
	w.WriteHeader(o.Status)
	_, _ = w.Write(o.Body)
	h.respond(w, r, rec, o.Job().Start, nil)
}

func (h *Handler) available() []string {
	names := make([]string, 0, len(h.sources))
	for n := range h.sources {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	tooLarge := func() error {
		return &change.Error{Code: change.CodeTooLarge, Message: "the body is larger than the limit of " + byteCount(h.opts.MaxBodyBytes)}
	}
	if r.ContentLength > h.opts.MaxBodyBytes {
		return nil, tooLarge()
	}
	var body []byte
	var err error
	if r.ContentLength > 0 {
		// Its length is known and within the limit: one read into a
		// buffer of that size, then the end of the body.
		body = make([]byte, r.ContentLength, r.ContentLength+1)
		if _, err = io.ReadFull(r.Body, body); err == nil {
			one := body[len(body) : len(body)+1] // room for the byte that must not come
			if n, rerr := r.Body.Read(one); n > 0 {
				// A reader that gives more than it announced: read on,
				// within the limit, as without a length.
				var rest []byte
				rest, err = io.ReadAll(http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes-int64(len(body))-1))
				body = append(append(body, one[0]), rest...)
			} else if rerr != nil && rerr != io.EOF {
				err = rerr
			}
		}
	} else {
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes))
	}
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, tooLarge()
		}
		return nil, &change.Error{Code: change.CodeMalformed, Kind: change.KindMalformedRequest, Message: "the body could not be read", Err: err}
	}
	return body, nil
}

// checkJSON accepts application/json and any +json media type.
func checkJSON(contentType string) error {
	if contentType == "application/json" {
		return nil // the usual spelling, without parsing it
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json")) {
		return nil
	}
	return change.Errorf(change.CodeMediaType, "the body must be sent as Content-Type: application/json")
}

func byteCount(n int64) string {
	if n%1024 == 0 {
		return itoa(n/1024) + " KiB"
	}
	return itoa(n) + " bytes"
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// refuse answers a request that was refused before a change was decoded.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, source, deliveryID string, start time.Time, err error) {
	h.finish(w, r, record{source: source, deliveryID: deliveryID}, start, err)
}

// finish answers a request refused before the pipeline ran (respond) and
// writes its audit line.
func (h *Handler) finish(w http.ResponseWriter, r *http.Request, rec record, start time.Time, err error) {
	slug, outcome := h.respond(w, r, rec, start, err)
	h.pipe.Audit(r.Context(), &apply.Entry{RequestID: source.Header(w.Header(), HeaderRequestID), DeliveryID: rec.deliveryID, Sender: rec.source,
		Request: rec.req, Before: rec.before, After: rec.after, Result: rec.result, Outcome: outcome, Reason: slug,
		Start: start, GraphTime: rec.graphTime})
}

// respond writes the problem when err is set and logs one line per
// request: ids, outcome and duration; never a secret, a token or the
// payload. It returns the problem's slug and the request's outcome.
func (h *Handler) respond(w http.ResponseWriter, r *http.Request, rec record, start time.Time, err error) (slug, outcome string) {
	ctx := r.Context()
	id := source.Header(w.Header(), HeaderRequestID)
	level, status := slog.LevelInfo, http.StatusOK
	outcome = "applied"
	if rec.replayed {
		outcome = "replayed"
	}
	if rec.queued {
		outcome, status = "queued", http.StatusAccepted
	}
	if rec.planned {
		outcome = "planned"
	}
	if err != nil {
		if re, ok := errors.AsType[*graph.ResponseError](err); ok && re.RequestID != "" {
			// Graph's request id is what a Microsoft support case needs.
			w.Header().Set(HeaderGraphRequestID, re.RequestID)
		}
		p := h.writeProblem(ctx, w, err, id)
		// Told as the audit line and the ticket tell it: refused,
		// failed, or unknown and partial for a change that may be in
		// Intune (apply.FailedOutcome).
		slug, status, outcome = p.Slug, p.Status, apply.FailedOutcome(err)
		if outcome != apply.AuditRefused { // every 5xx, and a 4xx that may be in Intune
			level = slog.LevelWarn
		}
	}
	if h.log.Enabled(ctx, level) {
		h.logLine(ctx, level, r, rec, id, start, err, slug, outcome, status)
	}
	return slug, outcome
}

// logLine writes the request's one log line.
func (h *Handler) logLine(ctx context.Context, level slog.Level, r *http.Request, rec record, id string, start time.Time, err error, slug, outcome string, status int) {
	attrs := make([]slog.Attr, 0, 16)
	attrs = append(attrs, slog.String("xRequestId", id), slog.String("method", r.Method), slog.String("route", routeOf(r)))
	if rec.source != "" {
		attrs = append(attrs, slog.String("source", rec.source))
	}
	if rec.deliveryID != "" {
		attrs = append(attrs, slog.String("deliveryId", rec.deliveryID))
	}
	if rec.req != nil {
		attrs = append(attrs,
			slog.String("ticket", rec.req.Ticket.ID),
			slog.String("approvedBy", rec.req.Ticket.ApprovedBy),
			slog.String("requestedBy", rec.req.Ticket.RequestedBy),
			slog.String("configurationId", rec.req.ConfigurationID),
			slog.String("assignmentId", rec.req.AssignmentID),
			slog.String("targetType", apply.TargetType(rec.req)))
	}
	if rec.result != nil {
		attrs = append(attrs, slog.String("graphRequestId", rec.result.RequestID), slog.String("clientRequestId", rec.result.ClientRequestID))
	}
	if rec.req != nil {
		attrs = append(attrs, slog.Bool("deduplicated", rec.deduplicated || rec.replayed))
	}
	if err != nil {
		attrs = append(attrs, slog.String("problem", slug))
		if cause := errors.Unwrap(err); cause != nil && status >= 500 {
			attrs = append(attrs, apply.Cause(cause))
		}
	}
	attrs = append(attrs, slog.String("outcome", outcome), slog.Int("status", status),
		slog.Float64("durationMs", float64(time.Since(start).Microseconds())/1000))
	h.log.LogAttrs(ctx, level, "webhook", attrs...)
}

func routeOf(r *http.Request) string {
	if r.Pattern != "" {
		return r.Pattern
	}
	return "unknown"
}

// UpdateStrategy is the update strategy of the pipeline the handler applies
// through, and for auto whether it has switched to assign.
func (h *Handler) UpdateStrategy() (strategy string, switched bool) { return h.pipe.UpdateStrategy() }

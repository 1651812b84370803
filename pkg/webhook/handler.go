package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/graph"
)

// Response headers of the external contract.
const (
	HeaderRequestID      = "X-Request-Id"
	HeaderGraphRequestID = "X-Graph-Request-Id"
	// HeaderReadBack is "failed" when Graph applied the change without
	// answering it and reading it back failed; the body is then what was
	// applied, not what Graph holds.
	HeaderReadBack = "X-Enrollhook-Read-Back"
)

// Graph is what the handler needs from the Graph client.
type Graph interface {
	// PatchAssignment applies body to one assignment and returns it as Graph
	// holds it afterwards. Errors are *change.Error with CodeNotFound,
	// CodeGraphRefused, CodeGraphPermission, CodeUnavailable or CodeTimeout.
	PatchAssignment(ctx context.Context, configurationID, assignmentID string, body any) (*graph.Result, error)
	// GetAssignment returns one assignment as Graph holds it (the chat
	// command show). Errors are those of PatchAssignment.
	GetAssignment(ctx context.Context, configurationID, assignmentID string) (*graph.Result, error)
}

// Source is one sender adapter.
type Source interface {
	// Name is the route segment: POST /hooks/{name}.
	Name() string
	// Authenticate checks the request's signature over the raw body and
	// returns the sender's delivery id. Errors are *change.Error with
	// CodeUnauthenticated.
	Authenticate(h http.Header, body []byte, now time.Time) (deliveryID string, err error)
	// Decode turns the body into a validated change. Errors are
	// *change.Error with CodeMalformed or CodeInvalid, or CodeNotApproved
	// when the sender's own payload says the change is not approved (an
	// ITSM decision other than approved; a Jira event that approves
	// nothing), so it is refused for that reason before its fields are
	// checked.
	Decode(body []byte, opts *change.Options) (*change.Request, error)
}

// Options tune the handler. A nil *Options means the defaults.
type Options struct {
	// MaxBodyBytes caps the request body; default 256 KiB.
	MaxBodyBytes int64
	// GraphVersion is "beta" (default) or "v1.0"; it decides which
	// properties a change may carry.
	GraphVersion string
	// Disabled names senders of the contract that have no secret: their
	// route answers 401 source-not-configured (fail closed).
	Disabled []string
	// Timeout bounds a request whose context has no deadline (the local
	// server); default 25 s, like the Lambda timeout of template.yaml.
	Timeout time.Duration
	// Now is the clock for signature windows; default time.Now.
	Now func() time.Time
	// Logger receives one line per request; default slog.Default().
	Logger *slog.Logger
	// Store de-duplicates deliveries; nil means none (every delivery is
	// applied, and the log says it was not de-duplicated).
	Store Store
	// CompletedTTL keeps a completed delivery's answer for replays;
	// default 48h.
	CompletedTTL time.Duration
	// Limiter paces Graph writes (Intune's write limit); nil means none.
	Limiter Limiter
	// Queue takes changes of the senders in AsyncSources to the worker
	// (async.go); nil means every change is applied in the request.
	Queue Queue
	// AsyncSources names the senders whose approved changes are queued
	// and answered 202 (chat senders: an "accepted" message) instead of
	// being applied in the request. Ignored without a Queue.
	AsyncSources []string
	// DeadlineMargin is kept free before the deadline by the outbound calls
	// the handler makes itself (the wait for a write slot, the enqueue), so
	// that it can still answer; the Graph client keeps its own. Default
	// none.
	DeadlineMargin time.Duration
	// FollowUps post the worker's outcome of a chat command, by sender
	// name, where the handler has no Replier for it (the worker function
	// has no sender secrets); default none.
	FollowUps map[string]FollowUpper
	// DeadLetters keeps the messages the worker gives up on, with their
	// reason (async.go, Process); nil leaves them to the queue's redrive,
	// without a reason.
	DeadLetters DeadLetterQueue
	// UpdateStrategy is how a change reaches Graph (strategy.go):
	// StrategyAuto (default), StrategyPatch or StrategyAssign, which needs
	// a Graph that is also an AssignGraph. Any other value panics.
	UpdateStrategy string
	// Policy holds the guardrails every approved change and chat command
	// is checked against (policy.go); nil means none. The functions always
	// set one: the configured policy or policy.Default().
	Policy Policy
	// WriteBack posts the outcome of an ITSM change (ServiceNow, Jira) to
	// its ticket after the apply step, best effort (writeback.go); nil
	// means none.
	WriteBack WriteBacker
}

// Handler serves the routes of the external contract.
type Handler struct {
	graph    Graph
	sources  map[string]Source
	disabled map[string]bool
	opts     Options
	change   change.Options
	log      *slog.Logger
	mux      *http.ServeMux
	chat     chatWork // chat commands still running after their answer (chat.go)
	async    map[string]bool
	upd      *updater // the update strategy (strategy.go)
}

// NewHandler returns the handler for the given senders.
func NewHandler(g Graph, sources []Source, opts *Options) *Handler {
	h := &Handler{graph: g, sources: map[string]Source{}, disabled: map[string]bool{}}
	if opts != nil {
		h.opts = *opts
	}
	if h.opts.MaxBodyBytes <= 0 {
		h.opts.MaxBodyBytes = 256 << 10
	}
	if h.opts.GraphVersion == "" {
		h.opts.GraphVersion = "beta"
	}
	if h.opts.Timeout <= 0 {
		h.opts.Timeout = 25 * time.Second
	}
	if h.opts.CompletedTTL <= 0 {
		h.opts.CompletedTTL = 48 * time.Hour
	}
	if h.opts.Now == nil {
		h.opts.Now = time.Now
	}
	h.log = h.opts.Logger
	if h.log == nil {
		h.log = slog.Default()
	}
	h.change = change.Options{GraphVersion: h.opts.GraphVersion}
	for _, s := range sources {
		h.sources[s.Name()] = s
	}
	for _, name := range h.opts.Disabled {
		h.disabled[name] = true
	}
	h.async = map[string]bool{}
	if h.opts.Queue != nil {
		for _, name := range h.opts.AsyncSources {
			h.async[name] = true
		}
	}
	h.upd = newUpdater(h.opts.UpdateStrategy, g)
	h.routes()
	return h
}

// routes shows the whole surface.
func (h *Handler) routes() {
	h.mux = http.NewServeMux()
	h.mux.HandleFunc("POST /hooks/{source}", h.handleHook)
	h.mux.HandleFunc("GET /healthz", h.handleHealth)
	h.mux.HandleFunc("/hooks/{source}", h.handleMethodNotAllowed)
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
	return uuid.NewString()
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := requestID(r.Context())
	w.Header().Set(HeaderRequestID, id)
	h.mux.ServeHTTP(w, r.WithContext(WithRequestID(r.Context(), id)))
}

func (h *Handler) handleHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, "application/json", map[string]string{"status": "ok"})
}

func (h *Handler) handleUnknownRoute(w http.ResponseWriter, r *http.Request) {
	h.refuse(w, r, "", "", time.Now(), &change.Error{Code: change.CodeUnknownSource, Kind: "unknown-route",
		Message: "no such route; webhooks are sent as POST /hooks/{source}"})
}

func (h *Handler) handleMethodNotAllowed(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", http.MethodPost)
	h.refuse(w, r, "", "", time.Now(), change.Errorf(change.CodeMethodNotAllowed, "webhooks are sent with POST"))
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
	// before, after and graphTime are the audit line's (audit.go).
	before, after []byte
	graphTime     time.Duration
}

func (h *Handler) handleHook(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	name := r.PathValue("source")
	src, ok := h.sources[name]
	if !ok {
		if h.disabled[name] {
			h.refuse(w, r, name, "", start, &change.Error{Code: change.CodeUnauthenticated, Kind: "source-not-configured",
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
	deliveryID, err := src.Authenticate(r.Header, body, h.opts.Now())
	if err != nil {
		h.refuse(w, r, name, "", start, err)
		return
	}
	if rp, ok := src.(Replier); ok {
		// Chat commands answer in the sender's own format (chat.go).
		h.handleChat(w, r, name, rp, body, deliveryID, start)
		return
	}
	if err := checkJSON(r.Header.Get("Content-Type")); err != nil {
		h.refuse(w, r, name, deliveryID, start, err)
		return
	}
	req, err := src.Decode(body, &h.change)
	if err != nil {
		h.refuse(w, r, name, deliveryID, start, err)
		return
	}
	rec := record{source: name, deliveryID: deliveryID, req: req}
	if !req.Approved() {
		h.finish(w, r, rec, start, notApproved(req.Ticket.State))
		return
	}
	// The guardrails, before the delivery is taken or anything applied
	// (policy.go).
	if err := h.checkPolicy(name, false, req); err != nil {
		h.finish(w, r, rec, start, err)
		return
	}
	ctx := r.Context()
	if _, has := ctx.Deadline(); !has {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.opts.Timeout)
		defer cancel()
	}
	dry := wantsDryRun(r)
	lease, done := h.dedupeBegin(ctx, w, r, &rec, start, dry)
	if done {
		return
	}
	if dry {
		// Every step but the write: the delivery is spent on the plan,
		// nothing is queued (dryrun.go).
		h.dryRun(ctx, w, r, rec, lease, start)
		return
	}
	if h.async[name] {
		h.enqueue(ctx, w, r, rec, lease, start) // async.go
		return
	}
	a, err := h.apply(ctx, req, w.Header().Get(HeaderRequestID))
	rec.result, rec.before, rec.after, rec.graphTime = a.result, a.before, a.body, a.graphTime
	if err != nil {
		h.dedupeEnd(ctx, lease, true, 0, nil, nil)
		h.finish(w, r, rec, start, err)
		h.writeBack(ctx, name, w.Header().Get(HeaderRequestID), req, a.result, err) // writeback.go
		return
	}
	for k, v := range a.headers {
		w.Header().Set(k, v)
	}
	// Record the answer before sending it, so a retry that follows the
	// answer finds it.
	h.dedupeEnd(ctx, lease, false, http.StatusOK, a.headers, a.body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(a.body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(a.body)
	h.finish(w, r, rec, start, nil)
	// After the answer: the outcome to the ticket, best effort.
	h.writeBack(ctx, name, w.Header().Get(HeaderRequestID), req, a.result, nil) // writeback.go
}

// applied is the outcome of apply.
type applied struct {
	// result is Graph's answer; nil when no PATCH was sent.
	result *graph.Result
	// body is the assignment as Graph holds it afterwards, or, when Graph
	// answered without a body and the read-back failed, what was applied.
	body []byte
	// headers are the answer's headers to send and store for replays.
	headers map[string]string
	// before is the target before the change when a read made it known
	// (audit.go); graphTime the time spent in the update's Graph calls.
	before    []byte
	graphTime time.Duration
}

// apply is the one apply step of a change, shared by the request path
// (handleHook, the chat commands) and the worker (Process): a write slot
// under Intune's limit, the Graph write (the item PATCH or the assign action,
// per the update strategy), and the public body of its answer.
// requestID is ours, for the log. The *applied is never nil; its result is
// set whenever Graph answered.
func (h *Handler) apply(ctx context.Context, req *change.Request, requestID string) (*applied, error) {
	// The write slots and the Graph calls of the update strategy
	// (strategy.go).
	began := time.Now()
	wr, err := h.update(ctx, req, requestID)
	took := time.Since(began)
	res := wr.res
	if err != nil {
		return &applied{result: res, before: wr.before, graphTime: took}, err
	}
	a := &applied{result: res, headers: map[string]string{}, before: wr.before, graphTime: took}
	for k, v := range wr.headers {
		a.headers[k] = v
	}
	if res.RequestID != "" {
		a.headers[HeaderGraphRequestID] = res.RequestID
	}
	a.body = graph.PublicBody(res.Body)
	if a.body == nil {
		// Graph accepted the PATCH without a body and the read-back failed:
		// the change is applied, so answer with what was applied rather
		// than an error that would make the sender retry.
		a.body = appliedBody(req)
		a.headers[HeaderReadBack] = "failed"
		h.log.WarnContext(ctx, "change applied but the read-back failed; answering with the applied body",
			slog.String("xRequestId", requestID), causeAttr(res.ReadBackErr))
	}
	return a, nil
}

// wantsDryRun reports whether the request asks for a dry run in any
// spelling: any dryRun query parameter (name in any case, every value) other
// than false, or a Prefer: dry-run preference.
func wantsDryRun(r *http.Request) bool {
	for k, vs := range r.URL.Query() {
		if !strings.EqualFold(k, "dryRun") {
			continue
		}
		for _, v := range vs {
			if !strings.EqualFold(strings.TrimSpace(v), "false") {
				return true
			}
		}
	}
	for _, p := range r.Header.Values("Prefer") {
		for _, part := range strings.Split(p, ",") {
			if strings.EqualFold(strings.TrimSpace(part), "dry-run") {
				return true
			}
		}
	}
	return false
}

// notApproved is the refusal of a change whose ticket is not approved
// (change.NotApproved names the known states).
func notApproved(state string) error { return change.NotApproved(state) }

func (h *Handler) available() []string {
	names := make([]string, 0, len(h.sources))
	for n := range h.sources {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	tooLarge := &change.Error{Code: change.CodeTooLarge, Message: "the body is larger than the limit of " + byteCount(h.opts.MaxBodyBytes)}
	if r.ContentLength > h.opts.MaxBodyBytes {
		return nil, tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge
		}
		return nil, &change.Error{Code: change.CodeMalformed, Kind: "malformed-request", Message: "the body could not be read", Err: err}
	}
	return body, nil
}

// checkJSON accepts application/json and any +json media type.
func checkJSON(contentType string) error {
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

// finish writes the problem when err is set and logs one line per request:
// ids, outcome and duration; never a secret, a token or the payload.
func (h *Handler) finish(w http.ResponseWriter, r *http.Request, rec record, start time.Time, err error) {
	ctx := r.Context()
	id := w.Header().Get(HeaderRequestID)
	attrs := make([]slog.Attr, 0, 14)
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
			slog.String("targetType", targetType(rec.req)))
	}
	if rec.result != nil {
		attrs = append(attrs, slog.String("graphRequestId", rec.result.RequestID), slog.String("clientRequestId", rec.result.ClientRequestID))
	}
	level, outcome, status := slog.LevelInfo, "applied", http.StatusOK
	if rec.replayed {
		outcome = "replayed"
	}
	if rec.queued {
		outcome, status = "queued", http.StatusAccepted
	}
	if rec.planned {
		outcome = "planned"
	}
	if rec.req != nil {
		attrs = append(attrs, slog.Bool("deduplicated", rec.deduplicated || rec.replayed))
	}
	if err != nil {
		var re *graph.ResponseError
		if errors.As(err, &re) && re.RequestID != "" {
			// Graph's request id is what a Microsoft support case needs.
			w.Header().Set(HeaderGraphRequestID, re.RequestID)
		}
		p := h.writeProblem(ctx, w, err, id)
		status, outcome = p.Status, "refused"
		if status >= 500 {
			level, outcome = slog.LevelWarn, "failed"
		}
		attrs = append(attrs, slog.String("problem", strings.TrimPrefix(p.Type, ProblemTypePrefix)))
		if cause := errors.Unwrap(err); cause != nil && status >= 500 {
			attrs = append(attrs, causeAttr(cause))
		}
	}
	attrs = append(attrs, slog.String("outcome", outcome), slog.Int("status", status),
		slog.Float64("durationMs", float64(time.Since(start).Microseconds())/1000))
	h.log.LogAttrs(ctx, level, "webhook", attrs...)
	reason := ""
	if err != nil {
		reason = problemSlug(err)
	}
	h.audit(ctx, &auditEntry{requestID: id, deliveryID: rec.deliveryID, sender: rec.source, req: rec.req,
		before: rec.before, after: rec.after, result: rec.result, outcome: outcome, reason: reason,
		start: start, graphTime: rec.graphTime})
}

func appliedBody(req *change.Request) []byte {
	a := req.Assignment
	a.ID = req.AssignmentID
	b, err := json.Marshal(a)
	if err != nil {
		return []byte("{}")
	}
	return b
}

func targetType(r *change.Request) string {
	if r.Assignment.Target == nil {
		return ""
	}
	return change.ShortType(r.Assignment.Target.ODataType)
}

func routeOf(r *http.Request) string {
	if r.Pattern != "" {
		return r.Pattern
	}
	return "unknown"
}

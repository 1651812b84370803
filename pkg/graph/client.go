package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/enrollhook/enrollhook/pkg/change"
)

// Header names this client sends or reads.
const (
	HeaderClientRequestID = "client-request-id"
	HeaderRequestID       = "request-id"
	HeaderRetryAttempt    = "Retry-Attempt"
	HeaderRetryAfter      = "Retry-After"
	HeaderRetryAfterMS    = "retry-after-ms"
	HeaderXMSRetryAfterMS = "x-ms-retry-after-ms"
)

// Defaults of Options.
const (
	DefaultMaxRetries     = 4
	DefaultRetryDelay     = 500 * time.Millisecond
	DefaultMaxRetryDelay  = 30 * time.Second
	DefaultDeadlineMargin = time.Second
)

// Operation names, as logged and as found in ResponseError.Operation.
const (
	OpPatchAssignment = "patchAssignment"
	OpGetAssignment   = "getAssignment"
	OpListAssignments = "listAssignments"
)

const (
	// moduleName and moduleVersion are the client's name in User-Agent.
	moduleName    = "enrollhook-graph"
	moduleVersion = "v0.1.0"
	// configurationsPath is where every URL of this client starts under the
	// base URL.
	configurationsPath = "/deviceManagement/deviceEnrollmentConfigurations/"
	// maxPages bounds ListAssignments: a configuration has a handful of
	// assignments, so more pages mean a nextLink loop.
	maxPages = 100

	msgAssignmentNotFound    = "the configuration or assignment does not exist in Intune"
	msgConfigurationNotFound = "the configuration does not exist in Intune"
)

// Options tune a Client. A nil *Options means every default. A zero field
// means its default too, so a literal need only name what it changes.
type Options struct {
	// MaxRetries is how many times one call is retried after 429, 503, 504
	// or a dropped connection. Zero means DefaultMaxRetries (4); a negative
	// value turns retries off.
	MaxRetries int
	// RetryDelay is the base of the exponential backoff used when Graph
	// sends no Retry-After: retry n waits a random time in
	// [RetryDelay·2^(n-1)/2, RetryDelay·2^(n-1)]. Zero or negative means
	// DefaultRetryDelay (500ms).
	RetryDelay time.Duration
	// MaxRetryDelay caps one backoff wait. When Graph asks for a longer
	// Retry-After, or one that would end at or after ctx's deadline less
	// DeadlineMargin, the call stops retrying at once and reports
	// CodeUnavailable with Graph's wait (a day's 86400 s included; believed
	// up to a week), since retrying sooner only earns another 429. Zero or
	// negative means DefaultMaxRetryDelay (30s).
	MaxRetryDelay time.Duration
	// DeadlineMargin is kept free before ctx's deadline so that the caller
	// can still answer: every attempt runs under deadline-margin, and no
	// retry starts a wait that would end after it. Zero means
	// DefaultDeadlineMargin (1s); a negative value means no margin.
	DeadlineMargin time.Duration
	// InsecureAllowHTTP allows an http:// base URL and sends the bearer
	// token over it. Only for a loopback Graph emulator; default false.
	InsecureAllowHTTP bool
	// Transport sends the HTTP requests; default an *http.Client shared by
	// every Client, with the settings of azcore's default one (TLS 1.2 or
	// later, HTTP/2, the environment's proxy, 30 s to dial, 10 s for TLS).
	// Tests pass an httptest server's client or an in-memory func.
	Transport policy.Transporter
	// Logger receives one line per Graph call; default slog.Default() at
	// the time NewClient runs.
	Logger *slog.Logger
	// Sleep waits d (a retry's delay) or until ctx ends; default a timer.
	// Tests on a scaled clock pass a scaled sleep.
	Sleep func(ctx context.Context, d time.Duration) error

	// dialer is Transport's, when it can open connections ahead of a call
	// (newTransport); set with the default transport.
	dialer *dialer
}

// Client calls Graph for enrollment configuration assignments. It is safe
// for concurrent use; build one per process so its token outlives an invoke.
type Client struct {
	baseU       *url.URL
	basePath    string // baseU.Path without a trailing '/'
	baseEscaped string // baseU.EscapedPath() without a trailing '/'
	reqHost     string // the Host of every request
	allowHTTP   bool
	tr          policy.Transporter
	dialer      *dialer // tr's, or nil
	tokens      *tokenCache
	retry       *retryPolicy
	margin      time.Duration
	log         *slog.Logger
}

// Result is a successful call.
type Result struct {
	// Body is the assignment as Graph holds it: the PATCH answer when Graph
	// sent one, else the assignment read back with a GET. It is nil for
	// ListAssignments, and for a PATCH whose read-back failed (ReadBackErr).
	Body json.RawMessage
	// RequestID is Graph's request-id of the call that was asked for: for
	// PatchAssignment the PATCH, even when Body came from the read-back
	// (whose id is ReadBackRequestID); for ListAssignments the first page.
	RequestID string
	// ClientRequestID is the client-request-id this client sent with that
	// call (the same on each of its retries).
	ClientRequestID string
	// Retries counts retries over every HTTP call made for the result.
	Retries int
	// StatusCode is the HTTP status of that call (200 or 204 for a PATCH).
	StatusCode int
	// ReadBackRequestID is Graph's request-id of the GET that followed a
	// PATCH answered without a body.
	ReadBackRequestID string
	// ReadBackErr is set when Graph accepted the PATCH without a body and
	// the GET that followed failed: the change is applied, Body is nil.
	ReadBackErr error
}

// NewClient returns a Client for baseURL, the Graph root with its version
// (https://graph.microsoft.com/beta), authenticated by cred for scope
// (https://graph.microsoft.com/.default, or the root of a national cloud).
func NewClient(baseURL string, cred azcore.TokenCredential, scope string, opts *Options) (*Client, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	u, err := url.Parse(baseURL)
	switch {
	case err != nil || u.Host == "" || u.Opaque != "":
		// The URL is not quoted: it might carry a password.
		return nil, errors.New("graph: the base URL must be an absolute https URL such as https://graph.microsoft.com/beta")
	case u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, errors.New("graph: the base URL must not carry user info, a query or a fragment")
	case u.Scheme == "https":
	case u.Scheme == "http" && o.InsecureAllowHTTP:
	case u.Scheme == "http":
		return nil, errors.New("graph: the base URL uses http, which would expose the token; InsecureAllowHTTP is for a loopback emulator only")
	default:
		return nil, errors.New("graph: the base URL must be an absolute https URL such as https://graph.microsoft.com/beta")
	}
	if cred == nil {
		return nil, errors.New("graph: a token credential is required")
	}
	if strings.TrimSpace(scope) == "" {
		return nil, errors.New("graph: a token scope is required, such as https://graph.microsoft.com/.default")
	}

	switch {
	case o.MaxRetries == 0:
		o.MaxRetries = DefaultMaxRetries
	case o.MaxRetries < 0:
		o.MaxRetries = 0
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = DefaultRetryDelay
	}
	if o.MaxRetryDelay <= 0 {
		o.MaxRetryDelay = DefaultMaxRetryDelay
	}
	switch {
	case o.DeadlineMargin == 0:
		o.DeadlineMargin = DefaultDeadlineMargin
	case o.DeadlineMargin < 0:
		o.DeadlineMargin = 0
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}

	rp := &retryPolicy{
		maxRetries:    o.MaxRetries,
		retryDelay:    o.RetryDelay,
		maxRetryDelay: o.MaxRetryDelay,
		log:           o.Logger,
		sleep:         sleep,
	}
	if o.Sleep != nil {
		rp.sleep = o.Sleep
	}
	if o.Transport == nil {
		o.Transport, o.dialer = defaultTransport()
	}
	if hc, ok := o.Transport.(*http.Client); ok && hc.CheckRedirect == nil {
		c := *hc
		c.CheckRedirect = refuseRedirect
		o.Transport = &c
	}
	host := u.Host
	if strings.LastIndex(host, ":") > strings.LastIndex(host, "]") {
		host = strings.TrimSuffix(host, ":") // an empty port goes, as in http.NewRequest
	}
	return &Client{
		baseU:       u,
		basePath:    strings.TrimSuffix(u.Path, "/"),
		baseEscaped: strings.TrimSuffix(u.EscapedPath(), "/"),
		reqHost:     host,
		allowHTTP:   o.InsecureAllowHTTP,
		tr:          o.Transport,
		dialer:      o.dialer,
		tokens:      newTokenCache(cred, scope),
		retry:       rp,
		margin:      o.DeadlineMargin,
		log:         o.Logger,
	}, nil
}

// PatchAssignment sends body (any JSON-marshalable value; a json.RawMessage
// is checked and sent as is; a change.AssignmentJSON, a request's one
// encoding of its assignment, is sent as is) as a PATCH of one assignment and returns the assignment as
// Graph then holds it. Intune often answers a PATCH with 204 and no body
// (Microsoft calls it by design); the client then reads the assignment back with a
// GET, and Result.RequestID stays the PATCH's.
//
// Errors are *change.Error with CodeInvalid (an id is not a Graph key; no
// call is made), CodeNotFound, CodeGraphRefused, CodeGraphPermission,
// CodeUnavailable (throttled, 5xx, unreachable, no token; with RetryAfter)
// or CodeTimeout (with RetryAfter). An error without a code means the body
// could not be marshalled or ctx was cancelled.
func (c *Client) PatchAssignment(ctx context.Context, configurationID, assignmentID string, body any) (*Result, error) {
	if err := checkKeys(configurationID, assignmentID); err != nil {
		return nil, err
	}
	if body == nil {
		return nil, errors.New("graph: patch assignment: the body is nil")
	}
	u := c.configurationURL(configurationID, "/assignments/", assignmentID)
	o, err := c.send(ctx, &call{op: OpPatchAssignment, method: http.MethodPatch, url: u,
		cfg: configurationID, asg: assignmentID, body: body, notFound: msgAssignmentNotFound})
	if err != nil {
		return nil, err
	}
	res := &Result{
		RequestID:       o.requestID,
		ClientRequestID: o.state.clientRequestID,
		Retries:         o.state.attempts - 1,
		StatusCode:      o.status,
	}
	if isJSONObject(o.payload) {
		res.Body = o.payload
		return res, nil
	}
	g, err := c.send(ctx, &call{op: OpGetAssignment, method: http.MethodGet, url: u,
		cfg: configurationID, asg: assignmentID, notFound: msgAssignmentNotFound, readBack: true})
	if err != nil {
		res.ReadBackErr = err
		return res, nil
	}
	res.Retries += g.state.attempts - 1
	res.ReadBackRequestID = g.requestID
	if !isJSONObject(g.payload) {
		res.ReadBackErr = notJSON(OpGetAssignment, &g)
		return res, nil
	}
	res.Body = g.payload
	return res, nil
}

// Prefetch fetches the client's token in the background, within the
// given time, so that the first call does not wait for it: at a cold start
// the fetch (for aws-federation two round trips, to STS and to Entra) runs
// while the rest of the function starts and while the first delivery is
// checked. With the default transport it also opens the connection to Graph
// meanwhile (DNS, TCP, TLS; not through a proxy), which the first call
// takes if it is open by then: a call never waits for one still opening,
// and dials its own instead of one that failed or is older than 30 s by the
// wall clock (which, unlike the monotonic clock, runs on while Lambda has
// the function frozen). One not taken within 30 s is closed. A call that needs the token while the fetch is in flight waits
// for it (single flight), within its own deadline; if the prefetch fails,
// however it fails, the call fetches again under its own deadline rather
// than taking the prefetch's error. A failed prefetch is logged at warn
// level. Keep within well under the invoke's timeout, so that a hung
// prefetch leaves the first call time for a fetch of its own.
func (c *Client) Prefetch(ctx context.Context, within time.Duration) {
	if c.dialer != nil {
		c.dialer.preconnect(ctx, within, c.baseU)
	}
	go func() {
		ctx, cancel := context.WithTimeout(ctx, within)
		defer cancel()
		if err := c.tokens.prefetch(ctx); err != nil {
			c.log.WarnContext(ctx, "graph token prefetch failed; the first Graph call fetches one again", slog.String("error", err.Error()))
		}
	}()
}

// GetAssignment returns one assignment as Graph holds it. Errors are those
// of PatchAssignment.
func (c *Client) GetAssignment(ctx context.Context, configurationID, assignmentID string) (*Result, error) {
	if err := checkKeys(configurationID, assignmentID); err != nil {
		return nil, err
	}
	o, err := c.send(ctx, &call{op: OpGetAssignment, method: http.MethodGet,
		url: c.configurationURL(configurationID, "/assignments/", assignmentID),
		cfg: configurationID, asg: assignmentID, notFound: msgAssignmentNotFound})
	if err != nil {
		return nil, err
	}
	if !isJSONObject(o.payload) {
		return nil, notJSON(OpGetAssignment, &o)
	}
	return &Result{
		Body:            o.payload,
		RequestID:       o.requestID,
		ClientRequestID: o.state.clientRequestID,
		Retries:         o.state.attempts - 1,
		StatusCode:      o.status,
	}, nil
}

// ListAssignments returns every assignment of a configuration, following
// @odata.nextLink (each page is its own call with its own
// client-request-id; a link that leaves the base URL is refused, so the
// token never travels elsewhere). Result describes the first page and counts
// the retries of all. Errors are those of PatchAssignment.
func (c *Client) ListAssignments(ctx context.Context, configurationID string) ([]json.RawMessage, *Result, error) {
	if err := checkKey("/configurationId", configurationID); err != nil {
		return nil, nil, err
	}
	next := c.configurationURL(configurationID, "/assignments", "")
	var (
		items []json.RawMessage
		res   *Result
	)
	for page := 1; ; page++ {
		if page > maxPages {
			return nil, nil, fmt.Errorf("graph: list assignments of %s: more than %d pages", configurationID, maxPages)
		}
		o, err := c.send(ctx, &call{op: OpListAssignments, method: http.MethodGet, url: next,
			cfg: configurationID, page: page, notFound: msgConfigurationNotFound})
		if err != nil {
			return nil, nil, err
		}
		var p struct {
			Value    []json.RawMessage `json:"value"`
			NextLink string            `json:"@odata.nextLink"`
		}
		if err := json.Unmarshal(o.payload, &p); err != nil {
			return nil, nil, notJSON(OpListAssignments, &o)
		}
		if res == nil {
			res = &Result{RequestID: o.requestID, ClientRequestID: o.state.clientRequestID, StatusCode: o.status}
		}
		res.Retries += o.state.attempts - 1
		items = append(items, p.Value...)
		if p.NextLink == "" {
			break
		}
		link, err := c.nextLink(p.NextLink)
		if err != nil {
			return nil, nil, fmt.Errorf("graph: list assignments of %s: %w", configurationID, err)
		}
		if link == next.String() {
			return nil, nil, fmt.Errorf("graph: list assignments of %s: page %d links to itself", configurationID, page)
		}
		lu, err := url.Parse(link)
		if err != nil {
			return nil, nil, fmt.Errorf("graph: list assignments of %s: %w", configurationID, err)
		}
		next = *lu
	}
	return items, res, nil
}

// nextLink resolves an @odata.nextLink and accepts it only under the base
// URL: every request carries the token, whatever its host.
func (c *Client) nextLink(link string) (string, error) {
	u, err := url.Parse(link)
	if err != nil {
		return "", errors.New("the next link is not a URL")
	}
	u = c.baseU.ResolveReference(u)
	basePath := strings.TrimSuffix(c.baseU.EscapedPath(), "/") + "/"
	if u.Scheme != c.baseU.Scheme || u.Host != c.baseU.Host || u.User != nil ||
		!strings.HasPrefix(u.EscapedPath(), basePath) || strings.Contains(u.EscapedPath(), "/../") {
		return "", errors.New("the next link leaves the Graph base URL")
	}
	u.Fragment = ""
	return u.String(), nil
}

// checkKeys repeats change's key rule: ids reach a URL path here, so this
// package does not trust that every caller validated them.
func checkKeys(configurationID, assignmentID string) error {
	var fields []change.FieldError
	if !change.ValidKey(configurationID) {
		fields = append(fields, keyField("/configurationId"))
	}
	if !change.ValidKey(assignmentID) {
		fields = append(fields, keyField("/assignmentId"))
	}
	if fields == nil {
		return nil
	}
	return &change.Error{Code: change.CodeInvalid, Message: "the request has invalid fields", Fields: fields}
}

func checkKey(field, id string) error {
	if change.ValidKey(id) {
		return nil
	}
	return &change.Error{Code: change.CodeInvalid, Message: "the request has invalid fields",
		Fields: []change.FieldError{keyField(field)}}
}

func keyField(field string) change.FieldError {
	return change.FieldError{Field: field, Reason: "must be 1 to 256 letters, digits, '-' or '_' (an opaque Graph key)"}
}

// call is one logical Graph call: one request, its retries, one log line.
type call struct {
	op, method string
	url        url.URL
	cfg, asg   string
	page       int  // ListAssignments page, for the log
	readBack   bool // the GET after a bodiless PATCH, for the log
	body       any
	notFound   string // caller message for 404
}

// outcome is a 2xx answer.
type outcome struct {
	status    int
	requestID string
	payload   []byte // read from the response; handed to the caller uncopied
	state     callState
}

// send runs one call under ctx's deadline minus the margin, maps any
// failure to a coded error and logs the call.
func (c *Client) send(ctx context.Context, k *call) (outcome, error) {
	start := time.Now()
	o := outcome{state: callState{op: k.op}}
	st := &o.state
	callCtx := ctx
	if deadline, ok := ctx.Deadline(); ok {
		end := deadline.Add(-c.margin)
		if !start.Before(end) {
			err := &change.Error{Code: change.CodeTimeout, Message: "no time was left to call Graph",
				RetryAfter: fallbackRetryAfter,
				Err:        fmt.Errorf("graph: %s %s: the deadline is within the margin of %s: %w", k.method, k.op, c.margin, change.ErrNothingSent)}
			c.logCall(ctx, k, st, nil, start, err)
			return outcome{}, err
		}
		var cancel context.CancelFunc
		callCtx, cancel = context.WithDeadline(ctx, end)
		defer cancel()
	}

	var body []byte
	if k.body != nil {
		b, err := jsonBody(k.body)
		if err != nil {
			return outcome{}, fmt.Errorf("graph: %s %s: %w", k.method, k.op, err)
		}
		body = b
	}
	crid := newClientRequestID()
	st.clientRequestID = crid[0]

	resp, payload, err := c.retry.do(callCtx, st, func(attempt int) (*http.Response, []byte, error) {
		return c.attempt(callCtx, k, st, crid, body, attempt)
	})
	if err != nil {
		err = c.unclearWrite(k, st, transportError(ctx, callCtx, k, err, st.sent && !dialFailed(err)))
		c.logCall(ctx, k, st, nil, start, err)
		return outcome{}, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		err := c.unclearWrite(k, st, statusError(k, newResponseError(k, resp, payload, st.clientRequestID)))
		c.logCall(ctx, k, st, resp, start, err)
		return outcome{}, err
	}
	c.logCall(ctx, k, st, resp, start, nil)
	o.status, o.requestID, o.payload = resp.StatusCode, graphRequestID(resp.Header), payload
	return o, nil
}

// attempt sends call k once, with the cached token, and reads the answer
// whole. A 401 drops the token it answered, so the next call fetches
// another; a 401 that is a Continuous Access Evaluation challenge is sent
// once more, within this attempt, with a token carrying the claims asked
// for.
func (c *Client) attempt(ctx context.Context, k *call, st *callState, crid []string, body []byte, n int) (*http.Response, []byte, error) {
	if k.url.Scheme != "https" && !c.allowHTTP {
		return nil, nil, errNonTLS
	}
	tok, err := c.tokens.get(ctx, "")
	if err != nil {
		return nil, nil, err
	}
	if pastDeadline(ctx) {
		return nil, nil, context.DeadlineExceeded
	}
	st.sent = true
	resp, payload, err := c.exchange(ctx, k, crid, tok, body, n)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, payload, err
	}
	c.tokens.expire(tok)
	if len(resp.Header.Values("WWW-Authenticate")) == 0 {
		return resp, payload, nil
	}
	claims, err := caeClaims(resp)
	if err != nil || claims == "" {
		return resp, payload, err
	}
	if tok, err = c.tokens.get(ctx, claims); err != nil {
		return nil, nil, err
	}
	if pastDeadline(ctx) {
		return nil, nil, context.DeadlineExceeded
	}
	return c.exchange(ctx, k, crid, tok, body, n)
}

// pastDeadline reports whether ctx's deadline has passed by the wall
// clock: a process frozen and thawed after it (a Lambda sandbox) may run
// before its timers fire, and no request may go out then.
func pastDeadline(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

// unclearWrite marks the failure err of a write whose earlier attempt got
// an unclear answer (callState.unclear) with change.ErrOutcomeUnknown:
// that attempt may have been applied, whatever the last one was told.
func (c *Client) unclearWrite(k *call, st *callState, err error) error {
	if k.method == http.MethodGet || !st.unclear {
		return err
	}
	return change.Mark(err, change.ErrOutcomeUnknown)
}

// exchange sends one request and reads its answer's body.
func (c *Client) exchange(ctx context.Context, k *call, crid []string, tok *cachedToken, body []byte, n int) (*http.Response, []byte, error) {
	req, err := c.newRequest(ctx, k, crid, tok, body, n)
	if err != nil {
		return nil, nil, err
	}
	resp, err := roundTrip(c.tr, req)
	if err != nil {
		return nil, nil, err
	}
	payload, err := readBody(resp)
	if err != nil {
		return nil, nil, bodyReadError(k.method, err)
	}
	return resp, payload, nil
}

// jsonBody returns the bytes to send for body: a json.RawMessage as it is,
// once checked to be JSON; anything else marshalled.
func jsonBody(body any) ([]byte, error) {
	switch b := body.(type) {
	case *change.AssignmentJSON:
		// A request's one encoding of its assignment (PatchBodyRef), which
		// its de-duplication fingerprint hashes too; a pointer, so passing
		// it costs no allocation.
		return *b, nil
	case change.AssignmentJSON:
		return b, nil // json.Marshal's, not input
	}
	if raw, ok := body.(json.RawMessage); ok {
		if !json.Valid(raw) {
			return nil, errors.New("the body is not valid JSON")
		}
		return raw, nil
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("error marshalling type %T: %s", body, err)
	}
	return b, nil
}

// dialFailed reports whether err is a failure to open a connection: the
// request never went out.
func dialFailed(err error) bool {
	oe, ok := errors.AsType[*net.OpError](err)
	return ok && oe.Op == "dial"
}

// transportError maps a call that got no usable answer; sent says whether
// a request of it went out (else the error carries change.ErrNothingSent:
// nothing was written).
func transportError(ctx, callCtx context.Context, k *call, err error, sent bool) error {
	wrapped := fmt.Errorf("graph: %s %s: %w", k.method, k.op, err)
	if !sent {
		wrapped = fmt.Errorf("graph: %s %s: %w (%w)", k.method, k.op, err, change.ErrNothingSent)
	}
	var te *tokenError
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return wrapped // the caller gave up; nobody reads a coded answer
	case callCtx.Err() != nil:
		return &change.Error{Code: change.CodeTimeout, Message: "Graph did not answer in time",
			RetryAfter: fallbackRetryAfter, Err: wrapped}
	case errors.As(err, &te):
		return &change.Error{Code: change.CodeUnavailable, Message: "could not get a token for Graph",
			RetryAfter: fallbackRetryAfter, Err: wrapped}
	default:
		return &change.Error{Code: change.CodeUnavailable, Message: "Graph could not be reached",
			RetryAfter: fallbackRetryAfter, Err: wrapped}
	}
}

func notJSON(op string, o *outcome) error {
	return &change.Error{Code: change.CodeUnavailable, Message: "Graph answered without a readable JSON body",
		RetryAfter: fallbackRetryAfter,
		Err: fmt.Errorf("graph: %s: status %d without a JSON object (request-id %q, client-request-id %q)",
			op, o.status, o.requestID, o.state.clientRequestID)}
}

// isJSONObject reports whether p is one JSON object; an empty 200 counts
// as no representation, like a 204.
func isJSONObject(p []byte) bool { return validObject(p) }

func graphRequestID(h http.Header) string {
	// The canonical keys: Get would canonicalize "request-id" into a new
	// string on every call.
	if v := h["Request-Id"]; len(v) > 0 && plainID(v[0]) != "" {
		return v[0]
	}
	if v := h["X-Ms-Request-Id"]; len(v) > 0 {
		return plainID(v[0])
	}
	return ""
}

// plainID is s when it looks like a request id (letters, digits, '-',
// '_', '.', ':', at most 128), else "": the id goes into answers and
// tickets, where a URL or a token never may.
func plainID(s string) string {
	if len(s) > 128 {
		return ""
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return ""
		}
	}
	return s
}

// logCall writes the one line of a call: identifiers, outcome and duration,
// never a URL, a body or a header other than Graph's ids.
func (c *Client) logCall(ctx context.Context, k *call, st *callState, resp *http.Response, start time.Time, err error) {
	level := slog.LevelInfo
	if err != nil {
		level = slog.LevelWarn
	}
	if !c.log.Enabled(ctx, level) {
		return
	}
	status, requestID := 0, ""
	if resp != nil {
		status, requestID = resp.StatusCode, graphRequestID(resp.Header)
	}
	attrs := make([]slog.Attr, 0, 16)
	attrs = append(attrs,
		slog.String("op", k.op),
		slog.String("method", k.method),
		slog.String("configurationId", k.cfg),
	)
	if k.asg != "" {
		attrs = append(attrs, slog.String("assignmentId", k.asg))
	}
	if k.page > 0 {
		attrs = append(attrs, slog.Int("page", k.page))
	}
	if k.readBack {
		attrs = append(attrs, slog.Bool("readBack", true))
	}
	attrs = append(attrs,
		slog.Int("status", status),
		slog.String("requestId", requestID),
		slog.String("clientRequestId", st.clientRequestID),
		slog.Int("attempts", st.attempts),
		slog.Float64("durationMs", float64(time.Since(start).Microseconds())/1000),
	)
	if st.stop != "" {
		attrs = append(attrs, slog.String("retryStop", st.stop))
	}
	if err != nil {
		attrs = append(attrs, slog.String("code", string(change.ErrorCode(err))))
		var re *ResponseError
		var te *tokenError
		switch {
		case errors.As(err, &re):
			attrs = append(attrs, slog.String("graphCode", re.ErrorCode))
			if re.ActivityID != "" {
				attrs = append(attrs, slog.String("activityId", re.ActivityID))
			}
		case errors.As(err, &te):
			// azidentity's text explains the failure and holds no token.
			attrs = append(attrs, slog.String("error", te.err.Error()))
		default:
			attrs = append(attrs, slog.String("error", causeText(err)))
		}
	}
	c.log.LogAttrs(ctx, level, "graph call", attrs...)
}

// causeText returns an error's text without the URL that net/http puts in
// front of transport errors.
func causeText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

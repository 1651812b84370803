package slack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/chat"
	"github.com/enrollhook/enrollhook/pkg/sender"
	"github.com/enrollhook/enrollhook/pkg/signature"
	"github.com/enrollhook/enrollhook/pkg/source"
)

// Name is the route segment of this sender: POST /hooks/slack.
const Name = sender.Slack

// DevelopmentSecret is the published signing secret of `make run` and of
// the Slack samples in events/. It protects nothing: the cold start refuses
// it outside the loopback emulator.
const DevelopmentSecret = "enrollhook-development-slack-signing-secret"

// IsDevelopmentSecret reports whether secret is DevelopmentSecret, also
// with surrounding white space (signature.SlackKey trims it, so that is the
// same key) or in other letter case (another key, but one anybody can
// derive from the published value).
func IsDevelopmentSecret(secret string) bool {
	return strings.EqualFold(strings.TrimSpace(secret), DevelopmentSecret)
}

// Defaults of Options.
const (
	// DefaultAnswerWithin leaves half a second of Slack's 3 s for the
	// gateway and the network.
	DefaultAnswerWithin = 2500 * time.Millisecond
	// ResponseURLLifetime is how long Slack accepts posts to response_url.
	ResponseURLLifetime = 30 * time.Minute
)

// Options tune a Source. A nil *Options means the defaults.
type Options struct {
	// Tolerance is the accepted skew of X-Slack-Request-Timestamp; default
	// 5 minutes.
	Tolerance time.Duration
	// Allow says who may run commands; the zero value refuses everyone.
	// Its setting names default to ENROLLHOOK_SLACK_TEAM_ID and
	// ENROLLHOOK_SLACK_ALLOWED_USERS.
	Allow chat.Allowlist
	// ResponseType of outcome replies: "ephemeral" (default) or
	// "in_channel".
	ResponseType string
	// AnswerWithin is how long the handler may work before answering;
	// default DefaultAnswerWithin.
	AnswerWithin time.Duration
	// Client posts follow-ups; default a client with a 5 s timeout that
	// follows no redirect.
	Client *http.Client
	// AllowLoopbackResponseURL accepts http(s) response_url on a loopback
	// host, for tests. Default false: only https://hooks.slack.com/.
	AllowLoopbackResponseURL bool
}

// Source authenticates and reads Slack slash commands.
type Source struct {
	key   []byte
	opts  Options
	words source.Wording
}

// New returns the Slack sender for an app's signing secret.
func New(secret string, opts *Options) (*Source, error) {
	key, err := signature.SlackKey(secret)
	if err != nil {
		return nil, errors.New("slack: the signing secret must be the app's Signing Secret (Basic Information), at least 16 characters")
	}
	s := &Source{key: key}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.Tolerance <= 0 {
		s.opts.Tolerance = signature.DefaultTolerance
	}
	s.words = source.Wording{
		Missing:   "the request needs the headers X-Slack-Signature and X-Slack-Request-Timestamp (Slack request signing)",
		Malformed: "X-Slack-Signature must be v0= and 64 hex digits, X-Slack-Request-Timestamp unix seconds",
		Timestamp: "X-Slack-Request-Timestamp is outside the accepted window of " + s.opts.Tolerance.String() + "; a replay, or a wrong clock",
		Reencoded: "the signature matches the body as Slack sent it, but the body was re-encoded on the way (still base64, or the form re-serialized); pass the raw bytes through",
		Mismatch:  "X-Slack-Signature does not match the body; check the signing secret and that the body is sent exactly as signed",
	}
	if s.opts.ResponseType != "in_channel" {
		s.opts.ResponseType = "ephemeral"
	}
	if s.opts.AnswerWithin <= 0 {
		s.opts.AnswerWithin = DefaultAnswerWithin
	}
	if s.opts.Client == nil {
		s.opts.Client = &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	}
	if s.opts.Allow.TenantSetting == "" {
		s.opts.Allow.TenantSetting, s.opts.Allow.UsersSetting = sender.SlackTeamVar, sender.SlackUsersVar
	}
	return s, nil
}

// Name returns "slack".
func (s *Source) Name() string { return Name }

// Authenticate verifies X-Slack-Signature over the raw form body, then
// parses the form, once, into the Delivery's payload, which Invocation and
// Decode read. The delivery id is the command's trigger_id as the delivery id: it is inside the signed body
// and Slack makes a new one for every command, so a captured command sent
// again is the same delivery. Without a usable trigger_id the id is a hash
// of the signed timestamp and body. Errors are *change.Error with
// CodeUnauthenticated and Kind signature-missing, signature-malformed,
// timestamp-out-of-window, body-re-encoded or signature-mismatch; none
// quotes a header.
func (s *Source) Authenticate(h http.Header, body []byte, now time.Time) (source.Delivery, error) {
	err := signature.VerifySlack(s.key, h.Get(signature.HeaderSlackTimestamp), h.Get(signature.HeaderSlackSignature), body, now, s.opts.Tolerance)
	if err != nil {
		return source.Delivery{}, s.words.Refuse(err)
	}
	rd := read(body)
	if id := rd.form.Get("trigger_id"); safeID().MatchString(id) {
		return source.Delivery{ID: id, Body: body, Payload: rd}, nil
	}
	// No usable trigger_id: the signed timestamp and body name the command.
	sum := sha256.Sum256([]byte("v0:" + strings.TrimSpace(h.Get(signature.HeaderSlackTimestamp)) + ":" + string(body)))
	return source.Delivery{ID: "sha256-" + hex.EncodeToString(sum[:16]), Body: body, Payload: rd}, nil
}

// reading is the one parse of an authenticated form.
type reading struct {
	form url.Values // the pairs that parse, even when err is set
	err  error
}

func read(body []byte) *reading {
	form, err := url.ParseQuery(string(body))
	return &reading{form: form, err: err}
}

// The forms below compile on first use, not at package initialisation,
// which every cold start would pay whether or not this sender is enabled.
var (
	safeID      = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`) })
	commandName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^/[a-z0-9_-]{1,32}$`) })
)

// Invocation reads an authenticated slash command. Errors are
// *change.Error with CodeMediaType (not a form) or CodeMalformed (the form
// does not parse); a form that is not a usable command becomes an
// invocation with ParseErr, answered with usage help.
func (s *Source) Invocation(h http.Header, d source.Delivery) (*chat.Invocation, error) {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, change.Errorf(change.CodeMediaType, "a Slack slash command is sent as Content-Type: application/x-www-form-urlencoded")
	}
	return s.parse(d, d.ID)
}

// parse reads the invocation from d's form, as Authenticate parsed it (or
// from d.Body when d did not come from Authenticate).
func (s *Source) parse(d source.Delivery, deliveryID string) (*chat.Invocation, error) {
	rd, ok := d.Payload.(*reading)
	if !ok {
		rd = read(d.Body)
	}
	if rd.err != nil {
		return nil, &change.Error{Code: change.CodeMalformed, Kind: change.KindMalformedRequest, Message: "the body is not a well-formed form", Err: rd.err}
	}
	form := rd.form
	inv := &chat.Invocation{
		Sender:      Name,
		DeliveryID:  deliveryID,
		Tenant:      form.Get("team_id"),
		User:        form.Get("user_id"),
		UserName:    form.Get("user_name"),
		Prefix:      "/intune",
		ResponseURL: form.Get("response_url"),
	}
	if c := form.Get("command"); commandName().MatchString(c) {
		inv.Prefix = c
	}
	if u, err := url.Parse(inv.ResponseURL); err == nil && s.allowedURL(u) {
		inv.CanFollowUp = true
	}
	inv.Denied = s.opts.Allow.Check(inv.Tenant, inv.User)
	switch {
	case form.Get("command") == "" && form.Has("payload"):
		inv.ParseErr = &chat.ParseError{Reason: "enrollhook takes slash commands only, not buttons or shortcuts"}
	default:
		inv.Command, inv.ParseErr = chat.Parse(form.Get("text"))
	}
	return inv, nil
}

// Decode turns an assign command into a validated change, for callers that
// want the change without a reply. Errors are *change.Error with
// CodeMalformed, CodeForbidden (the user may not run commands) or
// CodeInvalid.
func (s *Source) Decode(d source.Delivery, opts *change.Options) (*change.Request, error) {
	inv, err := s.parse(d, "slack-command")
	if err != nil {
		return nil, err
	}
	return inv.Request(opts)
}

// AnswerWithin is how long the handler may work before it answers.
func (s *Source) AnswerWithin() time.Duration { return s.opts.AnswerWithin }

type message struct {
	ResponseType    string `json:"response_type"`
	Text            string `json:"text"`
	ReplaceOriginal *bool  `json:"replace_original,omitempty"`
}

// Reply renders r as a Slack message: ephemeral, or in_channel for
// outcomes when so configured.
func (s *Source) Reply(_ *chat.Invocation, r *chat.Reply) (string, []byte) {
	b, _ := json.Marshal(s.message(r))
	return "application/json", b
}

func (s *Source) message(r *chat.Reply) message {
	m := message{ResponseType: "ephemeral", Text: escape(r.Text("\n"))}
	if r.Public {
		m.ResponseType = s.opts.ResponseType
	}
	return m
}

// escape applies Slack's three escapes, so usage placeholders such as
// <configurationId> show as written instead of becoming links or mentions.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// FollowUp posts r to the command's response_url: only to
// https://hooks.slack.com/ (or loopback when allowed for tests), within
// Slack's 30 minutes, following no redirect. The URL is a credential of
// sorts and never appears in an error.
func (s *Source) FollowUp(ctx context.Context, inv *chat.Invocation, r *chat.Reply) error {
	u, err := url.Parse(inv.ResponseURL)
	if err != nil || !s.allowedURL(u) {
		return errors.New("slack: response_url is not a https://hooks.slack.com/ URL; no follow-up posted")
	}
	if !inv.Received.IsZero() && time.Since(inv.Received) > ResponseURLLifetime {
		return errors.New("slack: response_url expired (30 minutes); no follow-up posted")
	}
	m := s.message(r)
	no := false
	m.ReplaceOriginal = &no
	b, _ := json.Marshal(m)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(b))
	if err != nil {
		return errors.New("slack: follow-up request could not be built")
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.opts.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // drop the URL
		}
		return fmt.Errorf("slack: post follow-up: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return errors.New("slack: post follow-up: Slack answered " + strconv.Itoa(resp.StatusCode))
	}
	return nil
}

func (s *Source) allowedURL(u *url.URL) bool {
	if u.User != nil || u.Fragment != "" {
		return false
	}
	if u.Scheme == "https" && u.Host == "hooks.slack.com" {
		return true
	}
	return s.opts.AllowLoopbackResponseURL && (u.Scheme == "http" || u.Scheme == "https") && loopback(u.Hostname())
}

// Sign returns the Slack signing headers for body at ts, for the send
// command and tests.
func Sign(secret string, ts time.Time, body []byte) (http.Header, error) {
	key, err := signature.SlackKey(secret)
	if err != nil {
		return nil, err
	}
	stamp := strconv.FormatInt(ts.Unix(), 10)
	h := http.Header{}
	h.Set(signature.HeaderSlackTimestamp, stamp)
	h.Set(signature.HeaderSlackSignature, signature.SignSlack(key, stamp, body))
	return h, nil
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

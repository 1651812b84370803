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
	"unicode/utf8"

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

// Source authenticates and reads Slack slash commands and button presses.
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

// Allowed is the allow-list's answer for a user named by ids in tenant (a
// Slack member id): nil, or a *chat.Refusal.
func (s *Source) Allowed(tenant string, ids ...string) error {
	return s.opts.Allow.Check(tenant, ids...)
}

// Authenticate verifies X-Slack-Signature over the raw form body, then
// parses the form, once, into the Delivery's payload, which Invocation and
// Decode read; a button press's payload field (Slack interactivity, JSON)
// is read in the same parse. The delivery id is the trigger_id: it is
// inside the signed body and Slack makes a new one for every command and
// every button press, so a captured request sent again is the same
// delivery. A press without a usable trigger_id is named by its message's
// message_ts and its action_ts; anything else without one by a hash of the
// signed timestamp and body. Errors are *change.Error with
// CodeUnauthenticated and Kind signature-missing, signature-malformed,
// timestamp-out-of-window, body-re-encoded or signature-mismatch; none
// quotes a header.
func (s *Source) Authenticate(h http.Header, body []byte, now time.Time) (source.Delivery, error) {
	err := signature.VerifySlack(s.key, h.Get(signature.HeaderSlackTimestamp), h.Get(signature.HeaderSlackSignature), body, now, s.opts.Tolerance)
	if err != nil {
		return source.Delivery{}, s.words.Refuse(err)
	}
	rd := read(body)
	if id := rd.triggerID(); safeID().MatchString(id) {
		return source.Delivery{ID: id, Body: body, Payload: rd}, nil
	}
	if p := rd.press; p != nil && len(p.Actions) == 1 {
		if id := "press-" + p.Container.MessageTS + "-" + p.Actions[0].ActionTS; p.Container.MessageTS != "" && p.Actions[0].ActionTS != "" && safeID().MatchString(id) {
			return source.Delivery{ID: id, Body: body, Payload: rd}, nil
		}
	}
	// No usable trigger_id: the signed timestamp and body name the command.
	sum := sha256.Sum256([]byte("v0:" + strings.TrimSpace(h.Get(signature.HeaderSlackTimestamp)) + ":" + string(body)))
	return source.Delivery{ID: "sha256-" + hex.EncodeToString(sum[:16]), Body: body, Payload: rd}, nil
}

// reading is the one parse of an authenticated form.
type reading struct {
	form url.Values // the pairs that parse, even when err is set
	err  error
	// press is the payload field of an interactivity request (a form
	// without command), read as JSON; nil for a slash command.
	press *press
	// pressErr is why the payload is not one enrollhook can read: a
	// *change.Error naming the field.
	pressErr *change.Error
	// repeated refuses a form that sends a field more than once (form.Get
	// would read the first, another reader the last): a *change.Error
	// naming the fields; the payload is then not read.
	repeated error
}

func read(body []byte) *reading {
	form, err := url.ParseQuery(string(body))
	rd := &reading{form: form, err: err}
	if err != nil {
		return rd
	}
	if rd.repeated = repeatedFields(form); rd.repeated != nil {
		return rd
	}
	if form.Get("command") == "" && form.Has("payload") {
		rd.press, rd.pressErr = readPress(form.Get("payload"))
	}
	return rd
}

// repeatedFields refuses a form that holds a field more than once, each
// named by its JSON pointer into the form, as the payload's fields are
// (/user_id, /payload): the name as the form names it once decoded
// (user_id and user%5Fid are one field). Names are compared exactly, as
// Get reads them: USER_ID is another field, which enrollhook does not
// read. A name is cut as every pointer's (change.PointerSegment); no
// value is quoted.
func repeatedFields(form url.Values) error {
	var fields []change.FieldError
	for name, values := range form {
		if len(values) > 1 {
			fields = append(fields, change.FieldError{Field: "/" + change.PointerSegment(name), Reason: "appears more than once; send each form field once"})
		}
	}
	if fields == nil {
		return nil
	}
	return source.Repeated("the form", fields)
}

func (rd *reading) triggerID() string {
	if rd.press != nil {
		return rd.press.TriggerID
	}
	return rd.form.Get("trigger_id")
}

// press is what enrollhook reads of a Slack interactivity payload: a
// block_actions payload is one button pressed in a message enrollhook
// posted (the rest of the payload is not read).
type press struct {
	Type string `json:"type"`
	Team struct {
		ID string `json:"id"`
	} `json:"team"`
	User struct {
		ID       string `json:"id"`
		Username string `json:"username"`
	} `json:"user"`
	TriggerID   string `json:"trigger_id"`
	ResponseURL string `json:"response_url"`
	Container   struct {
		MessageTS string `json:"message_ts"`
	} `json:"container"`
	Actions []pressed `json:"actions"`
}

// pressed is the button of a block_actions payload.
type pressed struct {
	Type     string `json:"type"`
	Value    string `json:"value"`
	ActionTS string `json:"action_ts"`
}

// blockActions is the interactivity payload type of a button press.
const blockActions = "block_actions"

// readPress reads an interactivity payload. Its errors name the field
// (a JSON pointer under /payload) and never quote the payload.
func readPress(payload string) (*press, *change.Error) {
	malformed := func(field, reason string, err error) *change.Error {
		return &change.Error{Code: change.CodeMalformed, Kind: change.KindMalformedRequest,
			Message: "the form field payload is not a Slack interactivity payload enrollhook can read: " + field + " " + reason,
			Fields:  []change.FieldError{{Field: field, Reason: reason}}, Err: err}
	}
	var p press
	if err := json.Unmarshal([]byte(payload), &p); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" && jsonField().MatchString(te.Field) {
			return nil, malformed("/payload/"+strings.ReplaceAll(te.Field, ".", "/"), "has the wrong JSON type", err)
		}
		if change.TooDeep([]byte(payload)) {
			return nil, malformed("/payload", change.ReasonTooDeep, err)
		}
		return nil, malformed("/payload", "is not a JSON object", err)
	}
	// encoding/json keeps the last of a repeated property ("user" and
	// "USER" are one to it), so the presser a reader of the payload sees
	// could be another than the one the allow-list checks: refused, named
	// under /payload, as the envelope's repeated properties are.
	if dups := change.DuplicateFields([]byte(payload)); len(dups) > 0 {
		for i := range dups {
			dups[i].Field = "/payload" + dups[i].Field
		}
		ce, _ := source.Repeated("the form field payload", dups).(*change.Error)
		return nil, ce
	}
	switch {
	case p.Type == "":
		return nil, malformed("/payload/type", "is missing", nil)
	case p.Type == blockActions && len(p.Actions) != 1:
		return nil, malformed("/payload/actions", "must hold the one button pressed", nil)
	}
	return &p, nil
}

// The forms below compile on first use, not at package initialisation,
// which every cold start would pay whether or not this sender is enabled.
var (
	safeID      = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`) })
	commandName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^/[a-z0-9_-]{1,32}$`) })
	// jsonField is a field path (press's JSON names, as encoding/json
	// reports them) that a refusal may name; anything else is not named.
	jsonField = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z_]{1,32}(\.[a-z_]{1,32}){0,3}$`) })
)

// Invocation reads an authenticated slash command or button press. Errors
// are *change.Error with CodeMediaType (not a form), CodeMalformed (the
// form does not parse, or its payload field is not an interactivity
// payload: the error names the field) or CodeInvalid (a form field, or a
// property of the payload, sent more than once: each named); a form that
// is not a usable command becomes an invocation with ParseErr, answered
// with usage help.
func (s *Source) Invocation(h http.Header, d source.Delivery) (*chat.Invocation, error) {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, change.Errorf(change.CodeMediaType, "a Slack slash command or button press is sent as Content-Type: application/x-www-form-urlencoded")
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
	if rd.repeated != nil {
		return nil, rd.repeated
	}
	if rd.pressErr != nil {
		return nil, rd.pressErr
	}
	if rd.press != nil {
		return s.pressInvocation(rd.press, deliveryID), nil
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
	s.authorize(inv)
	inv.Command, inv.ParseErr = chat.Parse(form.Get("text"))
	return inv, nil
}

// pressInvocation is the invocation of a button press: the command its
// button stands for, run by the user who pressed it, with the same
// allow-list and the same response_url rules as a slash command. Only
// approve and reject are commands a button may carry; anything else is
// answered with usage help.
func (s *Source) pressInvocation(p *press, deliveryID string) *chat.Invocation {
	inv := &chat.Invocation{
		Sender:      Name,
		DeliveryID:  deliveryID,
		Tenant:      p.Team.ID,
		User:        p.User.ID,
		UserName:    p.User.Username,
		Prefix:      "/intune",
		ResponseURL: p.ResponseURL,
	}
	s.authorize(inv)
	if p.Type != blockActions || p.Actions[0].Type != "button" {
		inv.ParseErr = &chat.ParseError{Reason: "enrollhook takes slash commands and its own Approve and Reject buttons, not shortcuts, menus or forms"}
		return inv
	}
	cmd, err := chat.Parse(p.Actions[0].Value)
	switch {
	case err != nil:
		inv.ParseErr = err
	case cmd.Verb != chat.VerbApprove && cmd.Verb != chat.VerbReject:
		inv.ParseErr = &chat.ParseError{Reason: "a button can only approve or reject a request; type other commands"}
	default:
		inv.Command = cmd
	}
	return inv
}

// authorize sets whether inv may be followed up at its response_url and
// whether its user may run commands at all.
func (s *Source) authorize(inv *chat.Invocation) {
	if u, err := url.Parse(inv.ResponseURL); err == nil && s.allowedURL(u) {
		inv.CanFollowUp = true
	}
	inv.Denied = s.Allowed(inv.Tenant, inv.User)
}

// Pressed reports whether d, as Authenticate read it, is a button press
// (an interactivity payload) rather than a slash command. Slack shows
// nothing of the answer to a press: its reply reaches the user only when
// it is posted to the invocation's response_url (FollowUp).
func (s *Source) Pressed(d source.Delivery) bool {
	rd, ok := d.Payload.(*reading)
	if !ok {
		rd = read(d.Body)
	}
	return rd.press != nil
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
	// Blocks are set only for a reply with actions: its text in sections,
	// then its buttons. Text stays for notifications and clients without
	// blocks.
	Blocks []block `json:"blocks,omitempty"`
}

// block is a Block Kit section (Text) or actions block (Elements).
type block struct {
	Type     string      `json:"type"`
	BlockID  string      `json:"block_id,omitempty"`
	Text     *textObject `json:"text,omitempty"`
	Elements []button    `json:"elements,omitempty"`
}

type textObject struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// button is a Block Kit button; its value is the command text it stands
// for, which comes back in the block_actions payload when it is pressed.
type button struct {
	Type     string     `json:"type"`
	Text     textObject `json:"text"`
	Style    string     `json:"style,omitempty"`
	Value    string     `json:"value"`
	ActionID string     `json:"action_id"`
}

// Block Kit's limits that a reply could reach.
const (
	maxSectionText = 3000 // characters of a section's text
	maxBlocks      = 50   // blocks of a message
	maxButtons     = 25   // elements of an actions block
	maxButtonLabel = 75   // characters of a button's text
	maxButtonValue = 2000 // characters of a button's value
)

// Reply renders r as a Slack message: ephemeral, or in_channel for
// outcomes when so configured. A reply with actions also carries them as
// Block Kit buttons, under its text in sections.
func (s *Source) Reply(_ *chat.Invocation, r *chat.Reply) (string, []byte) {
	b, _ := json.Marshal(s.message(r))
	return "application/json", b
}

func (s *Source) message(r *chat.Reply) message {
	m := message{ResponseType: "ephemeral", Text: escape(r.Text("\n"))}
	if r.Public {
		m.ResponseType = s.opts.ResponseType
	}
	m.Blocks = blocks(r)
	return m
}

// blocks renders r's lines as sections and its actions as one actions
// block; nil when r has no action a button can carry (a message without
// blocks, as before actions existed).
func blocks(r *chat.Reply) []block {
	var buttons []button
	for i, a := range r.Actions {
		if a.Label == "" || a.Command == "" || len(a.Command) > maxButtonValue || len(buttons) == maxButtons {
			continue
		}
		b := button{Type: "button", Text: textObject{Type: "plain_text", Text: cut(a.Label, maxButtonLabel)},
			Value: a.Command, ActionID: "enrollhook-action-" + strconv.Itoa(i)}
		if a.Style == "primary" || a.Style == "danger" {
			b.Style = a.Style
		}
		buttons = append(buttons, b)
	}
	if len(buttons) == 0 {
		return nil
	}
	var out []block
	for _, t := range sections(r.Lines) {
		if len(out) == maxBlocks-1 {
			break // the full text is still in the message's text
		}
		out = append(out, block{Type: "section", Text: &textObject{Type: "mrkdwn", Text: t}})
	}
	return append(out, block{Type: "actions", BlockID: "enrollhook-actions", Elements: buttons})
}

// sections are the escaped lines joined by new lines in texts of at most
// maxSectionText bytes (so no more characters), split between lines, and
// within a line only when the line alone is longer.
func sections(lines []string) []string {
	var out []string
	var b strings.Builder
	for _, line := range lines {
		esc := escape(line)
		if b.Len() > 0 && b.Len()+1+len(esc) <= maxSectionText {
			b.WriteByte('\n')
			b.WriteString(esc)
			continue
		}
		if b.Len() > 0 {
			out = append(out, b.String())
			b.Reset()
		}
		for len(esc) > maxSectionText {
			n := cutPoint(esc, maxSectionText)
			out = append(out, esc[:n])
			esc = esc[n:]
		}
		b.WriteString(esc)
	}
	if strings.TrimSpace(b.String()) != "" {
		out = append(out, b.String())
	}
	return out
}

// cutPoint is where to cut the escaped text s to at most n bytes: not
// inside a character or an escape (&amp; &lt; &gt;).
func cutPoint(s string, n int) int {
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	if amp := strings.LastIndexByte(s[max(0, n-4):n], '&'); amp >= 0 {
		n = max(0, n-4) + amp
	}
	if n == 0 {
		n = len(s) // cannot happen with maxSectionText; never loop
	}
	return n
}

// cut shortens s to at most n characters.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
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

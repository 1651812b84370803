package teams

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"html"
	"mime"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/chat"
	"github.com/enrollhook/enrollhook/pkg/sender"
	"github.com/enrollhook/enrollhook/pkg/signature"
	"github.com/enrollhook/enrollhook/pkg/source"
)

// Name is the route segment of this sender: POST /hooks/teams.
const Name = sender.Teams

// DevelopmentSecret is the published security token of `make run` and of
// the Teams samples in events/ (base64 of 32 bytes, like a real one). It
// protects nothing: the cold start refuses it outside the loopback emulator.
const DevelopmentSecret = "ZW5yb2xsaG9vay10ZWFtcy1kZXZlbG9wbWVudC1rZXk="

// IsDevelopmentSecret reports whether token decodes to the key of
// DevelopmentSecret in any spelling, read as leniently as any base64
// decoder would (signature.LooseKey): "...1rZXl=" differs from the
// published "...1rZXk=" only in padding bits, and is the same key.
func IsDevelopmentSecret(token string) bool {
	key := signature.LooseKey(token)
	dev, _ := signature.TeamsKey(DevelopmentSecret)
	return key != nil && bytes.Equal(key, dev)
}

// DefaultAnswerWithin leaves a second of Teams' 5 s for the gateway and the
// network.
const DefaultAnswerWithin = 4 * time.Second

// Options tune a Source. A nil *Options means the defaults.
type Options struct {
	// Tolerance is the accepted age of the activity's timestamp (signed,
	// being inside the body); default 5 minutes.
	Tolerance time.Duration
	// Allow says who may run commands; the zero value refuses everyone.
	// Its setting names default to ENROLLHOOK_TEAMS_TENANT_ID and
	// ENROLLHOOK_TEAMS_ALLOWED_USERS.
	Allow chat.Allowlist
	// AnswerWithin is how long the handler may work before answering;
	// default DefaultAnswerWithin.
	AnswerWithin time.Duration
}

// Source authenticates and reads Teams outgoing webhook activities.
type Source struct {
	key  []byte
	opts Options
}

// New returns the Teams sender for the outgoing webhook's security token.
func New(token string, opts *Options) (*Source, error) {
	key, err := signature.TeamsKey(token)
	if errors.Is(err, signature.ErrSecretSpelling) {
		return nil, errors.New("teams: the security token's base64 is not in its canonical spelling (a changed last character, a missing '=' or the URL-safe alphabet); paste it exactly as Teams showed it")
	}
	if err != nil {
		return nil, errors.New("teams: the security token must be the base64 token Teams showed when the outgoing webhook was created")
	}
	s := &Source{key: key}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.Tolerance <= 0 {
		s.opts.Tolerance = signature.DefaultTolerance
	}
	if s.opts.AnswerWithin <= 0 {
		s.opts.AnswerWithin = DefaultAnswerWithin
	}
	if s.opts.Allow.TenantSetting == "" {
		s.opts.Allow.TenantSetting, s.opts.Allow.UsersSetting = sender.TeamsTenantVar, sender.TeamsUsersVar
	}
	return s, nil
}

// Name returns "teams".
func (s *Source) Name() string { return Name }

// Allowed is the allow-list's answer for a user named by ids in tenant
// (the Entra object id, the 29: user id): nil, or a *chat.Refusal.
func (s *Source) Allowed(tenant string, ids ...string) error {
	return s.opts.Allow.Check(tenant, ids...)
}

// activity is the part of a Bot Framework activity enrollhook reads.
type activity struct {
	Type      string `json:"type"`
	ID        string `json:"id"`
	Timestamp string `json:"timestamp"`
	Text      string `json:"text"`
	From      struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		AADObjectID string `json:"aadObjectId"`
	} `json:"from"`
	Recipient struct {
		Name string `json:"name"`
	} `json:"recipient"`
	Conversation struct {
		ID       string `json:"id"`
		TenantID string `json:"tenantId"`
	} `json:"conversation"`
	ChannelData struct {
		Tenant struct {
			ID string `json:"id"`
		} `json:"tenant"`
	} `json:"channelData"`
}

// Authenticate verifies "Authorization: HMAC <base64>" over the raw body,
// then parses the activity, once, into the Delivery's payload, which
// Invocation and Decode read, and checks its timestamp (inside the signed body, so it cannot be
// moved) against the replay window, and returns the activity id (inside the
// signed body) as the delivery id, or a hash of the signed activity when it
// has no usable id. Errors are *change.Error with CodeUnauthenticated and Kind
// signature-missing, signature-malformed, body-re-encoded,
// signature-mismatch or timestamp-out-of-window; none quotes a header.
func (s *Source) Authenticate(h http.Header, body []byte, now time.Time) (source.Delivery, error) {
	if err := signature.VerifyTeams(s.key, h.Get("Authorization"), body); err != nil {
		return source.Delivery{}, words.Refuse(err)
	}
	rd := read(body)
	a := &rd.a // as much as could be read: a wrong type elsewhere does not hide the ids
	ts, err := time.Parse(time.RFC3339Nano, a.Timestamp)
	if err != nil || !signature.Within(ts, now, s.opts.Tolerance) {
		return source.Delivery{}, source.Stale(body, "the activity's timestamp is missing or outside the accepted window of "+s.opts.Tolerance.String()+"; a replay, or a wrong clock")
	}
	d := source.Delivery{ID: a.ID, Body: body, Payload: rd}
	switch {
	case !safeID().MatchString(a.ID):
		// No usable activity id: the signed activity names itself.
		sum := sha256.Sum256(body)
		d.ID = "sha256-" + hex.EncodeToString(sum[:16])
	case a.Conversation.ID != "":
		// A channel's activity id is the message's epoch milliseconds,
		// unique only within its conversation: the (signed) conversation
		// makes it one delivery id across channels.
		conv := sha256.Sum256([]byte(a.Conversation.ID))
		d.ID = a.ID + "." + hex.EncodeToString(conv[:4])
	}
	return d, nil
}

// reading is the one parse of an authenticated activity.
type reading struct {
	a   activity
	err error // json.Unmarshal's: the activity is then partly read
	// repeated are the properties the activity holds twice in one object,
	// at any depth (change.DuplicateFields, which compares names as
	// encoding/json matches them: unescaped, ignoring case); set only
	// when the activity was read without error.
	repeated []change.FieldError
}

func read(body []byte) *reading {
	rd := &reading{}
	rd.err = json.Unmarshal(body, &rd.a)
	if rd.err == nil {
		// encoding/json keeps the last of a repeated property ("from" and
		// "FROM" are one to it): the identity the allow-list and the
		// separation of duties read could be another than the first one
		// a reader of the activity sees. Refused, as the envelope refuses
		// it.
		rd.repeated = change.DuplicateFields(body)
	}
	return rd
}

// words are the refusals of the Authorization HMAC, which signs no
// timestamp (the activity's own is checked by Authenticate).
var words = source.Wording{
	Missing:   "the request needs the header Authorization: HMAC <signature> (Teams outgoing webhook)",
	Malformed: "Authorization must be HMAC followed by the base64 of a 32-byte HMAC-SHA256",
	Reencoded: "the signature matches the activity as Teams sent it, but the body was re-encoded on the way (still base64, JSON re-serialized, or a newline added); pass the raw bytes through",
	Mismatch:  "the Authorization HMAC does not match the body; check the security token and that the body is sent exactly as signed",
}

// The forms below compile on first use, not at package initialisation,
// which every cold start would pay whether or not this sender is enabled.
var (
	safeID   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9._:;=@-]{1,128}$`) })
	mention  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?is)<at>.*?</at>`) })
	tag      = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?s)<[^>]{0,256}>`) })
	safeName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9 ._-]{1,64}$`) })
)

// Invocation reads an authenticated activity. Errors are *change.Error with
// CodeMediaType (not JSON), CodeMalformed (not a JSON object) or
// CodeInvalid (a property of the wrong type, or one sent twice in the same
// object: each named by its JSON pointer); an activity that is not a
// usable command becomes an invocation with ParseErr, answered with usage
// help.
func (s *Source) Invocation(h http.Header, d source.Delivery) (*chat.Invocation, error) {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return nil, change.Errorf(change.CodeMediaType, "a Teams outgoing webhook activity is sent as Content-Type: application/json")
	}
	return s.parse(d, d.ID)
}

// parse reads the invocation from d's activity, as Authenticate parsed it
// (or from d.Body when d did not come from Authenticate).
func (s *Source) parse(d source.Delivery, deliveryID string) (*chat.Invocation, error) {
	rd, ok := d.Payload.(*reading)
	if !ok {
		rd = read(d.Body)
	}
	if te, ok := errors.AsType[*json.UnmarshalTypeError](rd.err); ok && te.Field != "" {
		// An object with a property of the wrong type: name it.
		return nil, change.Invalid(change.FieldError{Field: "/" + strings.ReplaceAll(te.Field, ".", "/"), Reason: "must be a JSON " + jsonKind(te.Type.Kind())})
	}
	if rd.err != nil {
		if change.TooDeep(d.Body) {
			return nil, change.Malformed(d.Body, rd.err)
		}
		return nil, &change.Error{Code: change.CodeMalformed, Message: "the body is not a Teams activity (a JSON object)", Err: rd.err}
	}
	if len(rd.repeated) > 0 {
		// Named by its JSON pointer, as the envelope's are (422
		// invalid-fields); nothing of the activity is read.
		return nil, source.Repeated("the activity", rd.repeated)
	}
	a := &rd.a
	inv := &chat.Invocation{
		Sender:     Name,
		DeliveryID: deliveryID,
		Tenant:     strings.ToLower(a.ChannelData.Tenant.ID), // a GUID, canonical in lower case
		User:       strings.ToLower(a.From.AADObjectID),
		UserName:   a.From.Name,
		Prefix:     "@enrollhook",
	}
	if inv.Tenant == "" {
		inv.Tenant = strings.ToLower(a.Conversation.TenantID)
	}
	if inv.User == "" {
		inv.User = a.From.ID
	} else if a.From.ID != "" {
		inv.OtherUser = a.From.ID
	}
	if safeName().MatchString(a.Recipient.Name) {
		inv.Prefix = "@" + a.Recipient.Name
	}
	inv.Denied = s.Allowed(inv.Tenant, inv.User, inv.OtherUser)
	if a.Type != "message" {
		inv.ParseErr = &chat.ParseError{Reason: "enrollhook reads messages only"}
		return inv, nil
	}
	inv.Command, inv.ParseErr = chat.Parse(CommandText(a.Text))
	return inv, nil
}

// CommandText is the message text without the <at>…</at> mentions, other
// markup and HTML entities (Teams sends &nbsp; around a mention).
func CommandText(text string) string {
	t := mention().ReplaceAllString(text, " ")
	t = tag().ReplaceAllString(t, " ")
	t = html.UnescapeString(t)
	return strings.TrimSpace(strings.ReplaceAll(t, "\u00a0", " "))
}

// Decode turns an assign command into a validated change, for callers that
// want the change without a reply. Errors are *change.Error with
// CodeMalformed, CodeForbidden (the user may not run commands) or
// CodeInvalid.
func (s *Source) Decode(d source.Delivery, opts *change.Options) (*change.Request, error) {
	inv, err := s.parse(d, "teams-activity")
	if err != nil {
		return nil, err
	}
	return inv.Request(opts)
}

// AnswerWithin is how long the handler may work before it answers.
func (s *Source) AnswerWithin() time.Duration { return s.opts.AnswerWithin }

// Reply renders r as a Teams message activity.
func (s *Source) Reply(_ *chat.Invocation, r *chat.Reply) (string, []byte) {
	text := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(r.Text("\n\n"))
	b, _ := json.Marshal(struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}{"message", text})
	return "application/json", b
}

// FollowUp returns chat.ErrNoFollowUp: an outgoing webhook answers once,
// synchronously, and cannot call Teams afterwards.
func (s *Source) FollowUp(context.Context, *chat.Invocation, *chat.Reply) error {
	return chat.ErrNoFollowUp
}

// Sign returns the Authorization header for body, for the send command and
// tests.
func Sign(token string, body []byte) (http.Header, error) {
	key, err := signature.TeamsKey(token)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set("Authorization", signature.SignTeams(key, body))
	return h, nil
}

var timestampField = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`"timestamp"\s*:\s*"[^"]*"`) })

// Restamp returns body with the activity's first "timestamp" set to t, for
// the send command and tests: a sample must carry a fresh timestamp to pass
// the replay window. A body without one is returned unchanged.
func Restamp(body []byte, t time.Time) []byte {
	loc := timestampField().FindIndex(body)
	if loc == nil {
		return body
	}
	out := append([]byte{}, body[:loc[0]]...)
	out = append(out, `"timestamp":"`+t.UTC().Format(time.RFC3339Nano)+`"`...)
	return append(out, body[loc[1]:]...)
}

// jsonKind names the JSON type a Go kind is read from, for a refusal.
func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "string"
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Bool:
		return "boolean"
	}
	return "number"
}

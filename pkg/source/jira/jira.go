package jira

import (
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/signature"
)

// Name is the route segment of this sender: POST /hooks/jira.
const Name = "jira"

// System is the ticket system recorded for Jira changes.
const System = "jira"

// Headers Jira sends with a webhook delivery (reference/webhooks.md §2.2).
const (
	HeaderIdentifier = "X-Atlassian-Webhook-Identifier" // the same on every retry
	HeaderRetry      = "X-Atlassian-Webhook-Retry"
)

// Options map Jira's own webhook onto a change. A nil *Options, or one
// with neither ApprovedStatuses nor ApprovalField, leaves Jira's webhook
// unmapped: the route then takes only the generic envelope.
type Options struct {
	// ApprovedStatuses: the event approves when its changelog moves the
	// issue into one of these statuses (by name, any letter case).
	ApprovedStatuses []string
	// ApprovalField: the event approves when its changelog changes this
	// custom field and the field then reads approved.
	ApprovalField string
	// ConfigurationField and AssignmentField hold the Graph keys.
	ConfigurationField, AssignmentField string
	// GroupField and FilterField hold the target's group and filter ids.
	GroupField, FilterField string
	// FilterType is a custom field id or a fixed include|exclude;
	// TargetType a custom field id or a fixed group|exclusion|allUsers|
	// allDevices (default group).
	FilterType, TargetType string
}

// Source authenticates and decodes Jira deliveries.
type Source struct {
	secret string
	opts   Options
}

// New returns the Jira sender for the webhook's secret (used as it is, as
// UTF-8 bytes). The error never quotes the secret.
func New(secret string, opts *Options) (*Source, error) {
	if len(secret) < 8 {
		return nil, errors.New("jira: the webhook secret must be at least 8 characters (Jira's webhook settings: Secret)")
	}
	s := &Source{secret: secret}
	if opts != nil {
		s.opts = *opts
	}
	return s, nil
}

// Name returns "jira".
func (s *Source) Name() string { return Name }

// Mapped reports whether Jira's own webhook is mapped onto changes.
func (s *Source) Mapped() bool {
	return len(s.opts.ApprovedStatuses) > 0 || s.opts.ApprovalField != ""
}

// MaxAge bounds how far the signed body's timestamp (epoch milliseconds)
// may lie from the receiver's clock, either way. Jira retries for up to
// about half an hour; a delivery older than this is a replay, beyond what
// the de-duplication of delivery ids remembers or not.
const MaxAge = time.Hour

// Authenticate checks X-Hub-Signature over the raw body, then the body's
// timestamp (epoch milliseconds, signed with the body) when it has one: it
// must lie within MaxAge of now. It returns the delivery id,
// X-Atlassian-Webhook-Identifier ("" when absent or unusable), the key
// replays within the window are caught by. Errors are *change.Error with
// CodeUnauthenticated and Kind signature-missing, signature-malformed,
// body-re-encoded, signature-mismatch or timestamp-out-of-window.
func (s *Source) Authenticate(h http.Header, body []byte, now time.Time) (string, error) {
	switch err := signature.VerifyHub([]string{s.secret}, h.Get(signature.HeaderHubSignature), body); {
	case err == nil:
	case errors.Is(err, signature.ErrMissing):
		return "", &change.Error{Code: change.CodeUnauthenticated, Kind: "signature-missing",
			Message: "the request needs X-Hub-Signature: sha256=<hex> (register the Jira webhook with a secret)", Err: err}
	case errors.Is(err, signature.ErrMalformed):
		return "", &change.Error{Code: change.CodeUnauthenticated, Kind: "signature-malformed",
			Message: "X-Hub-Signature must be sha256= followed by 64 hexadecimal digits", Err: err}
	case errors.Is(err, signature.ErrReencoded):
		return "", &change.Error{Code: change.CodeUnauthenticated, Kind: "body-re-encoded",
			Message: "X-Hub-Signature matches the body as Jira signed it, but the body was re-encoded on the way (JSON re-serialized with other whitespace or line endings, still base64, or a newline added); pass the raw bytes through", Err: err}
	default:
		return "", &change.Error{Code: change.CodeUnauthenticated, Kind: "signature-mismatch",
			Message: "X-Hub-Signature does not match the body; check the webhook's secret and that the body is sent exactly as signed", Err: err}
	}
	if ts, present := timestamp(body); present {
		if skew := now.Sub(ts); ts.IsZero() || skew > MaxAge || skew < -MaxAge {
			return "", &change.Error{Code: change.CodeUnauthenticated, Kind: "timestamp-out-of-window",
				Message: "the body's timestamp is not epoch milliseconds within " + MaxAge.String() + " of the receiver's clock; a replay of an old delivery, or a wrong clock"}
		}
	}
	return deliveryID(h.Get(HeaderIdentifier)), nil
}

// timestamp reads the body's top-level timestamp, epoch milliseconds.
// present is false when the body has none (or is not a JSON object: Decode
// refuses it); the time is zero when it is present but not an integer.
func timestamp(body []byte) (t time.Time, present bool) {
	var p struct {
		Timestamp json.RawMessage `json:"timestamp"`
	}
	if json.Unmarshal(body, &p) != nil || len(p.Timestamp) == 0 || string(p.Timestamp) == "null" {
		return time.Time{}, false
	}
	ms, err := strconv.ParseInt(string(p.Timestamp), 10, 64)
	if err != nil || ms <= 0 {
		return time.Time{}, true
	}
	return time.UnixMilli(ms), true
}

// Restamp sets the body's first "timestamp" number to t in epoch
// milliseconds, for the send command and tests that replay the samples in
// events/ (Jira's is the first property). A body without one is returned
// as it is.
func Restamp(body []byte, t time.Time) []byte {
	loc := timestampField.FindIndex(body)
	if loc == nil {
		return body
	}
	out := append([]byte{}, body[:loc[0]]...)
	out = append(out, `"timestamp":`+strconv.FormatInt(t.UnixMilli(), 10)...)
	return append(out, body[loc[1]:]...)
}

var timestampField = regexp.MustCompile(`"timestamp"\s*:\s*-?[0-9]+`)

// deliveryID keeps an identifier that is safe to log and to key on.
func deliveryID(id string) string {
	id = strings.TrimSpace(id)
	if id == "" || len(id) > 128 {
		return ""
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return ""
		}
	}
	return id
}

// Sign returns the X-Hub-Signature header for body, for the send command
// and tests.
func Sign(secret string, body []byte) http.Header {
	h := http.Header{}
	h.Set(signature.HeaderHubSignature, signature.SignHub(secret, body))
	return h
}

// DevelopmentSecret is the published secret of `make run` and of the
// samples in events/jira-*.json. It protects nothing: the function refuses
// it unless Graph is the loopback emulator.
const DevelopmentSecret = "enrollhook-jira-development-secret"

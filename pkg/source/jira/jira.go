package jira

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/enrollhook/enrollhook/pkg/sender"
	"github.com/enrollhook/enrollhook/pkg/signature"
	"github.com/enrollhook/enrollhook/pkg/source"
)

// Name is the route segment of this sender: POST /hooks/jira.
const Name = sender.Jira

// System is the ticket system recorded for Jira changes: the sender's
// name, which the write-back keys on.
const System = sender.Jira

// Headers Jira sends with a webhook delivery. Neither is signed: they are
// logged, never trusted.
const (
	HeaderIdentifier = "X-Atlassian-Webhook-Identifier" // the same on every retry
	HeaderRetry      = "X-Atlassian-Webhook-Retry"
)

// Options map Jira's own webhook onto a change. A nil *Options, or one
// with none of ApprovedStatuses, RevertStatuses and ApprovalField, leaves
// Jira's webhook unmapped: the route then takes only the generic envelope.
type Options struct {
	// ApprovedStatuses: the event approves when its changelog moves the
	// issue into one of these statuses (by name, any letter case).
	ApprovedStatuses []string
	// RevertStatuses: the event is an approved revert of the issue's
	// changes when its changelog moves the issue into one of these
	// statuses (by name, any letter case); the event's user approves it.
	// A status in both lists is a revert (the configuration refuses it).
	RevertStatuses []string
	// WindowStartField and WindowEndField are date-time custom fields
	// holding the change window (Jira Service Management's planned start
	// and end); empty: no window.
	WindowStartField, WindowEndField string
	// ApprovalField: the event approves when its changelog changes this
	// custom field and the field then reads approved.
	ApprovalField string
	// ConfigurationField and AssignmentField hold the Graph keys.
	ConfigurationField, AssignmentField string
	// GroupField and FilterField hold the target's group and filter ids.
	GroupField, FilterField string
	// Tolerance bounds the age of an envelope's signed timestamp (the
	// generic envelope sent by a Jira Automation rule); default 5 minutes,
	// ENROLLHOOK_SIGNATURE_TOLERANCE. Jira's own webhook keeps MaxAge.
	Tolerance time.Duration
	// FilterType is a custom field id or a fixed include|exclude;
	// TargetType a custom field id or a fixed group|exclusion|allUsers|
	// allDevices (default group).
	FilterType, TargetType string
}

// Source authenticates and decodes Jira deliveries.
type Source struct {
	secret string
	opts   Options
	// read are the issue fields Decode reads (readFields): the one pass
	// keeps only these of the issue's fields, which in a real issue are
	// dozens, descriptions and comments among them.
	read []string
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
	if s.opts.Tolerance <= 0 {
		s.opts.Tolerance = signature.DefaultTolerance
	}
	s.read = readFields(&s.opts)
	return s, nil
}

// readFields are the issue fields Decode reads under o, as Decode looks
// them up: the requester's (reporter, else creator), the configuration and
// assignment fields (always, empty names included), every other field o
// names, and the target and filter types when they name a field rather
// than a fixed value.
func readFields(o *Options) []string {
	read := []string{"reporter", "creator"}
	add := func(f string, always bool) {
		if (always || f != "") && !slices.Contains(read, f) {
			read = append(read, f)
		}
	}
	add(o.ConfigurationField, true)
	add(o.AssignmentField, true)
	for _, f := range []string{o.WindowStartField, o.WindowEndField, o.ApprovalField, o.GroupField, o.FilterField} {
		add(f, false)
	}
	for _, f := range []string{o.FilterType, o.TargetType} {
		if sender.IsJiraFieldID(f) {
			add(f, false)
		}
	}
	return read
}

// reads reports whether Decode reads the issue field name.
func (s *Source) reads(name []byte) bool {
	for _, f := range s.read {
		if string(name) == f {
			return true
		}
	}
	return false
}

// Name returns "jira".
func (s *Source) Name() string { return Name }

// Mapped reports whether Jira's own webhook is mapped onto changes.
func (s *Source) Mapped() bool {
	return len(s.opts.ApprovedStatuses) > 0 || len(s.opts.RevertStatuses) > 0 || s.opts.ApprovalField != ""
}

// MaxAge bounds how far the signed body's timestamp (epoch milliseconds)
// may lie from the receiver's clock, either way. Jira retries for up to
// about half an hour; a delivery older than this is a replay, beyond what
// the de-duplication of delivery ids remembers or not.
const MaxAge = time.Hour

// Authenticate checks X-Hub-Signature over the raw body, then parses the
// body, once, into the Delivery's payload, which Decode reads, and checks
// the body's timestamp (epoch milliseconds, signed with the body), which
// every delivery must carry: Jira's own webhook within MaxAge of now (Jira's
// retries re-send the first attempt's body), the generic envelope (Jira
// Automation's "Send web request", whose body sets "timestamp":
// {{now.toMillis}}) within the Tolerance of Options. It returns the delivery
// id: "sha256-" and the first 32 hex digits of the SHA-256 of the signed
// body. Jira's X-Atlassian-Webhook-Identifier is not signed, so an attacker
// who captured one signed body could send it again under any identifier;
// keyed on the body, every copy of one delivery is the same delivery, and a
// retry by Jira (the same body) still finds the first answer. Errors are
// *change.Error with CodeUnauthenticated and Kind signature-missing,
// signature-malformed, body-re-encoded, signature-mismatch or
// timestamp-out-of-window.
func (s *Source) Authenticate(h http.Header, body []byte, now time.Time) (source.Delivery, error) {
	if err := signature.VerifyHub([]string{s.secret}, h.Get(signature.HeaderHubSignature), body); err != nil {
		return source.Delivery{}, words.Refuse(err)
	}
	payload, ts, envelope := s.parse(body)
	window, what := MaxAge, "Jira webhook"
	if envelope {
		window, what = s.opts.Tolerance, "envelope (set \"timestamp\": {{now.toMillis}} in the rule's body)"
	}
	if !signature.Within(ts, now, window) {
		return source.Delivery{}, source.Stale(body, "the body's timestamp must be epoch milliseconds within "+window.String()+" of the receiver's clock for a "+what+"; it is missing, malformed or outside: a replay of an old delivery, or a wrong clock")
	}
	return source.Delivery{ID: DeliveryID(body), Body: body, Payload: payload}, nil
}

// words are the refusals of X-Hub-Signature, which signs no timestamp (the
// body's own is checked by Authenticate).
var words = source.Wording{
	Missing:   "the request needs X-Hub-Signature: sha256=<hex> (register the Jira webhook with a secret)",
	Malformed: "X-Hub-Signature must be sha256= followed by 64 hexadecimal digits",
	Reencoded: "X-Hub-Signature matches the body as Jira signed it, but the body was re-encoded on the way (JSON re-serialized with other whitespace or line endings, still base64, or a newline added); pass the raw bytes through",
	Mismatch:  "X-Hub-Signature does not match the body; check the webhook's secret and that the body is sent exactly as signed",
}

// DeliveryID is the delivery id of a signed body (see Authenticate).
func DeliveryID(body []byte) string {
	sum := sha256.Sum256(body)
	return "sha256-" + hex.EncodeToString(sum[:16])
}

// stamp reads the body's top-level timestamp, epoch milliseconds (zero when
// absent or not a positive integer), and whether the body is the generic
// envelope rather than Jira's own webhook (it has a ticket and no issue).
// It parses the body itself: reading.stamp calls it only when the one parse
// met a wrong JSON type, which need not hide the timestamp.
func stamp(body []byte) (t time.Time, envelope bool) {
	var p struct {
		Timestamp json.RawMessage `json:"timestamp"`
		Ticket    json.RawMessage `json:"ticket"`
		Issue     json.RawMessage `json:"issue"`
	}
	if json.Unmarshal(body, &p) != nil {
		return time.Time{}, false
	}
	return millis(p.Timestamp), len(p.Ticket) > 0 && len(p.Issue) == 0
}

func millis(raw json.RawMessage) time.Time {
	ms, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
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

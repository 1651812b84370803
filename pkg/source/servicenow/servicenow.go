package servicenow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/sender"
	"github.com/enrollhook/enrollhook/pkg/signature"
	"github.com/enrollhook/enrollhook/pkg/source"
)

// Name is the route segment of this sender: POST /hooks/servicenow.
const Name = sender.ServiceNow

// System is the ticket system recorded for ServiceNow changes: the
// sender's name, which the write-back keys on.
const System = sender.ServiceNow

// States are the values of the state field of ServiceNow's
// sysapproval_approver table. Only StateApproved changes anything; the
// others are refused with 403 not-approved naming the state.
const (
	StateNotRequested = "not requested" // sic: the value has a space
	StateRequested    = "requested"
	StateApproved     = "approved"
	StateRejected     = "rejected"
	StateCancelled    = "cancelled"
	StateNotRequired  = "not_required"
	StateSkipped      = "skipped"
)

var knownStates = []string{StateNotRequested, StateRequested, StateApproved, StateRejected, StateCancelled, StateNotRequired, StateSkipped, "duplicate"}

// MinBasicPassword is the shortest password New takes for HTTP Basic, in
// characters.
const MinBasicPassword = 16

// Source authenticates and decodes ServiceNow approval deliveries.
type Source struct {
	key         []byte // Standard Webhooks key; nil with Basic
	basic       signature.BasicCredentials
	tolerance   time.Duration
	words       source.Wording // Standard Webhooks' refusals
	revertState string
}

// Options are the ServiceNow sender's settings. A nil *Options has every
// default.
type Options struct {
	// Tolerance bounds the clock skew of signed timestamps; default 5
	// minutes (ENROLLHOOK_SIGNATURE_TOLERANCE).
	Tolerance time.Duration
	// RevertState is the value of data.record.state (the change request's
	// state as getValue returns it, any letter case) that makes an approved
	// delivery a revert of its ticket: the operator's back-out state
	// (ENROLLHOOK_SERVICENOW_REVERT_STATE). Default empty: only
	// data.intune.action "revert" asks for one.
	RevertState string
}

// New returns the ServiceNow sender with tolerance as Options.Tolerance and
// no RevertState (NewWithOptions).
func New(secret string, tolerance time.Duration) (*Source, error) {
	return NewWithOptions(secret, &Options{Tolerance: tolerance})
}

// NewWithOptions returns the ServiceNow sender. secret is a Standard
// Webhooks secret ("whsec_…" or bare base64 of at least 16 bytes), or
// "basic:<user>:<password>" for HTTP Basic, the password at least
// MinBasicPassword characters. opts may be nil. The error never quotes the
// secret.
func NewWithOptions(secret string, opts *Options) (*Source, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	tolerance := o.Tolerance
	if tolerance <= 0 {
		tolerance = signature.DefaultTolerance
	}
	s, err := newSource(secret, tolerance)
	if err != nil {
		return nil, err
	}
	s.revertState = strings.TrimSpace(o.RevertState)
	return s, nil
}

func newSource(secret string, tolerance time.Duration) (*Source, error) {
	if strings.HasPrefix(secret, "basic:") {
		c, ok := signature.ParseBasicSecret(secret)
		if !ok {
			return nil, errors.New("servicenow: a Basic secret must be basic:<user>:<password> with a non-empty user (no ':') and password")
		}
		if utf8.RuneCountInString(c.Password) < MinBasicPassword {
			// Basic carries no timestamp and signs no body: the password
			// is all there is, so it has to resist guessing.
			return nil, fmt.Errorf("servicenow: the Basic password must be at least %d characters (a long random value)", MinBasicPassword)
		}
		return &Source{basic: c, tolerance: tolerance}, nil
	}
	key, err := signature.StandardKey(secret)
	if errors.Is(err, signature.ErrSecretSpelling) {
		return nil, errors.New("servicenow: the secret's base64 is not in its canonical spelling (a changed last character, a missing '=' or the URL-safe alphabet); set it exactly as generated")
	}
	if err != nil {
		return nil, errors.New("servicenow: the secret must be whsec_ followed by base64 (or bare base64) of at least 16 bytes, or basic:<user>:<password>")
	}
	return &Source{key: key, tolerance: tolerance,
		words: source.Standard(tolerance, "check the instance's clock or sign each attempt anew")}, nil
}

// Name returns "servicenow".
func (s *Source) Name() string { return Name }

// UsesBasic reports whether the sender authenticates with HTTP Basic.
func (s *Source) UsesBasic() bool { return s.key == nil }

// Authenticate checks the delivery over its raw body: the Standard Webhooks
// signature, or the Basic credentials. Only then does it parse the body, once,
// into the Delivery's payload, which Decode reads. The delivery id is the
// approval's sys_id, state and sys_mod_count ("<sys_id>-<state>-<n>",
// stable across retries of one decision and different for the next; with
// "-revert" added for a revert, see Decode), read
// from the authenticated body; webhook-id (Standard Webhooks) or "" (Basic)
// when the body does not name them. Errors are *change.Error with
// CodeUnauthenticated and Kind signature-missing, signature-malformed,
// body-re-encoded, signature-mismatch, timestamp-out-of-window,
// credentials-missing or credentials-mismatch.
func (s *Source) Authenticate(h http.Header, body []byte, now time.Time) (source.Delivery, error) {
	id := ""
	if s.key == nil {
		switch err := signature.VerifyBasic(s.basic, h.Get(signature.HeaderAuthorization)); {
		case err == nil:
		case errors.Is(err, signature.ErrMissing):
			return source.Delivery{}, &change.Error{Code: change.CodeUnauthenticated, Kind: change.KindCredentialsMissing,
				Message: "the request needs an Authorization: Basic header with the user and password configured for ServiceNow", Err: err}
		default:
			return source.Delivery{}, &change.Error{Code: change.CodeUnauthenticated, Kind: change.KindCredentialsMismatch,
				Message: "the Basic credentials do not match the user and password configured for ServiceNow", Err: err}
		}
	} else {
		id = h.Get(signature.HeaderWebhookID)
		if err := signature.VerifyStandard(s.key, id, h.Get(signature.HeaderWebhookTimestamp),
			h.Get(signature.HeaderWebhookSignature), body, now, s.tolerance); err != nil {
			return source.Delivery{}, s.words.Refuse(err)
		}
	}
	rd := readBody(body)
	// Basic signs nothing: the body's own timestamp is the only bound on
	// how long a captured request can be sent again.
	if s.key == nil && !signature.Within(rd.timestamp(), now, s.tolerance) {
		return source.Delivery{}, source.Stale(body, "with Basic authentication the body's \"timestamp\" (RFC 3339, set when the Business Rule sends) must lie within "+s.tolerance.String()+" of the receiver's clock; it is missing, malformed or outside: a replay, or a wrong clock")
	}
	if d := rd.deliveryID(); d != "" {
		id = d
		if s.reverts(rd.record, rd.intune) {
			// A back-out is often sent with the approval that approved
			// the change, unchanged: it is another delivery all the same.
			id += "-" + change.ActionRevert
		}
	}
	return source.Delivery{ID: id, Body: body, Payload: rd}, nil
}

func rfc3339(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

func approvalID(a *Approval) string {
	n, ok := modCount(a.SysModCount)
	if !sender.IsServiceNowSysID(a.SysID) || !ok || !knownState(a.State) {
		return ""
	}
	return strings.ToLower(a.SysID) + "-" + strings.ReplaceAll(strings.ToLower(a.State), " ", "_") + "-" + strconv.FormatInt(n, 10)
}

// modCount reads sys_mod_count as a JSON number or a numeric string (a
// script that reads the field with getValue sends a string): 1 to 10
// digits, nothing else (no sign, fraction or exponent).
func modCount(raw json.RawMessage) (int64, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		s, err := source.Unquote(raw)
		if err != nil {
			return 0, false
		}
		raw = []byte(s)
	}
	if len(raw) == 0 || len(raw) > 10 {
		return 0, false
	}
	for _, c := range raw {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	return n, err == nil
}

// absent reports whether a raw value was not sent: left out, null, or an
// empty string (what getValue gives for an empty field).
func absent(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null" || string(raw) == `""`
}

func knownState(s string) bool {
	for _, k := range knownStates {
		if strings.EqualFold(s, k) {
			return true
		}
	}
	return false
}

// Sign returns the Standard Webhooks headers for body, for the send command
// and tests.
func Sign(secret, id string, ts time.Time, body []byte) (http.Header, error) {
	return source.SignStandard(secret, id, ts, body)
}

// Restamp returns body with its first "timestamp" string set to t (RFC
// 3339, UTC), for the send command: under Basic authentication the body's
// own timestamp is what the receiver checks against its replay window. A
// body without one is returned as it is.
func Restamp(body []byte, t time.Time) []byte {
	const field = `"timestamp"`
	i := bytes.Index(body, []byte(field))
	if i < 0 {
		return body
	}
	j := i + len(field)
	for j < len(body) && (body[j] == ' ' || body[j] == '\t' || body[j] == '\n' || body[j] == '\r' || body[j] == ':') {
		j++
	}
	if j >= len(body) || body[j] != '"' {
		return body
	}
	end := bytes.IndexByte(body[j+1:], '"')
	if end < 0 {
		return body
	}
	out := append([]byte{}, body[:j+1]...)
	out = append(out, t.UTC().Format(time.RFC3339)...)
	return append(out, body[j+1+end:]...)
}

// DevelopmentSecret is the published secret of `make run` and of the
// samples in events/servicenow-*.json: the generic sender's
// (source.StandardDevelopmentSecret), so the same cold-start check refuses
// it outside the emulator. It protects nothing.
const DevelopmentSecret = source.StandardDevelopmentSecret

// IsDevelopmentSecret reports whether secret is DevelopmentSecret in any
// spelling (source.IsStandardDevelopmentSecret). A Basic secret never is:
// none is published.
func IsDevelopmentSecret(secret string) bool { return source.IsStandardDevelopmentSecret(secret) }

package source

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/signature"
)

// Wording is what a sender's refusals say about its own signature scheme:
// which headers it needs, what they must look like, what to check. Each
// message is written for the caller and must never quote a header, a
// signature or a secret. A sender builds its Wording once (New), so a
// refused request costs one allocation.
type Wording struct {
	// Missing answers signature.ErrMissing: the headers the scheme needs.
	Missing string
	// Malformed answers signature.ErrMalformed: the form they must have.
	Malformed string
	// Timestamp answers signature.ErrTimestamp (schemes that sign a
	// timestamp): the window, and what to check. Empty for schemes that do
	// not; should one ever be returned, Mismatch's message answers it.
	Timestamp string
	// Reencoded answers signature.ErrReencoded: the signature matches the
	// body as it was sent, not as it arrived.
	Reencoded string
	// Mismatch answers any other failure.
	Mismatch string
}

// Refuse maps an error of package signature to the sender's refusal: a
// *change.Error with CodeUnauthenticated, the kind that names the failure
// (signature-missing, signature-malformed, timestamp-out-of-window,
// body-re-encoded, signature-mismatch), w's message for it, and err as the
// cause for the operator's log only. It returns nil for a nil err.
func (w *Wording) Refuse(err error) error {
	if err == nil {
		return nil
	}
	kind, msg := change.KindSignatureMismatch, w.Mismatch
	switch {
	case errors.Is(err, signature.ErrMissing):
		kind, msg = change.KindSignatureMissing, w.Missing
	case errors.Is(err, signature.ErrMalformed):
		kind, msg = change.KindSignatureMalformed, w.Malformed
	case errors.Is(err, signature.ErrTimestamp):
		kind, msg = change.KindTimestampOutside, w.Timestamp
	case errors.Is(err, signature.ErrReencoded):
		kind, msg = change.KindBodyReencoded, w.Reencoded
	}
	if msg == "" {
		msg = w.Mismatch
	}
	return &change.Error{Code: change.CodeUnauthenticated, Kind: kind, Message: msg, Err: err}
}

// Standard is the Wording of Standard Webhooks (webhook-id,
// webhook-timestamp, webhook-signature), the scheme of the generic sender
// and of ServiceNow. clock says what to check when the timestamp is outside
// the window of tolerance.
func Standard(tolerance time.Duration, clock string) Wording {
	return Wording{
		Missing:   "the request needs the headers webhook-id, webhook-timestamp and webhook-signature (Standard Webhooks)",
		Malformed: "a Standard Webhooks header is malformed: webhook-timestamp must be unix seconds, webhook-id 1 to 256 bytes of printable characters, webhook-signature a space-separated list with a v1 entry",
		Timestamp: "webhook-timestamp is outside the accepted window of " + tolerance.String() + "; " + clock,
		Reencoded: "a webhook-signature matches the body as it was signed, but the body was re-encoded on the way (JSON re-serialized with other whitespace or line endings, still base64, or a newline added); pass the raw bytes through",
		Mismatch:  "no webhook-signature matches the body; check the secret and that the body is sent exactly as signed",
	}
}

// Stale is the refusal of an authentic body whose own timestamp (what
// bounds its replay) is missing or outside the window: message says so.
// A body that is not a JSON object has no timestamp to read; it is
// refused as malformed instead (400), since its signature was verified and
// "a replay, or a wrong clock" would send its sender looking in the wrong
// place.
func Stale(body []byte, message string) error {
	if !isObject(body) {
		if change.TooDeep(body) {
			return change.Malformed(body, nil)
		}
		return &change.Error{Code: change.CodeMalformed, Message: "the body is not a JSON object (checked once its signature was)"}
	}
	return &change.Error{Code: change.CodeUnauthenticated, Kind: change.KindTimestampOutside, Message: message}
}

// isObject reports whether b is one well-formed JSON object.
func isObject(b []byte) bool {
	t := bytes.TrimLeft(b, " \t\r\n")
	return len(t) > 0 && t[0] == '{' && json.Valid(b)
}

// Repeated is the refusal of an authentic body that sends a field more
// than once, fields naming each as the body names it (a JSON pointer from
// change.DuplicateFields, a form field's name): CodeInvalid, the
// invalid-fields problem the envelope's repeated properties get. A
// decoder keeps one of the values (encoding/json the last, a form's Get
// the first), so a reader of the body could see another user, command or
// text than the one enrollhook would run. what names the body ("the
// activity"); the message names the first field when it is a plain name
// (letters and _ only: a sender's own names), counts the others and
// quotes no value.
func Repeated(what string, fields []change.FieldError) error {
	ce, ok := errors.AsType[*change.Error](change.Invalid(fields...))
	if !ok {
		return nil // no fields
	}
	msg := what + " sends a field more than once"
	if f := ce.Fields[0].Field; plainField().MatchString(f) {
		msg = what + " sends " + f + " more than once"
	}
	if n := len(ce.Fields) - 1; n == 1 {
		msg += " (and 1 other field: see errors)"
	} else if n > 1 {
		msg += " (and " + strconv.Itoa(n) + " other fields: see errors)"
	}
	ce.Message = msg + "; send each once, since only one of the values would be read"
	return ce
}

// plainField is a field Repeated's message may name: a form field or a
// JSON pointer of a few plain names.
var plainField = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^/?[A-Za-z_]{1,32}(/[A-Za-z_]{1,32}){0,5}$`)
})

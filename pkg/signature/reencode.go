package signature

import (
	"bytes"
	"crypto/hmac"
	"encoding/base64"
	"errors"
)

// ErrReencoded: the signature does not match the body received, but it
// matches what that body most likely was before something between the
// sender and the receiver re-encoded it (base64 left undecoded, a form
// re-serialized with other escapes, JSON re-serialized with HTML escapes, a
// newline added). It is still a refusal; the distinct error tells the
// operator to pass the raw bytes through instead of looking for a wrong
// secret. A re-encoding not in this list surfaces as ErrMismatch.
var ErrReencoded = errors.New("signature: the signature matches the body as it was before it was re-encoded, not the body received")

// maxReencodedBody bounds the extra work a refused request can cause.
const maxReencodedBody = 64 << 10

// bodyKind selects the re-encodings worth trying for a body.
type bodyKind int

const (
	formBody bodyKind = iota // application/x-www-form-urlencoded (Slack)
	jsonBody                 // application/json (Teams)
)

// reencoded reports whether mac, computed by sum over a candidate original
// body, equals want for one of the usual re-encodings of body. It is only
// called after the received body failed to verify, and never makes a
// request acceptable.
func reencoded(kind bodyKind, body []byte, want []byte, sum func([]byte) []byte) bool {
	if len(body) == 0 || len(body) > maxReencodedBody {
		return false
	}
	for _, c := range candidates(kind, body) {
		if hmac.Equal(sum(c), want) {
			return true
		}
	}
	return false
}

// candidates returns plausible originals of a re-encoded body, each
// different from body.
func candidates(kind bodyKind, body []byte) [][]byte {
	var out [][]byte
	add := func(c []byte) {
		if !bytes.Equal(c, body) {
			out = append(out, c)
		}
	}
	// Still base64: an API Gateway body used without honouring
	// isBase64Encoded, or encoded twice.
	if dec, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(body))); err == nil && len(dec) > 0 {
		add(dec)
	}
	// A newline appended by a proxy or an encoder (json.Encoder adds one).
	if t := bytes.TrimRight(body, "\r\n"); len(t) != len(body) {
		add(t)
	}
	switch kind {
	case formBody:
		// Forms re-serialized by another library: space as %20 instead
		// of '+', or '*' and '~' escaped differently.
		add(bytes.ReplaceAll(body, []byte("%20"), []byte("+")))
		add(bytes.ReplaceAll(body, []byte("+"), []byte("%20")))
		add(bytes.ReplaceAll(body, []byte("*"), []byte("%2A")))
		add(bytes.ReplaceAll(body, []byte("%2A"), []byte("*")))
		add(bytes.ReplaceAll(body, []byte("%7E"), []byte("~")))
	case jsonBody:
		// JSON re-serialized with HTML escaping (Go's json.Marshal turns
		// the <at> of a Teams mention into \u003cat\u003e) or escaped '/'.
		add(unescapeHTML(body))
		add(bytes.ReplaceAll(body, []byte(`\/`), []byte(`/`)))
	}
	return out
}

func unescapeHTML(b []byte) []byte {
	b = bytes.ReplaceAll(b, []byte(`\u003c`), []byte("<"))
	b = bytes.ReplaceAll(b, []byte(`\u003e`), []byte(">"))
	return bytes.ReplaceAll(b, []byte(`\u0026`), []byte("&"))
}

package signature

import (
	"bytes"
	"crypto/hmac"
	"encoding/base64"
	"encoding/json"
	"errors"
)

// ErrReencoded: the signature does not match the body received, but it
// matches what that body most likely was before something between the
// sender and the receiver re-encoded it (base64 left undecoded, a form
// re-serialized with other escapes, JSON re-serialized with HTML escapes,
// other whitespace or other line endings, a newline added). It is still a refusal; the distinct error tells the
// operator to pass the raw bytes through instead of looking for a wrong
// secret. A re-encoding not in this list surfaces as ErrMismatch.
var ErrReencoded = errors.New("signature: the signature matches the body as it was before it was re-encoded, not the body received")

// maxReencodedBody bounds the extra work a refused request can cause.
const maxReencodedBody = 64 << 10

// bodyKind selects the re-encodings worth trying for a body.
type bodyKind int

const (
	formBody bodyKind = iota // application/x-www-form-urlencoded (Slack)
	jsonBody                 // application/json (Teams, Standard Webhooks, Jira)
)

// reencoded reports whether the signature matches one of the usual
// re-encodings' originals of body: matches is called with each candidate
// original and compares its MAC with the signature(s) received, in constant
// time. It is only called after the received body failed to verify, and
// never makes a request acceptable.
func reencoded(kind bodyKind, body []byte, matches func(original []byte) bool) bool {
	if len(body) == 0 || len(body) > maxReencodedBody {
		return false
	}
	for _, c := range candidates(kind, body) {
		if matches(c) {
			return true
		}
	}
	return false
}

// macMatches returns a matcher for reencoded: the MAC sum computes over a
// candidate equals one of want.
func macMatches(sum func([]byte) []byte, want ...[]byte) func([]byte) bool {
	return func(c []byte) bool {
		m := sum(c)
		ok := false
		for _, w := range want {
			if hmac.Equal(m, w) {
				ok = true
			}
		}
		return ok
	}
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
		if t, ok := bytes.CutSuffix(body, []byte("\n")); ok && bytes.HasSuffix(t, []byte("\n")) {
			add(t) // one added to a body that ended with a newline already
		}
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
		// Line endings converted to CRLF on the way.
		if bytes.Contains(body, []byte("\r\n")) {
			add(bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n")))
		}
		// The same JSON with other insignificant whitespace: signed
		// compact and pretty-printed on the way, or signed in one of the
		// common layouts (Python's ", " and ": " separators, an indent of
		// two or four spaces) and compacted on the way. Reordered keys
		// cannot be undone and surface as ErrMismatch.
		var compact bytes.Buffer
		if json.Compact(&compact, body) == nil {
			c := compact.Bytes()
			add(c)
			add(spaced(c))
			for _, indent := range []string{"  ", "    "} {
				var b bytes.Buffer
				if json.Indent(&b, c, "", indent) == nil {
					add(b.Bytes())
				}
			}
		}
	}
	return out
}

// spaced writes compact JSON with a space after each ',' and ':' outside
// strings, the layout of Python's json.dumps by default.
func spaced(compact []byte) []byte {
	out := make([]byte, 0, len(compact)+len(compact)/8)
	in, esc := false, false
	for _, c := range compact {
		out = append(out, c)
		switch {
		case in && esc:
			esc = false
		case in && c == '\\':
			esc = true
		case c == '"':
			in = !in
		case !in && (c == ',' || c == ':'):
			out = append(out, ' ')
		}
	}
	return out
}

func unescapeHTML(b []byte) []byte {
	b = bytes.ReplaceAll(b, []byte(`\u003c`), []byte("<"))
	b = bytes.ReplaceAll(b, []byte(`\u003e`), []byte(">"))
	return bytes.ReplaceAll(b, []byte(`\u0026`), []byte("&"))
}

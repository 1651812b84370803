package signature

import (
	"bytes"
	"crypto/hmac"
	"encoding/base64"
	"encoding/json"
	"errors"
	"sync"
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
// never makes a request acceptable. A forged request comes this way, so
// the candidates are built in two reused buffers, and only those that can
// differ from body are built at all.
func reencoded(kind bodyKind, body []byte, matches func(original []byte) bool) bool {
	if len(body) == 0 || len(body) > maxReencodedBody {
		return false
	}
	s := scratchPool.Get().(*scratch)
	defer scratchPool.Put(s)
	found := false
	eachCandidate(kind, body, s, func(c []byte) bool {
		found = matches(c)
		return !found
	})
	return found
}

// scratch holds the candidates being tried.
type scratch struct{ a, b []byte }

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

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

// eachCandidate calls try with plausible originals of a re-encoded body,
// each different from body, until try returns false. A candidate is only
// valid during its call.
func eachCandidate(kind bodyKind, body []byte, s *scratch, try func(original []byte) bool) {
	next := func(c []byte) bool { return bytes.Equal(c, body) || try(c) }
	replace := func(old, new string) bool {
		if !bytes.Contains(body, []byte(old)) {
			return true
		}
		s.a = appendReplaced(s.a[:0], body, old, new)
		return next(s.a)
	}
	// Still base64: an API Gateway body used without honouring
	// isBase64Encoded, or encoded twice.
	if t := bytes.TrimSpace(body); base64Text(t) {
		if dec, err := base64.StdEncoding.AppendDecode(s.a[:0], t); err == nil && len(dec) > 0 {
			s.a = dec
			if !next(dec) {
				return
			}
		}
	}
	// A newline appended by a proxy or an encoder (json.Encoder adds one).
	if t := bytes.TrimRight(body, "\r\n"); len(t) != len(body) {
		if !next(t) {
			return
		}
		if t, ok := bytes.CutSuffix(body, []byte("\n")); ok && bytes.HasSuffix(t, []byte("\n")) {
			if !next(t) { // one added to a body that ended with a newline already
				return
			}
		}
	}
	switch kind {
	case formBody:
		// Forms re-serialized by another library: space as %20 instead
		// of '+', or '*' and '~' escaped differently.
		_ = replace("%20", "+") && replace("+", "%20") && replace("*", "%2A") && replace("%2A", "*") && replace("%7E", "~")
	case jsonBody:
		// JSON re-serialized with HTML escaping (Go's json.Marshal turns
		// the <at> of a Teams mention into \u003cat\u003e) or escaped '/'.
		if bytes.Contains(body, []byte(`\u00`)) {
			s.a = unescapeHTML(append(s.a[:0], body...))
			if !next(s.a) {
				return
			}
		}
		if !replace(`\/`, `/`) {
			return
		}
		// Line endings converted to CRLF on the way.
		if !replace("\r\n", "\n") {
			return
		}
		// The same JSON with other insignificant whitespace: signed
		// compact and pretty-printed on the way, or signed in one of the
		// common layouts (Python's ", " and ": " separators, an indent of
		// two or four spaces) and compacted on the way. Reordered keys
		// cannot be undone and surface as ErrMismatch.
		compact := bytes.NewBuffer(s.a[:0])
		if json.Compact(compact, body) != nil {
			return
		}
		c := compact.Bytes()
		s.a = c
		if !next(c) {
			return
		}
		s.b = appendSpaced(s.b[:0], c)
		if !next(s.b) {
			return
		}
		for _, indent := range []string{"  ", "    "} {
			b := bytes.NewBuffer(s.b[:0])
			if json.Indent(b, c, "", indent) == nil {
				s.b = b.Bytes()
				if !next(s.b) {
					return
				}
			}
		}
	}
}

// base64Text reports whether b could be standard base64, line breaks
// allowed as the decoder allows them (a JSON or form body cannot), before
// anything is decoded.
func base64Text(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '=' || c == '\r' || c == '\n') {
			return false
		}
	}
	return true
}

// appendReplaced appends b with every old replaced by new to dst.
func appendReplaced(dst, b []byte, old, new string) []byte {
	for {
		i := bytes.Index(b, []byte(old))
		if i < 0 {
			return append(dst, b...)
		}
		dst = append(append(dst, b[:i]...), new...)
		b = b[i+len(old):]
	}
}

// appendSpaced appends compact JSON with a space after each ',' and ':'
// outside strings, the layout of Python's json.dumps by default.
func appendSpaced(out, compact []byte) []byte {
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

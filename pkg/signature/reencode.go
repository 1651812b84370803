package signature

import (
	"bytes"
	"crypto/hmac"
	"encoding/base64"
	"errors"
	"sync"
	"time"
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
//
// The check also spends from the process's hashing budget (diagnoses): a
// flood of forged deliveries soon finds it spent and gets ErrMismatch at
// the cost of one MAC, while a sender whose every delivery is re-encoded
// on the way still gets the distinct error on most of them.
func reencoded(kind bodyKind, body []byte, matches func(original []byte) bool) bool {
	return diagnoses.reencoded(kind, body, matches)
}

func (b *hashBudget) reencoded(kind bodyKind, body []byte, matches func(original []byte) bool) bool {
	if len(body) == 0 || len(body) > maxReencodedBody || !b.allow(len(body)) {
		return false
	}
	s := scratchPool.Get().(*scratch)
	defer scratchPool.Put(s)
	found, hashed := false, 0
	eachCandidate(kind, body, s, func(c []byte) bool {
		hashed += len(c)
		found = matches(c)
		return !found
	})
	b.spend(hashed)
	return found
}

// diagnosisBytesPerSecond is how many bytes of candidates the re-encoding
// check may hash per second in one process, and its burst: 4 MiB, a few
// milliseconds of one core. A delivery of a typical size (under 2 KiB,
// about 6 candidates) takes some 12 KiB of it, so several hundred refused
// deliveries a second still get the full diagnosis.
const diagnosisBytesPerSecond = 4 << 20

// diagnoses is the process's budget for the re-encoding check.
var diagnoses = hashBudget{rate: diagnosisBytesPerSecond, burst: diagnosisBytesPerSecond, now: time.Now}

// hashBudget is a token bucket of bytes to hash, refilled at rate per
// second up to burst. pkg/limiter is not it: that one counts whole writes
// in a sliding window and waits for a slot, this one weighs bytes and
// never waits (a check that does not fit is skipped).
type hashBudget struct {
	rate, burst float64
	now         func() time.Time

	mu    sync.Mutex
	avail float64
	last  time.Time
}

// allow reports whether a check of a body of n bytes may start: the budget
// holds at least n (the cost of its first candidate).
func (b *hashBudget) allow(n int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if b.last.IsZero() {
		b.avail = b.burst
	} else if d := now.Sub(b.last); d > 0 {
		b.avail = min(b.burst, b.avail+d.Seconds()*b.rate)
	}
	b.last = now
	return b.avail >= float64(n)
}

// spend takes n bytes hashed from the budget; it may go below zero, which
// the refill pays back before the next check.
func (b *hashBudget) spend(n int) {
	b.mu.Lock()
	b.avail -= float64(n)
	b.mu.Unlock()
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
		// The layouts are written by hand in one pass each, as
		// json.Compact and json.Indent write them (layout_test.go holds
		// them to it); encoding/json's scanner made them most of the cost
		// of a forged request. A body that is not JSON gets them too: it
		// costs a few MACs, and a signature over one of them still means
		// the body was re-laid out on the way.
		s.a = appendCompact(s.a[:0], body)
		c := s.a
		if !next(c) {
			return
		}
		s.b = appendSpaced(s.b[:0], c)
		if !next(s.b) {
			return
		}
		for _, indent := range []string{"  ", "    "} {
			s.b = appendIndented(s.b[:0], c, indent)
			if !next(s.b) {
				return
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

// stringEnd returns the index after the JSON string that starts at
// b[i] == '"' (len(b) when it does not end).
func stringEnd(b []byte, i int) int {
	for j := i + 1; ; {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return len(b)
		}
		q := j + k
		// The quote ends the string unless an odd run of backslashes
		// escapes it.
		n := 0
		for p := q - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return q + 1
		}
		j = q + 1
	}
}

// The layouts below copy strings and runs of other characters whole,
// rather than byte by byte.

// appendCompact appends b without the JSON whitespace outside strings: for
// valid JSON, what json.Compact writes.
func appendCompact(out, b []byte) []byte {
	for i := 0; i < len(b); {
		j := i
		for j < len(b) && b[j] != '"' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
			j++
		}
		out = append(out, b[i:j]...)
		switch {
		case j == len(b):
			return out
		case b[j] == '"':
			end := stringEnd(b, j)
			out = append(out, b[j:end]...)
			i = end
		default:
			i = j + 1
		}
	}
	return out
}

// appendIndented appends compact JSON with each element on a line of its
// own, indented by indent per level: for valid compact JSON, what
// json.Indent writes with no prefix.
func appendIndented(out, compact []byte, indent string) []byte {
	depth := 0
	open := false // just after '{' or '['
	for i := 0; i < len(compact); {
		c := compact[i]
		if open && c != '}' && c != ']' {
			// The first element of a non-empty object or array.
			open = false
			depth++
			out = appendNewline(out, indent, depth)
		}
		switch c {
		case '"':
			end := stringEnd(compact, i)
			out = append(out, compact[i:end]...)
			i = end
			continue
		case '{', '[':
			open = true
			out = append(out, c)
		case ',':
			out = append(out, c)
			out = appendNewline(out, indent, depth)
		case ':':
			out = append(out, c, ' ')
		case '}', ']':
			if open {
				open = false // empty: {} or []
			} else {
				depth--
				out = appendNewline(out, indent, depth)
			}
			out = append(out, c)
		default:
			// A number or a literal, up to the next structural character.
			j := i + 1
			for j < len(compact) && !structural(compact[j]) {
				j++
			}
			out = append(out, compact[i:j]...)
			i = j
			continue
		}
		i++
	}
	return out
}

func structural(c byte) bool {
	return c == '"' || c == '{' || c == '[' || c == '}' || c == ']' || c == ',' || c == ':'
}

func appendNewline(out []byte, indent string, depth int) []byte {
	out = append(out, '\n')
	for range depth {
		out = append(out, indent...)
	}
	return out
}

// appendSpaced appends compact JSON with a space after each ',' and ':'
// outside strings, the layout of Python's json.dumps by default.
func appendSpaced(out, compact []byte) []byte {
	for i := 0; i < len(compact); {
		j := i
		for j < len(compact) && compact[j] != '"' && compact[j] != ',' && compact[j] != ':' {
			j++
		}
		out = append(out, compact[i:j]...)
		switch {
		case j == len(compact):
			return out
		case compact[j] == '"':
			end := stringEnd(compact, j)
			out = append(out, compact[j:end]...)
			i = end
		default:
			out = append(out, compact[j], ' ')
			i = j + 1
		}
	}
	return out
}

func unescapeHTML(b []byte) []byte {
	b = bytes.ReplaceAll(b, []byte(`\u003c`), []byte("<"))
	b = bytes.ReplaceAll(b, []byte(`\u003e`), []byte(">"))
	return bytes.ReplaceAll(b, []byte(`\u0026`), []byte("&"))
}

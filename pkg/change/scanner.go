package change

import (
	"bytes"
	"unicode/utf8"
)

// Scanner reads a sender's own body in one pass, for an adapter whose
// payload is not the envelope: the adapter walks the objects it knows with
// Members, reads their values with String, Raw, Skip or Target (an
// assignment target, read as DecodeTarget reads one), and learns in the
// same pass whether the body is well-formed JSON (Err), whether any object
// at any depth holds a name twice, compared as DuplicateFields compares
// them (Repeated), and whether only white space follows (End). Strings are
// unescaped as encoding/json unescapes them. It is the envelope reader's
// machinery, so it accepts exactly the JSON that encoding/json accepts.
type Scanner struct {
	d        reader
	repeated bool
}

// NewScanner returns a Scanner at the start of body.
func NewScanner(body []byte) *Scanner {
	s := &Scanner{}
	s.d.b = body
	return s
}

// Peek returns the first byte of the next value, after white space; 0 at
// the end of the body or after an error.
func (s *Scanner) Peek() byte {
	s.d.space()
	if s.d.err != nil || s.d.i >= len(s.d.b) {
		return 0
	}
	return s.d.b[s.d.i]
}

// Members walks the object at the next value, calling each with every
// member's name (unescaped; valid only during the call), which must read
// the member's value (String, Raw, Skip or Members) before it returns. It
// reports false when the value is not an object, the body is not
// well-formed there, or each returned false (the walk stops).
func (s *Scanner) Members(each func(name []byte) bool) bool {
	d := &s.d
	if s.Peek() != '{' || !d.enter() {
		return false
	}
	if d.closes('}') {
		return true
	}
	var seen names
	for d.err == nil {
		d.space()
		name := d.key()
		if d.err != nil {
			return false
		}
		if seen.add(name) {
			s.repeated = true
		}
		if !d.colon() || !each(name) || d.err != nil {
			return false
		}
		if !d.next('}') {
			return d.err == nil
		}
	}
	return false
}

// Elements walks the array at the next value, calling each for every
// element, which must read it (String, Raw, Skip or Members) before it
// returns. It reports false when the value is not an array, the body is not
// well-formed there, or each returned false (the walk stops).
func (s *Scanner) Elements(each func() bool) bool {
	d := &s.d
	if s.Peek() != '[' || !d.enter() {
		return false
	}
	if d.closes(']') {
		return true
	}
	for d.err == nil {
		d.space()
		if !each() || d.err != nil {
			return false
		}
		if !d.next(']') {
			return d.err == nil
		}
	}
	return false
}

// String reads the next value as a string; ok is false when it is not one
// (nothing is read then) or is not well-formed.
func (s *Scanner) String() (v string, ok bool) {
	if s.Peek() != '"' {
		return "", false
	}
	raw, escaped := s.d.str()
	if s.d.err != nil {
		return "", false
	}
	if !escaped && utf8.Valid(raw) {
		return string(raw), true
	}
	var tmp [256]byte
	return string(appendUnescaped(tmp[:0], raw)), true
}

// Raw walks the next value, whatever it is, and returns its bytes as they
// are in the body (json.RawMessage's, but not a copy: they are the body's);
// ok is false when it is not well-formed.
func (s *Scanner) Raw() (raw []byte, ok bool) {
	if s.Peek() == 0 {
		return nil, false
	}
	start := s.d.i
	if !s.Skip() {
		return nil, false
	}
	return s.d.b[start:s.d.i], true
}

// Skip walks the next value, whatever it is (names repeated inside it
// count for Repeated); false when it is not well-formed.
func (s *Scanner) Skip() bool {
	if s.Peek() == 0 {
		return false
	}
	s.d.value(nil)
	if len(s.d.dups) > 0 {
		s.repeated = true
	}
	return s.d.err == nil
}

// SkipOther skips the value of a property an adapter does not read, and
// reports false, skipping nothing, when name is one of known in another
// letter case or is not ASCII: encoding/json could match such a name to a
// field by case folding, and the adapter reads the body with encoding/json
// instead.
func (s *Scanner) SkipOther(name []byte, known ...string) bool {
	for _, c := range name {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	for _, k := range known {
		if bytes.EqualFold(name, []byte(k)) {
			return false
		}
	}
	return s.Skip()
}

// End reports whether the body was well-formed up to here and only white
// space follows.
func (s *Scanner) End() bool {
	s.d.end()
	return s.d.err == nil
}

// Repeated reports whether an object the scanner walked (with Members, or
// inside a value it skipped) held a name twice.
func (s *Scanner) Repeated() bool { return s.repeated }

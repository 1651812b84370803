package graph

// validObject reports whether p is one JSON object, with only white space
// around it: what encoding/json.Valid accepts of a body that starts with
// '{' (strings are not checked for valid UTF-8, nesting stops at the same
// depth), in one pass without allocating for objects less than 64 deep.
// FuzzValidObject holds it to encoding/json.
func validObject(p []byte) bool {
	s := scanner{b: p}
	s.space()
	if s.i >= len(p) || p[s.i] != '{' {
		return false
	}
	if !s.value() {
		return false
	}
	s.space()
	return s.i == len(p)
}

// maxNesting is encoding/json's limit on arrays and objects open at once.
const maxNesting = 10000

// scanner walks JSON values. open holds, per array or object open, whether
// it is an object; the first 64 levels fit in a word.
type scanner struct {
	b     []byte
	i     int
	depth int
	low   uint64 // bit d: level d is an object (d < 64)
	high  []bool // levels from 64 on
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) push(object bool) bool {
	if s.depth >= maxNesting {
		return false
	}
	if s.depth < 64 {
		if object {
			s.low |= 1 << s.depth
		} else {
			s.low &^= 1 << s.depth
		}
	} else {
		s.high = append(s.high[:s.depth-64], object)
	}
	s.depth++
	return true
}

func (s *scanner) inObject() bool {
	d := s.depth - 1
	if d < 64 {
		return s.low&(1<<d) != 0
	}
	return s.high[d-64]
}

// value walks one value at s.i (after white space), with everything it
// contains, iteratively.
func (s *scanner) value() bool {
	start := s.depth
	for {
		// A value.
		if s.i >= len(s.b) {
			return false
		}
		switch c := s.b[s.i]; {
		case c == '{':
			s.i++
			if !s.push(true) {
				return false
			}
			s.space()
			if s.i < len(s.b) && s.b[s.i] == '}' {
				s.i++
				s.depth--
				break
			}
			if !s.key() {
				return false
			}
			continue
		case c == '[':
			s.i++
			if !s.push(false) {
				return false
			}
			s.space()
			if s.i < len(s.b) && s.b[s.i] == ']' {
				s.i++
				s.depth--
				break
			}
			continue
		case c == '"':
			if !s.str() {
				return false
			}
		case c == 't':
			if !s.literal("true") {
				return false
			}
		case c == 'f':
			if !s.literal("false") {
				return false
			}
		case c == 'n':
			if !s.literal("null") {
				return false
			}
		case c == '-' || '0' <= c && c <= '9':
			if !s.number() {
				return false
			}
		default:
			return false
		}
		// After a value: the next element or member, or the ends of the
		// arrays and objects it closes.
		for {
			if s.depth == start {
				return true
			}
			s.space()
			if s.i >= len(s.b) {
				return false
			}
			c := s.b[s.i]
			s.i++
			if c == ',' {
				s.space()
				if s.inObject() && !s.key() {
					return false
				}
				break
			}
			if s.inObject() && c != '}' || !s.inObject() && c != ']' {
				return false
			}
			s.depth--
		}
	}
}

// key walks a member's name and its colon, up to its value.
func (s *scanner) key() bool {
	if s.i >= len(s.b) || s.b[s.i] != '"' || !s.str() {
		return false
	}
	s.space()
	if s.i >= len(s.b) || s.b[s.i] != ':' {
		return false
	}
	s.i++
	s.space()
	return true
}

// str walks the string at s.i == '"'.
func (s *scanner) str() bool {
	b := s.b
	for i := s.i + 1; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '"':
			s.i = i + 1
			return true
		case c < 0x20:
			return false
		case c == '\\':
			i++
			if i >= len(b) {
				return false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) {
					return false
				}
				for _, h := range b[i+1 : i+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return false
					}
				}
				i += 4
			default:
				return false
			}
		}
	}
	return false
}

func (s *scanner) literal(word string) bool {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return false
	}
	s.i += len(word)
	return true
}

// number walks -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() bool {
	b := s.b
	if b[s.i] == '-' {
		s.i++
	}
	digits := func() bool {
		from := s.i
		for s.i < len(b) && '0' <= b[s.i] && b[s.i] <= '9' {
			s.i++
		}
		return s.i > from
	}
	if s.i < len(b) && b[s.i] == '0' {
		s.i++
	} else if !digits() {
		return false
	}
	if s.i < len(b) && b[s.i] == '.' {
		s.i++
		if !digits() {
			return false
		}
	}
	if s.i < len(b) && (b[s.i] == 'e' || b[s.i] == 'E') {
		s.i++
		if s.i < len(b) && (b[s.i] == '+' || b[s.i] == '-') {
			s.i++
		}
		if !digits() {
			return false
		}
	}
	return true
}

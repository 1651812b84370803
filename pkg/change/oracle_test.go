package change

// The two-pass Decode this package had before its one-pass reader
// (decode.go), kept word for word as the oracle FuzzDecodeMatchesOracle
// compares Decode with: json.Unmarshal into a Request, then a second walk
// over the body for repeated and unknown properties.

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
)

// The allowed properties as the old Decode spelled them.
var (
	oracleAssignmentKeys = []string{"@odata.type", "id", "target", "source", "sourceId"}
	oracleTargetKeys     = []string{"@odata.type", "groupId", "collectionId", "targetType", "entraObjectId",
		"deviceAndAppManagementAssignmentFilterId", "deviceAndAppManagementAssignmentFilterType"}
)

// oracleDecode is the old Decode. It parses the generic envelope and validates every field. It returns
// a *Error with CodeMalformed when body is not JSON, and CodeInvalid with all
// field errors, sorted by field, when it is JSON but not a valid change.
// Unknown properties inside "assignment" are refused, so a typo never
// becomes a silent no-op; unknown top-level properties are ignored so
// senders may add their own metadata.
//
// The body is decoded once, into the one Request every later step reads;
// the duplicate- and unknown-property checks share one walk over its
// structure (scanKeys), which allocates only for what it reports.
func oracleDecode(body []byte, opts *Options) (*Request, error) {
	var r Request
	if err := json.Unmarshal(body, &r); err != nil {
		var typeErr *json.UnmarshalTypeError
		if !errors.As(err, &typeErr) {
			// encoding/json's own word for a body nested too deeply,
			// apart from the reader's (TooDeep) that Decode goes by.
			if se, ok := errors.AsType[*json.SyntaxError](err); ok && strings.Contains(se.Error(), "exceeded max depth") {
				return nil, &Error{Code: CodeMalformed, Message: MessageTooDeep, Err: err}
			}
			return nil, &Error{Code: CodeMalformed, Message: MessageNotJSON, Err: err}
		}
		if typeErr.Field == "" {
			return nil, invalid(FieldError{Field: "", Reason: "the body must be a JSON object"})
		}
		var fields []FieldError
		keys := oracleScanKeys(body)
		// A wrong type anywhere inside the assignment leaves no assignment
		// to name unknown properties of; elsewhere they are reported with it.
		var plain Assignment
		if keys.assignment == nil || json.Unmarshal(keys.assignment, &plain) == nil {
			fields = keys.unknown()
		}
		fields = append(fields, FieldError{Field: jsonPathPointer(typeErr.Field), Reason: "must be a " + jsonKind(typeErr.Type)})
		return nil, invalid(fields...)
	}
	keys := oracleScanKeys(body)
	fields := keys.unknown()
	for _, p := range keys.dups {
		fields = append(fields, FieldError{Field: p, Reason: "appears more than once; send each property once"})
	}
	fields = append(fields, r.check(opts)...)
	if len(fields) > 0 {
		return nil, invalid(fields...)
	}
	r.Normalize()
	// The dry run the body asks for: a top-level property spelled like
	// the flag whose value asks for one (as the events function read it
	// before Decode did).
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) == nil {
		for k, v := range top {
			if IsDryRunName(k) && AsksDryRun(v) {
				r.DryRun = true
			}
		}
	}
	return &r, nil
}

// duplicateKeys returns a JSON pointer for every property that appears twice
// in the same object, at any depth of the valid JSON body. encoding/json
// keeps the last one silently, so a reviewer reading the first would see
// another change than the one Graph gets.
func oracleDuplicateKeys(body []byte) []string { return oracleScanKeys(body).dups }

// keys is what scanKeys found in an envelope.
type oracleKeys struct {
	// dups are the pointers of properties repeated in one object
	// (duplicateKeys).
	dups []string
	// assignmentKeys and targetKeys are the properties of /assignment and
	// /assignment/target that are not theirs, unescaped; as encoding/json
	// does, the last "assignment" (and its last "target") counts, matched
	// ignoring case.
	assignmentKeys, targetKeys []string
	// assignment is the raw value of that last "assignment", nil if none.
	assignment []byte
}

// unknown reports the unknown properties of the assignment and its target.
func (k *oracleKeys) unknown() []FieldError {
	var out []FieldError
	for _, key := range k.assignmentKeys {
		out = append(out, unknownField("/assignment", key, oracleAssignmentKeys))
	}
	for _, key := range k.targetKeys {
		out = append(out, unknownField("/assignment/target", key, oracleTargetKeys))
	}
	return out
}

// The roles of an object in the envelope, for scanKeys.
const (
	oracleRoleOther = iota
	oracleRoleEnvelope
	oracleRoleAssignment
	oracleRoleTarget
)

// oracleSegment is one step of the pointer to the value being scanned: an
// object's property (key) or an array's element (index).
type oracleSegment struct {
	key   []byte
	index int
}

// oracleScanner walks a valid JSON body once. The pointer to where it is
// stays a stack of oracleSegments, turned into text only for a duplicate: the
// first levels in an array inside the scanner (a slice of it would move it
// to the heap), deeper ones in deep.
type oracleScanner struct {
	b     []byte
	depth int
	path  [8]oracleSegment
	deep  []oracleSegment
	keys  oracleKeys
}

func (s *oracleScanner) push(seg oracleSegment) {
	if s.depth < len(s.path) {
		s.path[s.depth] = seg
	} else {
		s.deep = append(s.deep, seg)
	}
	s.depth++
}

func (s *oracleScanner) pop() {
	s.depth--
	if s.depth >= len(s.path) {
		s.deep = s.deep[:len(s.deep)-1]
	}
}

// scanKeys walks the valid JSON body once, finding repeated properties at
// any depth and the unknown properties of the envelope's assignment and
// target.
func oracleScanKeys(body []byte) oracleKeys {
	s := oracleScanner{b: body}
	s.value(skipSpace(body, 0), oracleRoleEnvelope)
	return s.keys
}

// pointer is the JSON pointer of the current path.
func (s *oracleScanner) pointer() string {
	var p strings.Builder
	for i := range s.depth {
		seg := s.path[min(i, len(s.path)-1)]
		if i >= len(s.path) {
			seg = s.deep[i-len(s.path)]
		}
		p.WriteByte('/')
		if seg.key == nil {
			p.WriteString(strconv.Itoa(seg.index))
		} else {
			p.WriteString(escapePointer(truncate(string(seg.key), 64)))
		}
	}
	return p.String()
}

// value walks the value at b[i] and returns the index after it.
func (s *oracleScanner) value(i int, role int) int {
	b := s.b
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '{':
		return s.object(i, role)
	case '[':
		i++
		for n := 0; ; n++ {
			i = skipSpace(b, i)
			if i >= len(b) || b[i] == ']' {
				return i + 1
			}
			s.push(oracleSegment{index: n})
			i = s.value(i, oracleRoleOther)
			s.pop()
			i = skipSpace(b, i)
			if i < len(b) && b[i] == ',' {
				i++
			}
		}
	default:
		return skipValue(b, i)
	}
}

// object walks the object at b[i] == '{' and returns the index after it.
func (s *oracleScanner) object(i int, role int) int {
	b := s.b
	var seenBuf [16][]byte
	seen := seenBuf[:0]
	i++
	for {
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != '"' {
			return i + 1 // past '}'
		}
		end := skipString(b, i)
		key := b[i+1 : end-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			var k string
			if json.Unmarshal(b[i:end], &k) != nil {
				return len(b)
			}
			key = []byte(k)
		}
		s.push(oracleSegment{key: key})
		dup := false
		for _, prev := range seen {
			if bytes.EqualFold(prev, key) { // encoding/json matches names ignoring case
				dup = true
				break
			}
		}
		if dup {
			if p := s.pointer(); !contains(s.keys.dups, p) {
				s.keys.dups = append(s.keys.dups, p)
			}
		} else {
			seen = append(seen, key)
		}
		child := oracleRoleOther
		switch role {
		case oracleRoleEnvelope:
			if bytes.EqualFold(key, []byte("assignment")) {
				child = oracleRoleAssignment
				s.keys.assignmentKeys, s.keys.targetKeys = nil, nil // the last one counts
			}
		case oracleRoleAssignment:
			// A name is known when spelled exactly; encoding/json still
			// decodes another case of "target" into the target.
			if !containsKey(oracleAssignmentKeys, key) {
				s.keys.assignmentKeys = append(s.keys.assignmentKeys, string(key))
			}
			if bytes.EqualFold(key, []byte("target")) {
				child = oracleRoleTarget
				s.keys.targetKeys = nil
			}
		case oracleRoleTarget:
			if !containsKey(oracleTargetKeys, key) {
				s.keys.targetKeys = append(s.keys.targetKeys, string(key))
			}
		}
		start := skipSpace(b, skipSpace(b, end)+1)
		i = s.value(start, child)
		if child == oracleRoleAssignment && start < len(b) && start < i {
			s.keys.assignment = b[start:min(i, len(b))]
		}
		s.pop()
		i = skipSpace(b, i)
		if i < len(b) && b[i] == ',' {
			i++
		}
	}
}

// The scanner helpers of the old decoder, used only by the oracles.

// unknownKeys returns the names of the properties of the JSON object b that
// are not in allowed. b has already been decoded (it is valid JSON), so a
// small scanner over the object's top-level keys is enough; a key is only
// unescaped when unknown.
func unknownKeys(b []byte, allowed []string) []string {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil
	}
	var out []string
	i++
	for {
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != '"' {
			return out // '}' or the end
		}
		end := skipString(b, i)
		raw := b[i:end]
		if !containsKey(allowed, raw[1:len(raw)-1]) {
			var k string
			if json.Unmarshal(raw, &k) == nil && !contains(allowed, k) {
				out = append(out, k)
			}
		}
		i = skipSpace(b, end)
		i = skipValue(b, skipSpace(b, i+1)) // past ':' and the value
		i = skipSpace(b, i)
		if i < len(b) && b[i] == ',' {
			i++
		}
	}
}

func containsKey(list []string, k []byte) bool {
	for _, x := range list {
		if x == string(k) {
			return true
		}
	}
	return false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// skipValue returns the index after the value starting at b[i].
func skipValue(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		switch c := b[i]; c {
		case '"':
			i = skipString(b, i)
			if depth == 0 {
				return i
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i
			}
			depth--
			if depth == 0 {
				return i + 1
			}
		case ',':
			if depth == 0 {
				return i
			}
		}
		i++
	}
	return i
}

package change

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"
)

// Options tune Decode. A nil *Options means the defaults.
type Options struct {
	// GraphVersion is "beta" (default) or "v1.0". On v1.0 the beta-only
	// properties (source, sourceId, the filter properties) are refused
	// instead of being sent to a Graph that does not know them.
	GraphVersion string
}

var (
	cmCollectionRE = regexp.MustCompile(`^[A-Za-z0-9]{8}$`)
	validate       = newValidator()
)

// dotStandIn replaces '.' inside JSON names (as in "@odata.type") while the
// validator builds its dotted namespace; pointer() turns it back.
const dotStandIn = "\u2024"

func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			return ""
		}
		return strings.ReplaceAll(name, ".", dotStandIn)
	})
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	must(v.RegisterValidation("graphkey", func(fl validator.FieldLevel) bool {
		return ValidKey(fl.Field().String())
	}))
	must(v.RegisterValidation("cmcollection", func(fl validator.FieldLevel) bool {
		return ValidCollectionID(fl.Field().String())
	}))
	must(v.RegisterValidation("safetext", func(fl validator.FieldLevel) bool {
		return safeText(fl.Field().String())
	}))
	v.RegisterStructValidation(validateTarget, Target{})
	v.RegisterStructValidation(validateTicket, Ticket{})
	return v
}

// ValidKey reports whether s may be used as a Graph key in a URL path:
// letters, digits, '-' and '_', 1 to 256 characters. Everything that could
// change the path ('/', '..', '?', '%', control characters) is outside.
func ValidKey(s string) bool {
	if len(s) == 0 || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// ValidCollectionID reports whether s is a Configuration Manager
// collection id (eight letters or digits, as SMS00001), the form a
// collectionId must have.
func ValidCollectionID(s string) bool { return cmCollectionRE.MatchString(s) }

func safeText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// structOf is the struct a struct-level rule is checking, by pointer when
// it is addressable (no copy into an interface).
func structOf[T any](sl validator.StructLevel) *T {
	if v := sl.Current(); v.CanAddr() {
		return v.Addr().Interface().(*T)
	}
	t := sl.Current().Interface().(T)
	return &t
}

func validateTarget(sl validator.StructLevel) {
	t := structOf[Target](sl)
	typ := normalizeType(t.ODataType)
	sub, known := Subtypes[typ]
	if t.ODataType == "" {
		sl.ReportError(t.ODataType, "@odata"+dotStandIn+"type", "ODataType", "required", "")
		return
	}
	if !known {
		sl.ReportError(t.ODataType, "@odata"+dotStandIn+"type", "ODataType", "targettype", "")
		return
	}
	set := map[string]string{
		"groupId": t.GroupID, "collectionId": t.CollectionID,
		"targetType": t.TargetType, "entraObjectId": t.EntraObjectID,
	}
	for name, value := range set {
		if value != "" && !contains(sub.Own, name) {
			sl.ReportError(value, name, name, "notallowed", ShortType(typ))
		}
	}
	for _, name := range sub.Required {
		if set[name] == "" {
			sl.ReportError("", name, name, "required", "")
		}
	}
	switch t.FilterType {
	case FilterInclude, FilterExclude:
		if t.FilterID == "" {
			sl.ReportError("", "deviceAndAppManagementAssignmentFilterId", "FilterID", "filterid", t.FilterType)
		}
	case "", FilterNone:
		if t.FilterID != "" {
			sl.ReportError(t.FilterID, "deviceAndAppManagementAssignmentFilterType", "FilterType", "filtertype", "")
		}
	}
}

func validateTicket(sl validator.StructLevel) {
	t := structOf[Ticket](sl)
	if strings.EqualFold(t.State, ApprovedState) && t.ApprovedBy == "" {
		sl.ReportError("", "approvedBy", "ApprovedBy", "approver", "")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var (
	assignmentKeys = []string{"@odata.type", "id", "target", "source", "sourceId"}
	targetKeys     = []string{"@odata.type", "groupId", "collectionId", "targetType", "entraObjectId",
		"deviceAndAppManagementAssignmentFilterId", "deviceAndAppManagementAssignmentFilterType"}
	betaOnlyAssignment = []string{"source", "sourceId"}
)

// BetaOnlyTarget returns the target properties Graph v1.0 does not have
// (the assignment filter's): Decode refuses them on v1.0, and a target
// read back from Graph is sent to v1.0 without them.
func BetaOnlyTarget() [2]string {
	return [2]string{"deviceAndAppManagementAssignmentFilterId", "deviceAndAppManagementAssignmentFilterType"}
}

// Decode parses the generic envelope and validates every field. It returns
// a *Error with CodeMalformed when body is not JSON, and CodeInvalid with all
// field errors, sorted by field, when it is JSON but not a valid change.
// Unknown properties inside "assignment" are refused, so a typo never
// becomes a silent no-op; unknown top-level properties are ignored so
// senders may add their own metadata.
//
// The body is decoded once, into the one Request every later step reads;
// the duplicate- and unknown-property checks share one walk over its
// structure (scanKeys), which allocates only for what it reports.
func Decode(body []byte, opts *Options) (*Request, error) {
	var r Request
	if err := json.Unmarshal(body, &r); err != nil {
		var typeErr *json.UnmarshalTypeError
		if !errors.As(err, &typeErr) {
			return nil, &Error{Code: CodeMalformed, Message: "the body is not well-formed JSON", Err: err}
		}
		if typeErr.Field == "" {
			return nil, invalid(FieldError{Field: "", Reason: "the body must be a JSON object"})
		}
		var fields []FieldError
		keys := scanKeys(body)
		// A wrong type anywhere inside the assignment leaves no assignment
		// to name unknown properties of; elsewhere they are reported with it.
		var plain Assignment
		if keys.assignment == nil || json.Unmarshal(keys.assignment, &plain) == nil {
			fields = keys.unknown()
		}
		fields = append(fields, FieldError{Field: jsonPathPointer(typeErr.Field), Reason: "must be a " + jsonKind(typeErr.Type)})
		return nil, invalid(fields...)
	}
	keys := scanKeys(body)
	fields := keys.unknown()
	for _, p := range keys.dups {
		fields = append(fields, FieldError{Field: p, Reason: "appears more than once; send each property once"})
	}
	fields = append(fields, r.check(opts)...)
	if len(fields) > 0 {
		return nil, invalid(fields...)
	}
	r.Normalize()
	return &r, nil
}

// duplicateKeys returns a JSON pointer for every property that appears twice
// in the same object, at any depth of the valid JSON body. encoding/json
// keeps the last one silently, so a reviewer reading the first would see
// another change than the one Graph gets.
func duplicateKeys(body []byte) []string { return scanKeys(body).dups }

// keys is what scanKeys found in an envelope.
type keys struct {
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
func (k *keys) unknown() []FieldError {
	var out []FieldError
	for _, key := range k.assignmentKeys {
		out = append(out, unknownField("/assignment", key, assignmentKeys))
	}
	for _, key := range k.targetKeys {
		out = append(out, unknownField("/assignment/target", key, targetKeys))
	}
	return out
}

// The roles of an object in the envelope, for scanKeys.
const (
	roleOther = iota
	roleEnvelope
	roleAssignment
	roleTarget
)

// segment is one step of the pointer to the value being scanned: an
// object's property (key) or an array's element (index).
type segment struct {
	key   []byte
	index int
}

// keyScanner walks a valid JSON body once. The pointer to where it is
// stays a stack of segments, turned into text only for a duplicate: the
// first levels in an array inside the scanner (a slice of it would move it
// to the heap), deeper ones in deep.
type keyScanner struct {
	b     []byte
	depth int
	path  [8]segment
	deep  []segment
	keys  keys
}

func (s *keyScanner) push(seg segment) {
	if s.depth < len(s.path) {
		s.path[s.depth] = seg
	} else {
		s.deep = append(s.deep, seg)
	}
	s.depth++
}

func (s *keyScanner) pop() {
	s.depth--
	if s.depth >= len(s.path) {
		s.deep = s.deep[:len(s.deep)-1]
	}
}

// scanKeys walks the valid JSON body once, finding repeated properties at
// any depth and the unknown properties of the envelope's assignment and
// target.
func scanKeys(body []byte) keys {
	s := keyScanner{b: body}
	s.value(skipSpace(body, 0), roleEnvelope)
	return s.keys
}

// pointer is the JSON pointer of the current path.
func (s *keyScanner) pointer() string {
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
func (s *keyScanner) value(i int, role int) int {
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
			s.push(segment{index: n})
			i = s.value(i, roleOther)
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
func (s *keyScanner) object(i int, role int) int {
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
		s.push(segment{key: key})
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
		child := roleOther
		switch role {
		case roleEnvelope:
			if bytes.EqualFold(key, []byte("assignment")) {
				child = roleAssignment
				s.keys.assignmentKeys, s.keys.targetKeys = nil, nil // the last one counts
			}
		case roleAssignment:
			// A name is known when spelled exactly; encoding/json still
			// decodes another case of "target" into the target.
			if !containsKey(assignmentKeys, key) {
				s.keys.assignmentKeys = append(s.keys.assignmentKeys, string(key))
			}
			if bytes.EqualFold(key, []byte("target")) {
				child = roleTarget
				s.keys.targetKeys = nil
			}
		case roleTarget:
			if !containsKey(targetKeys, key) {
				s.keys.targetKeys = append(s.keys.targetKeys, string(key))
			}
		}
		start := skipSpace(b, skipSpace(b, end)+1)
		i = s.value(start, child)
		if child == roleAssignment && start < len(b) && start < i {
			s.keys.assignment = b[start:min(i, len(b))]
		}
		s.pop()
		i = skipSpace(b, i)
		if i < len(b) && b[i] == ',' {
			i++
		}
	}
}

// Validate checks a Request built in code (by a source adapter) with the
// same rules Decode applies.
func (r *Request) Validate(opts *Options) error {
	if fields := r.check(opts); len(fields) > 0 {
		return invalid(fields...)
	}
	return nil
}

func (r *Request) check(opts *Options) []FieldError {
	var fields []FieldError
	if err := validate.Struct(r); err != nil {
		var verrs validator.ValidationErrors
		if !errors.As(err, &verrs) {
			return []FieldError{{Field: "", Reason: "the request could not be validated"}}
		}
		for _, fe := range verrs {
			fields = append(fields, FieldError{Field: pointer(fe.Namespace()), Reason: reason(fe)})
		}
	}
	fields = append(fields, r.Ticket.identityFields()...)
	a := r.Assignment
	if a.ODataType != "" && normalizeType(a.ODataType) != TypeAssignment {
		fields = append(fields, FieldError{Field: "/assignment/@odata.type", Reason: "must be " + TypeAssignment})
	}
	if a.ID != "" && a.ID != r.AssignmentID {
		fields = append(fields, FieldError{Field: "/assignment/id", Reason: "must equal assignmentId or be left out"})
	}
	if opts != nil && opts.GraphVersion == "v1.0" {
		msg := "exists on Graph beta only; leave it out or set ENROLLHOOK_GRAPH_VERSION=beta"
		if a.Source != "" {
			fields = append(fields, FieldError{Field: "/assignment/" + betaOnlyAssignment[0], Reason: msg})
		}
		if a.SourceID != "" {
			fields = append(fields, FieldError{Field: "/assignment/" + betaOnlyAssignment[1], Reason: msg})
		}
		if t := a.Target; t != nil {
			if t.FilterID != "" {
				fields = append(fields, FieldError{Field: "/assignment/target/" + BetaOnlyTarget()[0], Reason: msg})
			}
			if t.FilterType != "" {
				fields = append(fields, FieldError{Field: "/assignment/target/" + BetaOnlyTarget()[1], Reason: msg})
			}
		}
	}
	return fields
}

func invalid(fields ...FieldError) *Error {
	sort.SliceStable(fields, func(i, j int) bool {
		if fields[i].Field != fields[j].Field {
			return fields[i].Field < fields[j].Field
		}
		return fields[i].Reason < fields[j].Reason
	})
	// One field may be reported twice (a type error and a rule); keep each
	// (field, reason) once.
	out := fields[:0]
	for i, f := range fields {
		if i > 0 && f == fields[i-1] {
			continue
		}
		out = append(out, f)
	}
	return &Error{Code: CodeInvalid, Message: "the request has invalid fields", Fields: out}
}

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

// unknownField names an unknown property in a pointer, truncated and
// escaped; its value is never quoted.
func unknownField(at, key string, allowed []string) FieldError {
	return FieldError{Field: at + "/" + escapePointer(truncate(key, 64)), Reason: "unknown property; allowed: " + strings.Join(allowed, ", ")}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	return strings.ToValidUTF8(s[:n], "\uFFFD") + "…"
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// pointer turns a validator namespace ("Request.assignment.target.groupId")
// into a JSON pointer ("/assignment/target/groupId").
func pointer(ns string) string {
	_, rest, found := strings.Cut(ns, ".")
	if !found {
		return ""
	}
	parts := strings.Split(rest, ".")
	for i, p := range parts {
		parts[i] = escapePointer(strings.ReplaceAll(p, dotStandIn, "."))
	}
	return "/" + strings.Join(parts, "/")
}

// jsonPathPointer turns encoding/json's dotted field path into a pointer.
func jsonPathPointer(path string) string {
	if path == "" {
		return ""
	}
	// encoding/json joins with '.', so "@odata.type" arrives split; rejoin it.
	path = strings.ReplaceAll(path, "@odata.type", "@odata"+dotStandIn+"type")
	parts := strings.Split(path, ".")
	for i, p := range parts {
		parts[i] = escapePointer(strings.ReplaceAll(p, dotStandIn, "."))
	}
	return "/" + strings.Join(parts, "/")
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Struct, reflect.Map, reflect.Pointer:
		return "JSON object"
	case reflect.Slice, reflect.Array:
		return "JSON array"
	case reflect.Bool:
		return "boolean"
	default:
		return "number"
	}
}

func reason(fe validator.FieldError) string {
	switch fe.Tag() {
	case "required":
		return "is required"
	case "approver":
		return "is required when the ticket state is approved"
	case "graphkey":
		return "must be 1 to 256 letters, digits, '-' or '_' (an opaque Graph key)"
	case "uuid":
		return "must be a GUID"
	case "cmcollection":
		return "must be a Configuration Manager collection id (8 letters or digits, e.g. SMS00001); for an Entra group use groupAssignmentTarget"
	case "safetext":
		return "must be valid UTF-8 without control characters"
	case "http_url":
		return "must be an http or https URL"
	case "max":
		return "must be at most " + fe.Param() + " characters"
	case "oneof":
		return "must be one of: " + strings.ReplaceAll(fe.Param(), " ", ", ")
	case "targettype":
		names := make([]string, 0, len(Subtypes))
		for t := range Subtypes {
			names = append(names, t)
		}
		sort.Strings(names)
		return "must be one of: " + strings.Join(names, ", ") + " (the leading '#' is optional)"
	case "notallowed":
		return "is not a property of " + fe.Param()
	case "filterid":
		return "is required when the filter type is " + fe.Param()
	case "filtertype":
		return "must be include or exclude when a filter id is given"
	default:
		return fmt.Sprintf("fails the %s rule", fe.Tag())
	}
}

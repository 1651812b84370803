package change

import (
	"bytes"
	"errors"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"
)

// ShortTarget is the shorthand of an assignment target for chat commands and
// ITSM field mapping, where a person types or maps a few values rather than
// the Graph form:
//
//	{"type": "group", "groupId": "…", "filterId": "…", "filterType": "include"}
//
// Type is one of the keys of ShortTypes (any letter case); the other
// properties are those of the Graph subtype it names, with the filter
// properties shortened. It is validated with the same rules as a Graph
// target, and its field errors name the shorthand properties.
type ShortTarget struct {
	Type          string `json:"type"`
	GroupID       string `json:"groupId,omitempty"`
	CollectionID  string `json:"collectionId,omitempty"`
	TargetType    string `json:"targetType,omitempty"`
	EntraObjectID string `json:"entraObjectId,omitempty"`
	FilterID      string `json:"filterId,omitempty"`
	FilterType    string `json:"filterType,omitempty"`
}

// ShortTypes maps each shorthand type to the Graph target type.
var ShortTypes = map[string]string{
	"group":            TypeGroup,
	"exclusion":        TypeExclusion,
	"allUsers":         TypeAllLicensed,
	"allLicensedUsers": TypeAllLicensed,
	"allDevices":       TypeAllDevices,
	"collection":       TypeCMCollection,
	"scopeTagGroup":    TypeScopeTagGroup,
}

// shortNames maps Graph target property names to shorthand ones.
var shortNames = map[string]string{
	"@odata.type": "type",
	"deviceAndAppManagementAssignmentFilterId":   "filterId",
	"deviceAndAppManagementAssignmentFilterType": "filterType",
}

func shortTypeNames() string {
	names := make([]string, 0, len(ShortTypes))
	for n := range ShortTypes {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// Target converts the shorthand to a Graph target and validates it. Field
// errors are JSON pointers under at (the shorthand object's own pointer)
// and name shorthand properties. A nil *Options means the defaults.
func (s ShortTarget) Target(at string, opts *Options) (*Target, []FieldError) {
	if s.Type == "" {
		return nil, []FieldError{{Field: at + "/type", Reason: "is required; one of: " + shortTypeNames()}}
	}
	typ := ""
	for name, graphType := range ShortTypes {
		if strings.EqualFold(name, s.Type) {
			typ = graphType
		}
	}
	if typ == "" {
		return nil, []FieldError{{Field: at + "/type", Reason: "must be one of: " + shortTypeNames()}}
	}
	t := &Target{ODataType: typ, GroupID: s.GroupID, CollectionID: s.CollectionID, TargetType: s.TargetType,
		EntraObjectID: s.EntraObjectID, FilterID: s.FilterID, FilterType: s.FilterType}
	fields := t.check(opts)
	for i, f := range fields {
		name := strings.TrimPrefix(f.Field, "/")
		if short, ok := shortNames[name]; ok {
			name = short
		}
		fields[i].Field = at + "/" + name
	}
	if len(fields) > 0 {
		return nil, fields
	}
	return t, nil
}

// DecodeTarget reads a target in shorthand form (an object with "type") or
// Graph form (with "@odata.type") from raw JSON and validates it. Field
// errors are JSON pointers under at; unknown properties are refused by
// name, values are never quoted. The returned target is normalized (Graph's
// '#' form). A nil *Options means the defaults.
//
// The target is read once, by Decode's reader, guided by the tables of both
// forms at the same time: which form it is shows only once every name has
// been read (a property named exactly "type" makes it the shorthand). It
// decodes what encoding/json's Unmarshal into the form's struct would, and
// refuses the first value of the wrong type as Unmarshal reports it.
func DecodeTarget(raw []byte, at string, opts *Options) (*Target, []FieldError) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, []FieldError{requiredTarget(at)}
	}
	tr := new(targetReading)
	d := reader{b: raw}
	d.targetDocument(tr)
	if d.err != nil {
		return nil, []FieldError{{Field: at, Reason: "must be a JSON object"}}
	}
	d.finish()
	return tr.decode(at, opts)
}

func requiredTarget(at string) FieldError {
	return FieldError{Field: at, Reason: "is required: a shorthand target ({\"type\": \"group\", \"groupId\": …}) or a Graph target (with @odata.type)"}
}

// decode is the target tr read, of the form it read, validated.
func (tr *targetReading) decode(at string, opts *Options) (*Target, []FieldError) {
	f := &tr.forms[formGraph]
	if tr.short {
		f = &tr.forms[formShort]
	}
	if f.typeAt != "" {
		return nil, []FieldError{{Field: at + f.typeAt, Reason: "must be a string"}}
	}
	var fields []FieldError
	for _, k := range tr.unknown(f) {
		fields = append(fields, unknownField(at, k, f.o.names))
	}
	if tr.short {
		t := f.t
		s := ShortTarget{Type: t.ODataType, GroupID: t.GroupID, CollectionID: t.CollectionID, TargetType: t.TargetType,
			EntraObjectID: t.EntraObjectID, FilterID: t.FilterID, FilterType: t.FilterType}
		target, more := s.Target(at, opts)
		if fields = append(fields, more...); len(fields) > 0 {
			return nil, invalid(fields...).Fields
		}
		return target, nil
	}
	t := f.t
	for _, fe := range t.check(opts) {
		fe.Field = at + fe.Field
		fields = append(fields, fe)
	}
	if len(fields) > 0 {
		return nil, invalid(fields...).Fields
	}
	t.ODataType = normalizeType(t.ODataType)
	return &t, nil
}

// TargetReading is a target a sender's one pass read (Scanner.Target),
// decoded later, under the options of the sender's Decode.
type TargetReading struct {
	tr targetReading
	// null: the value was null; other: it was not an object.
	null, other bool
}

// Decode is what DecodeTarget returns for the value's bytes.
func (r *TargetReading) Decode(at string, opts *Options) (*Target, []FieldError) {
	switch {
	case r.null:
		return nil, []FieldError{requiredTarget(at)}
	case r.other:
		return nil, []FieldError{{Field: at, Reason: "must be a JSON object"}}
	}
	return r.tr.decode(at, opts)
}

// Null reports whether the value was null.
func (r *TargetReading) Null() bool { return r.null }

// Target reads the next value as a target, in the same pass: what
// DecodeTarget would read of the value's bytes, which the TargetReading's
// Decode decodes; no copy of the bytes is kept. ok is false when the value
// is not well-formed.
func (s *Scanner) Target() (r *TargetReading, ok bool) {
	r = new(TargetReading)
	switch s.Peek() {
	case 0:
		return nil, false
	case '{':
	case 'n':
		r.null = true // the only value that starts so; Skip refuses others
		return r, s.Skip()
	default:
		r.other = true
		return r, s.Skip()
	}
	// A reader of its own over the same body, as deep as the scanner, so
	// that the strings it decodes are the target's alone.
	d := reader{b: s.d.b, i: s.d.i, nest: s.d.nest}
	d.startTarget(&r.tr)
	d.targetObject(&r.tr)
	if d.err != nil {
		s.d.err = d.err
		return nil, false
	}
	d.finish()
	s.d.i = d.i
	if r.tr.repeated || len(d.dups) > 0 {
		s.repeated = true
	}
	return r, true
}

// shortObject is the table of the shorthand target. Its strings are kept
// in a Target, the type in ODataType, and become a ShortTarget once read.
var shortObject = &object{refuse: true, props: []prop{
	{name: "type", str: func(r *Request) *string { return &r.Assignment.Target.ODataType }},
	{name: "groupId", str: func(r *Request) *string { return &r.Assignment.Target.GroupID }},
	{name: "collectionId", str: func(r *Request) *string { return &r.Assignment.Target.CollectionID }},
	{name: "targetType", str: func(r *Request) *string { return &r.Assignment.Target.TargetType }},
	{name: "entraObjectId", str: func(r *Request) *string { return &r.Assignment.Target.EntraObjectID }},
	{name: "filterId", str: func(r *Request) *string { return &r.Assignment.Target.FilterID }},
	{name: "filterType", str: func(r *Request) *string { return &r.Assignment.Target.FilterType }},
}}

// shortKeys are the shorthand's properties, from its table.
var shortKeys = func() []string {
	index(shortObject)
	return shortObject.names
}()

// The two forms of a target, by their index in targetReading.forms.
const (
	formGraph = iota
	formShort
)

// targetReading is what one walk over a target object found, for each form.
type targetReading struct {
	forms [2]targetForm
	// req holds the target a table's str reaches (Assignment.Target),
	// pointed at a form's t before each string is placed.
	req Request
	// short: a property is named exactly "type", so the object is the
	// shorthand.
	short bool
	// strange are the names no form has (as encoding/json unescapes
	// them); each form refuses them, and the other form's names besides.
	strange []string
	// repeated: the object holds a name twice (as DuplicateFields
	// compares names).
	repeated bool
}

// targetForm is one form's reading of a target object.
type targetForm struct {
	o *object
	t Target // where o's strings go
	// exact has bit i set when o.props[i] is named exactly.
	exact uint32
	// typeAt is the pointer (relative to the target) of the first value
	// of the wrong type for this form's properties, "" when none.
	typeAt string
}

// unknown lists the properties of the object that f does not have.
func (tr *targetReading) unknown(f *targetForm) []string {
	out := tr.strange
	other := &tr.forms[formGraph]
	if f == other {
		other = &tr.forms[formShort]
	}
	for i, p := range other.o.props {
		if other.exact&(1<<i) != 0 && !f.o.known([]byte(p.name)) {
			out = append(out[:len(out):len(out)], p.name)
		}
	}
	return out
}

// targetDocument reads a target: one object, then only white space.
func (d *reader) targetDocument(tr *targetReading) {
	d.startTarget(tr)
	d.space()
	if d.i >= len(d.b) || d.b[d.i] != '{' {
		d.fail("not a JSON object")
		return
	}
	d.targetObject(tr)
	d.end()
}

// startTarget readies tr for targetObject.
func (*reader) startTarget(tr *targetReading) {
	tr.forms[formGraph].o, tr.forms[formShort].o = targetObject, shortObject
}

// targetObject reads the object at d.i == '{' by both forms' tables.
func (d *reader) targetObject(tr *targetReading) {
	if !d.enter() || d.closes('}') {
		return
	}
	var seen names
	for d.err == nil {
		d.space()
		name := d.key()
		if d.err != nil {
			return
		}
		if seen.add(name) {
			tr.repeated = true
		}
		if !utf8.Valid(name) {
			// As encoding/json reads the name: each invalid byte a U+FFFD.
			name = appendUnescaped(nil, name)
		}
		tr.short = tr.short || string(name) == "type"
		var ps [2]*prop
		known := false
		for i := range tr.forms {
			f := &tr.forms[i]
			ps[i] = f.o.match(name)
			for j := range f.o.props {
				if f.o.props[j].name == string(name) {
					f.exact |= 1 << j
					known = true
				}
			}
		}
		if !known {
			tr.strange = append(tr.strange, string(name))
		}
		if !d.colon() {
			return
		}
		d.targetValue(tr, ps)
		if !d.next('}') {
			return
		}
	}
}

// targetValue reads the value at d.i into the properties ps of each form
// that has one: a string into both places, null leaving them as they are,
// anything else the form's value of the wrong type.
func (d *reader) targetValue(tr *targetReading, ps [2]*prop) {
	if d.i >= len(d.b) {
		d.fail("unexpected end of JSON input")
		return
	}
	switch c := d.b[d.i]; {
	case c == 'n':
		d.literal("null")
		return
	case c == '"' && (ps[formGraph] != nil || ps[formShort] != nil):
		read := false
		for i, p := range ps {
			if p == nil {
				continue
			}
			tr.req.Assignment.Target = &tr.forms[i].t
			switch to := p.str(&tr.req); {
			case !read:
				d.stringValue(to)
				read = true
			case d.err == nil:
				d.again(to)
			}
		}
		return
	}
	for i, p := range ps {
		if f := &tr.forms[i]; p != nil && f.typeAt == "" {
			f.typeAt = "/" + escapePointer(p.name)
		}
	}
	d.value(nil)
}

// again gives the string stringValue has just read a second place.
func (d *reader) again(to *string) {
	sp := d.spans[d.nspans-1]
	if len(d.more) > 0 {
		sp = d.more[len(d.more)-1]
	}
	sp.to = to
	if d.nspans < len(d.spans) {
		d.spans[d.nspans] = sp
		d.nspans++
	} else {
		d.more = append(d.more, sp)
	}
}

// check validates a target on its own: the rules Request.Validate applies
// to /assignment/target, with pointers relative to the target.
func (t *Target) check(opts *Options) []FieldError {
	var fields []FieldError
	if err := validate.Struct(t); err != nil {
		var ves validator.ValidationErrors
		if !errors.As(err, &ves) {
			return []FieldError{{Field: "", Reason: "the target could not be validated"}}
		}
		for _, fe := range ves {
			fields = append(fields, FieldError{Field: pointer(fe.Namespace()), Reason: reason(fe)})
		}
	}
	if opts != nil && opts.GraphVersion == "v1.0" {
		msg := "exists on Graph beta only; leave it out or set ENROLLHOOK_GRAPH_VERSION=beta"
		if t.FilterID != "" {
			fields = append(fields, FieldError{Field: "/" + BetaOnlyTarget()[0], Reason: msg})
		}
		if t.FilterType != "" {
			fields = append(fields, FieldError{Field: "/" + BetaOnlyTarget()[1], Reason: msg})
		}
	}
	return fields
}

// RemapFields rewrites the pointers of field errors found on a request an
// adapter built (pointers into the generic envelope, such as
// /configurationId) to where the sender's body holds each value. m maps an
// envelope pointer, or a prefix of one ending before a '/', to the sender's
// pointer; the longest match wins. Errors under a pointer m does not
// name keep their envelope pointer; errors under a pointer mapped to "-"
// are dropped (the adapter reported them already).
func RemapFields(fields []FieldError, m map[string]string) []FieldError {
	out := make([]FieldError, 0, len(fields))
	for _, f := range fields {
		best := ""
		for from := range m {
			if (f.Field == from || strings.HasPrefix(f.Field, from+"/")) && len(from) > len(best) {
				best = from
			}
		}
		if best != "" {
			if m[best] == "-" {
				continue
			}
			f.Field = m[best] + strings.TrimPrefix(f.Field, best)
		}
		out = append(out, f)
	}
	return out
}

// Invalid returns the CodeInvalid error for fields, sorted by field with
// duplicates removed, as Decode reports them; nil when fields is empty.
func Invalid(fields ...FieldError) error {
	if len(fields) == 0 {
		return nil
	}
	return invalid(fields...)
}

// DuplicateFields reports every property that appears twice in one object
// of the (valid JSON) body, as Decode refuses them: encoding/json keeps the
// last silently, so a reviewer reading the first would see another change
// than the one Graph gets. Adapters decoding their own shapes use it.
func DuplicateFields(body []byte) []FieldError {
	var out []FieldError
	for _, p := range duplicateKeys(body) {
		out = append(out, FieldError{Field: p, Reason: "appears more than once; send each property once"})
	}
	return out
}

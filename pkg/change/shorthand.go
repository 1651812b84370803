package change

import (
	"bytes"
	"encoding/json"
	"errors"
	"sort"
	"strings"

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

var shortKeys = []string{"type", "groupId", "collectionId", "targetType", "entraObjectId", "filterId", "filterType"}

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
func DecodeTarget(raw []byte, at string, opts *Options) (*Target, []FieldError) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, []FieldError{{Field: at, Reason: "is required: a shorthand target ({\"type\": \"group\", \"groupId\": …}) or a Graph target (with @odata.type)"}}
	}
	// Which form it is, from its keys: the one decode below reads it.
	object, short := hasKey(raw, "type")
	if !object {
		return nil, []FieldError{{Field: at, Reason: "must be a JSON object"}}
	}
	if short {
		var s ShortTarget
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, []FieldError{typeError(err, at)}
		}
		var fields []FieldError
		for _, k := range unknownKeys(raw, shortKeys) {
			fields = append(fields, unknownField(at, k, shortKeys))
		}
		t, more := s.Target(at, opts)
		if fields = append(fields, more...); len(fields) > 0 {
			return nil, invalid(fields...).Fields
		}
		return t, nil
	}
	var t Target
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, []FieldError{typeError(err, at)}
	}
	var fields []FieldError
	for _, k := range unknownKeys(raw, targetKeys) {
		fields = append(fields, unknownField(at, k, targetKeys))
	}
	for _, f := range t.check(opts) {
		f.Field = at + f.Field
		fields = append(fields, f)
	}
	if len(fields) > 0 {
		return nil, invalid(fields...).Fields
	}
	t.ODataType = normalizeType(t.ODataType)
	return &t, nil
}

// hasKey reports whether b is a JSON object, and whether it has the
// property name, compared as a map key is (exactly, once unescaped). Not
// JSON after the '{' shows up in the decode that follows.
func hasKey(b []byte, name string) (object, has bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false, false
	}
	i++
	for {
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != '"' {
			return true, has
		}
		end := skipString(b, i)
		if end-1 <= i || b[end-1] != '"' {
			return true, has // an unterminated name: the decode refuses it
		}
		if key := b[i+1 : end-1]; string(key) == name {
			has = true
		} else if bytes.IndexByte(key, '\\') >= 0 {
			var k string
			if json.Unmarshal(b[i:end], &k) == nil && k == name {
				has = true
			}
		}
		i = skipSpace(b, skipValue(b, skipSpace(b, skipSpace(b, end)+1)))
		if i < len(b) && b[i] == ',' {
			i++
		}
	}
}

func typeError(err error, at string) FieldError {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return FieldError{Field: at + jsonPathPointer(te.Field), Reason: "must be a " + jsonKind(te.Type)}
	}
	return FieldError{Field: at, Reason: "must be a JSON object"}
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

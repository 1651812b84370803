package change

import (
	"errors"
	"reflect"
	"regexp"
	"sort"
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
	must(v.RegisterValidation("rfc3339", func(fl validator.FieldLevel) bool {
		_, err := ParseTime(fl.Field().String())
		return err == nil
	}))
	must(v.RegisterValidation("safetext", func(fl validator.FieldLevel) bool {
		return safeText(fl.Field().String())
	}))
	// The baked-in uuid rule runs a regular expression on every GUID; this
	// one accepts exactly what that expression accepts (tested against
	// it), without one.
	must(v.RegisterValidation("uuid", func(fl validator.FieldLevel) bool {
		return ValidGUID(fl.Field().String())
	}))
	v.RegisterStructValidation(validateTarget, Target{})
	return v
}

// ValidGUID reports whether s is a GUID in its 8-4-4-4-12 hexadecimal form,
// in either letter case, without braces: the validator's uuid rule.
func ValidGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	return true
}

// ValidKey reports whether s may be used as a Graph key in a URL path:
// letters, digits, '-' and '_', 1 to 256 characters. Everything that could
// change the path ('/', '..', '?', '%', control characters) is outside.
func ValidKey(s string) bool {
	if len(s) == 0 || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !keyByte[s[i]] {
			return false
		}
	}
	return true
}

// keyByte marks the bytes of a Graph key: letters, digits, '-' and '_'.
var keyByte = func() (t [256]bool) {
	for c := range 256 {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
	}
	return t
}()

// ValidCollectionID reports whether s is a Configuration Manager
// collection id (eight letters or digits, as SMS00001), the form a
// collectionId must have.
func ValidCollectionID(s string) bool { return cmCollectionRE.MatchString(s) }

func safeText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || bidiControl(r) {
			return false
		}
	}
	return true
}

// bidiControl reports whether r is a bidirectional control (the marks,
// embeddings, overrides and isolates), which can make a ticket id or a
// name read as another in a reply, an audit line or a ticket note.
func bidiControl(r rune) bool {
	return r == '\u200e' || r == '\u200f' || r == '\u061c' || '\u202a' <= r && r <= '\u202e' || '\u2066' <= r && r <= '\u2069'
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
	set := [...]struct{ name, value string }{
		{"groupId", t.GroupID}, {"collectionId", t.CollectionID},
		{"targetType", t.TargetType}, {"entraObjectId", t.EntraObjectID},
	}
	for _, p := range set {
		if p.value != "" && !contains(sub.Own, p.name) {
			sl.ReportError(p.value, p.name, p.name, "notallowed", ShortType(typ))
		}
	}
	for _, name := range sub.Required {
		value := ""
		for _, p := range set {
			if p.name == name {
				value = p.value
			}
		}
		if value == "" {
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

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var (
	// assignmentKeys and targetKeys are the properties of /assignment and
	// /assignment/target, from the tables Decode reads them by.
	assignmentKeys     = assignmentObject.propNames()
	targetKeys         = targetObject.propNames()
	betaOnlyAssignment = []string{"source", "sourceId"}
)

// BetaOnlyTarget returns the target properties Graph v1.0 does not have
// (the assignment filter's): Decode refuses them on v1.0, and a target
// read back from Graph is sent to v1.0 without them.
func BetaOnlyTarget() [2]string {
	return [2]string{"deviceAndAppManagementAssignmentFilterId", "deviceAndAppManagementAssignmentFilterType"}
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
	var err error
	if r.Reverts() {
		// A revert names its ticket only: what it puts back comes from
		// the change record.
		err = validate.StructExcept(r, "ConfigurationID", "AssignmentID", "Assignment")
		if r.ConfigurationID != "" || r.AssignmentID != "" || r.Assignment != (Assignment{}) {
			for _, f := range [...]struct {
				at  string
				set bool
			}{{"/assignment", r.Assignment != (Assignment{})}, {"/assignmentId", r.AssignmentID != ""}, {"/configurationId", r.ConfigurationID != ""}} {
				if f.set {
					fields = append(fields, FieldError{Field: f.at, Reason: "must be left out of a revert: it puts back every change of its ticket as the change record has it"})
				}
			}
		}
	} else {
		// By value: the fields of a struct that is not addressable reach
		// the validator's rules without a copy each. The target, behind a
		// pointer, is validated apart for the same reason.
		err = validate.Struct(*r)
		if t := r.Assignment.Target; t == nil {
			fields = append(fields, FieldError{Field: "/assignment/target", Reason: "is required"})
		} else {
			fields = append(fields, targetFields(validate.Struct(*t))...)
		}
	}
	if strings.EqualFold(r.Ticket.State, ApprovedState) && r.Ticket.ApprovedBy == "" {
		// An approval without an approver cannot be audited.
		fields = append(fields, FieldError{Field: "/ticket/approvedBy", Reason: "is required when the ticket state is approved"})
	}
	if w := r.Ticket.Window; w != nil {
		start, err1 := ParseTime(w.Start)
		end, err2 := ParseTime(w.End)
		if err1 == nil && err2 == nil && !end.After(start) {
			fields = append(fields, FieldError{Field: "/ticket/window/end", Reason: "must be after start"})
		}
	}
	if err != nil {
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

// targetFields are the field errors of a target validated on its own, at
// their pointers under /assignment/target.
func targetFields(err error) []FieldError {
	if err == nil {
		return nil
	}
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) {
		return []FieldError{{Field: "/assignment/target", Reason: "the target could not be validated"}}
	}
	out := make([]FieldError, 0, len(verrs))
	for _, fe := range verrs {
		out = append(out, FieldError{Field: "/assignment/target" + pointer(fe.Namespace()), Reason: reason(fe)})
	}
	return out
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

// unknownField names an unknown property in a pointer, truncated and
// escaped; its value is never quoted.
func unknownField(at, key string, allowed []string) FieldError {
	return FieldError{Field: at + "/" + PointerSegment(key), Reason: "unknown property; allowed: " + strings.Join(allowed, ", ")}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	return strings.ToValidUTF8(s[:n], "\uFFFD") + "…"
}

// PointerSegment is a property's name as one segment of the JSON pointer
// a refusal names it by: cut to 64 bytes (marked …), invalid UTF-8
// replaced, ~ and / escaped.
func PointerSegment(name string) string { return escapePointer(truncate(name, 64)) }

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
	value, _ := fe.Value().(string)
	return reasonFor(fe.Tag(), fe.Param(), value)
}

// reasonFor is the reason of a value that fails the rule tag (with its
// param): every rule of the struct tags and of the struct-level checks
// has its own (TestEveryRuleHasAReason), which says what the value must
// be, never quoting it.
func reasonFor(tag, param, value string) string {
	switch tag {
	case "required":
		return "is required"
	case "graphkey":
		return "must be 1 to 256 letters, digits, '-' or '_' (an opaque Graph key)"
	case "uuid":
		return "must be a GUID"
	case "cmcollection":
		return "must be a Configuration Manager collection id (8 letters or digits, e.g. SMS00001); for an Entra group use groupAssignmentTarget"
	case "safetext":
		return "must be valid UTF-8 without control characters or bidirectional controls"
	case "http_url":
		return "must be an http or https URL"
	case "rfc3339":
		_, err := ParseTime(value)
		return TimeReason(err)
	case "max":
		return "must be at most " + param + " characters"
	case "oneof":
		return "must be one of: " + strings.ReplaceAll(param, " ", ", ")
	case "targettype":
		names := make([]string, 0, len(Subtypes))
		for t := range Subtypes {
			names = append(names, t)
		}
		sort.Strings(names)
		return "must be one of: " + strings.Join(names, ", ") + " (the leading '#' is optional)"
	case "notallowed":
		return "is not a property of " + param
	case "filterid":
		return "is required when the filter type is " + param
	case "filtertype":
		return "must be include or exclude when a filter id is given"
	default:
		// Unreachable (TestEveryRuleHasAReason); the rule's name would
		// mean nothing to a sender.
		return "is not valid"
	}
}

package graphemu

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// refusal is a body the emulator refuses with 400: code is the Graph error
// code, reason says which rule failed (kept in Call.Reason for tests, never
// in the response, which like Intune's says only "An error has occurred").
type refusal struct {
	code   string
	reason string
}

func refuse(code, format string, args ...any) *refusal {
	return &refusal{code: code, reason: fmt.Sprintf(format, args...)}
}

// rules are the validation settings of one request.
type rules struct {
	version        string
	rejectScopeTag bool
}

// assignmentInput is a decoded assignment body; the has* fields tell a
// property sent as null from one not sent, which PATCH must keep apart.
type assignmentInput struct {
	id          string
	hasID       bool
	target      *target
	source      string
	hasSource   bool
	sourceID    *string
	hasSourceID bool
}

// decodeObject parses body as exactly one JSON object.
func decodeObject(body []byte, at string) (map[string]json.RawMessage, *refusal) {
	dec := json.NewDecoder(bytes.NewReader(body))
	var m map[string]json.RawMessage
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, refuse(CodeBadRequest, "%s: the body is not a JSON object", orRoot(at))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, refuse(CodeBadRequest, "%s: data after the JSON object", orRoot(at))
	}
	return m, nil
}

func orRoot(at string) string {
	if at == "" {
		return "/"
	}
	return at
}

// sortedKeys gives a stable order, so that the same body always fails on the
// same rule.
func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// str decodes a JSON string; null is refused unless nullOK, and then
// returns nil.
func str(raw json.RawMessage, at string, nullOK bool) (*string, *refusal) {
	if isNull(raw) {
		if nullOK {
			return nil, nil
		}
		return nil, refuse(CodeBadRequest, "%s: null is not allowed", at)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, refuse(CodeBadRequest, "%s: must be a string", at)
	}
	return &s, nil
}

// withHash adds the '#' Graph writes before a type name; the Intune docs
// often leave it out inside target.
func withHash(t string) string {
	if strings.HasPrefix(t, "#") {
		return t
	}
	return "#" + t
}

// assignment validates one enrollmentConfigurationAssignment body. at is
// the JSON pointer of the object ("" for the whole body).
func (r rules) assignment(m map[string]json.RawMessage, at string) (assignmentInput, *refusal) {
	var in assignmentInput
	for _, k := range sortedKeys(m) {
		raw, p := m[k], at+"/"+k
		switch {
		case k == propType:
			s, bad := str(raw, p, false)
			if bad != nil {
				return in, bad
			}
			if withHash(*s) != typeAssignment {
				return in, refuse(CodeBadRequest, "%s: not an enrollmentConfigurationAssignment", p)
			}
		case k == propID:
			s, bad := str(raw, p, false)
			if bad != nil {
				return in, bad
			}
			in.id, in.hasID = *s, true
		case k == propTarget:
			if isNull(raw) {
				return in, refuse(CodeModelValidation, "%s: an assignment needs a target", p)
			}
			tm, bad := decodeObject(raw, p)
			if bad != nil {
				return in, bad
			}
			t, bad := r.target(tm, p)
			if bad != nil {
				return in, bad
			}
			in.target = &t
		case k == propSource && r.version == versionBeta:
			s, bad := str(raw, p, false)
			if bad != nil {
				return in, bad
			}
			if !slices.Contains(sources, *s) {
				return in, refuse(CodeBadRequest, "%s: not a deviceAndAppManagementAssignmentSource member", p)
			}
			in.source, in.hasSource = *s, true
		case k == propSourceID && r.version == versionBeta:
			s, bad := str(raw, p, true)
			if bad != nil {
				return in, bad
			}
			in.sourceID, in.hasSourceID = s, true
		default:
			return in, unknownProperty(p, r.version)
		}
	}
	return in, nil
}

func unknownProperty(at, version string) *refusal {
	return refuse(CodeBadRequest, "%s: not a property of this type on %s", at, version)
}

// target validates a deviceAndAppManagementAssignmentTarget object.
func (r rules) target(m map[string]json.RawMessage, at string) (target, *refusal) {
	t := target{filterType: filterNone}
	rawType, ok := m[propType]
	if !ok {
		return t, refuse(CodeBadRequest, "%s/@odata.type: required, the target type is abstract", at)
	}
	s, bad := str(rawType, at+"/"+propType, false)
	if bad != nil {
		return t, bad
	}
	t.typ = withHash(*s)
	own, known := targetOwn[t.typ]
	if !known || t.typ == typeScopeTag && r.rejectScopeTag {
		return t, refuse(CodeBadRequest, "%s/@odata.type: not a deviceAndAppManagementAssignmentTarget subtype", at)
	}
	for _, k := range sortedKeys(m) {
		raw, p := m[k], at+"/"+k
		switch {
		case k == propType:
		case slices.Contains(own, k):
			v, bad := str(raw, p, true)
			if bad != nil {
				return t, bad
			}
			if v == nil || *v == "" {
				continue // reported as missing below
			}
			switch k {
			case propGroupID:
				t.groupID = *v
			case propCollection:
				t.collectionID = *v
			case propEntraID:
				t.entraObjectID = *v
			case propTargetType:
				if !slices.Contains(scopeTypes, *v) {
					return t, refuse(CodeBadRequest, "%s: not a scopeTagTargetType member (user, device)", p)
				}
				t.targetType = *v
			}
		case k == propFilterID && r.version == versionBeta:
			v, bad := str(raw, p, true)
			if bad != nil {
				return t, bad
			}
			t.filterID = v
		case k == propFilterType && r.version == versionBeta:
			v, bad := str(raw, p, true)
			if bad != nil {
				return t, bad
			}
			if v != nil {
				if !slices.Contains(filterTypes, *v) {
					return t, refuse(CodeBadRequest, "%s: not a deviceAndAppManagementAssignmentFilterType member", p)
				}
				t.filterType = *v
			}
		default:
			return t, unknownProperty(p, r.version)
		}
	}
	for _, k := range own {
		if t.field(k) == "" {
			return t, refuse(CodeModelValidation, "%s: required for this target type", at+"/"+k)
		}
	}
	return t, nil
}

func (t target) field(name string) string {
	switch name {
	case propGroupID:
		return t.groupID
	case propCollection:
		return t.collectionID
	case propTargetType:
		return t.targetType
	case propEntraID:
		return t.entraObjectID
	}
	return ""
}

// assignBody validates the body of the assign action: the complete desired
// set, each member a full assignment with a target.
func (r rules) assignBody(body []byte) ([]assignmentInput, *refusal) {
	m, bad := decodeObject(body, "")
	if bad != nil {
		return nil, bad
	}
	const list = "enrollmentConfigurationAssignments"
	for _, k := range sortedKeys(m) {
		if k != list {
			return nil, unknownProperty("/"+k, r.version)
		}
	}
	raw, ok := m[list]
	if !ok || isNull(raw) {
		return nil, refuse(CodeBadRequest, "/%s: required", list)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, refuse(CodeBadRequest, "/%s: must be an array", list)
	}
	out := make([]assignmentInput, 0, len(items))
	for i, item := range items {
		at := "/" + list + "/" + strconv.Itoa(i)
		im, bad := decodeObject(item, at)
		if bad != nil {
			return nil, bad
		}
		in, bad := r.assignment(im, at)
		if bad != nil {
			return nil, bad
		}
		if in.target == nil {
			return nil, refuse(CodeModelValidation, "%s/target: required", at)
		}
		out = append(out, in)
	}
	return out, nil
}

// priorityBody validates the body of the setPriority action.
func priorityBody(body []byte, version string) (int, *refusal) {
	m, bad := decodeObject(body, "")
	if bad != nil {
		return 0, bad
	}
	for _, k := range sortedKeys(m) {
		if k != "priority" {
			return 0, unknownProperty("/"+k, version)
		}
	}
	raw, ok := m["priority"]
	if !ok || isNull(raw) {
		return 0, refuse(CodeBadRequest, "/priority: required")
	}
	var p int32
	if err := json.Unmarshal(raw, &p); err != nil {
		return 0, refuse(CodeBadRequest, "/priority: must be an Int32")
	}
	if p < 0 {
		return 0, refuse(CodeModelValidation, "/priority: must not be negative")
	}
	return int(p), nil
}

package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
)

// The readings of Graph's JSON an update needs beyond the calls: the public
// body of an answer, a target, the read-modify-write of the assign action,
// and what a PATCH would make of an assignment (a dry run). Every other
// package works with what these return.

// PublicBody drops Graph's annotations (@odata.context, @odata.id, links,
// "target@odata.navigationLink", "@microsoft.graph.tips": every name with
// an '@' but @odata.type), at any depth, which carry Graph URLs. It
// returns nil for a body that is not a JSON object and b itself when
// there is nothing to drop.
func PublicBody(b []byte) []byte {
	if len(b) == 0 || onlyTypeAnnotations(b) {
		return b
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if d.Decode(&m) != nil || m == nil {
		return nil
	}
	dropAnnotations(m)
	out, err := json.Marshal(m)
	if err != nil {
		return nil
	}
	return out
}

// dropAnnotations deletes the annotations of v's objects, at any depth.
func dropAnnotations(v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if strings.Contains(k, "@") && k != "@odata.type" {
				delete(v, k)
				continue
			}
			dropAnnotations(e)
		}
	case []any:
		for _, e := range v {
			dropAnnotations(e)
		}
	}
}

// onlyTypeAnnotations reports whether b has no annotation but @odata.type,
// the common case, which needs no rewrite: every '@' in it starts
// "@odata.type", and no escape could spell one.
func onlyTypeAnnotations(b []byte) bool {
	if bytes.IndexByte(b, '\\') >= 0 {
		return false // an escape can spell a name, or a quote before one
	}
	const typ = `"@odata.type"`
	for {
		i := bytes.IndexByte(b, '@')
		if i < 0 {
			return true
		}
		if i == 0 || !bytes.HasPrefix(b[i-1:], []byte(typ)) {
			return false
		}
		b = b[i+len(typ)-1:]
	}
}

// AssignmentObject is an assignment Graph answered, as PublicBody gives it,
// or a *change.Error with CodeUnavailable when it is not a JSON object.
func AssignmentObject(raw []byte) (json.RawMessage, error) {
	b := PublicBody(raw)
	var m map[string]json.RawMessage
	if len(b) == 0 || json.Unmarshal(b, &m) != nil || m == nil {
		return nil, &change.Error{Code: change.CodeUnavailable, RetryAfter: 5 * time.Second,
			Message: "Graph answered with an assignment that could not be read; nothing was changed",
			Err:     errors.New("graph: the assignment read is not a JSON object")}
	}
	return b, nil
}

// TargetOf is the target of an assignment body, nil when there is none.
func TargetOf(body []byte) json.RawMessage {
	if len(body) == 0 {
		return nil
	}
	var a struct {
		Target json.RawMessage `json:"target"`
	}
	if json.Unmarshal(body, &a) != nil || len(a.Target) == 0 || string(a.Target) == "null" {
		return nil
	}
	return a.Target
}

// FindAssignment is the assignment with id assignmentID in the list items of
// a configuration (ListAssignments), or nil.
func FindAssignment(items []json.RawMessage, assignmentID string) json.RawMessage {
	for _, raw := range items {
		var a struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(raw, &a) == nil && a.ID == assignmentID {
			return raw
		}
	}
	return nil
}

// TargetIn is the target of assignmentID in the list items of a
// configuration, and whether the list holds the assignment.
func TargetIn(items []json.RawMessage, assignmentID string) (json.RawMessage, bool) {
	for _, it := range items {
		var a struct {
			ID     string          `json:"id"`
			Target json.RawMessage `json:"target"`
		}
		if json.Unmarshal(it, &a) == nil && a.ID == assignmentID {
			return a.Target, true
		}
	}
	return nil, false
}

// AssignSet is the complete set the assign action sends for one change
// (NewAssignSet), and what is needed to find the changed assignment in the
// set read back afterwards (Changed).
type AssignSet struct {
	// Members is the body of AssignAll.
	Members []json.RawMessage
	// Sent is the target sent for the changed assignment.
	Sent json.RawMessage

	oldID  string
	others map[string]bool // ids of the members kept unchanged
	beta   bool
}

// member is one assignment of the assign action's body: its id and target,
// and on beta its source and sourceId as Graph holds them.
type member struct {
	ID       string          `json:"id"`
	Target   json.RawMessage `json:"target"`
	Source   json.RawMessage `json:"source,omitempty"`
	SourceID json.RawMessage `json:"sourceId,omitempty"`
}

// NewAssignSet builds the complete set for the assign action from the
// assignments Graph holds (items, from ListAssignments): every one unchanged
// but the one of req, whose target is replaced whole and whose source and
// sourceId are replaced when req sets them, as the PATCH would. beta says
// whether the set goes to the beta endpoint: on v1.0 the kept targets lose
// the beta-only properties and no source is sent.
//
// Errors are *change.Error: CodeNotFound when the list does not hold req's
// assignment, CodeUnavailable when the list cannot be read, CodeGraphRefused
// when a kept assignment has no target.
func NewAssignSet(items []json.RawMessage, req *change.Request, beta bool) (*AssignSet, error) {
	s := &AssignSet{Members: make([]json.RawMessage, 0, len(items)), oldID: req.AssignmentID,
		others: make(map[string]bool, len(items)), beta: beta}
	for i, raw := range items {
		var a struct {
			ID       string          `json:"id"`
			Target   json.RawMessage `json:"target"`
			Source   json.RawMessage `json:"source"`
			SourceID json.RawMessage `json:"sourceId"`
		}
		if err := json.Unmarshal(raw, &a); err != nil || a.ID == "" {
			return nil, unreadableSet(fmt.Errorf("graph: assignment %d of the list has no id", i))
		}
		m := member{ID: a.ID}
		if beta {
			if src := strings.TrimSpace(string(a.Source)); src != "" && src != "null" {
				m.Source = a.Source
			}
			m.SourceID = a.SourceID
		}
		if a.ID == req.AssignmentID {
			if s.Sent != nil {
				return nil, unreadableSet(errors.New("graph: the list holds the assignment twice"))
			}
			t, err := json.Marshal(req.Assignment.Target)
			if err != nil {
				return nil, err
			}
			m.Target, s.Sent = t, t
			if beta && req.Assignment.Source != "" {
				m.Source, _ = json.Marshal(req.Assignment.Source)
			}
			if beta && req.Assignment.SourceID != "" {
				m.SourceID, _ = json.Marshal(req.Assignment.SourceID)
			}
		} else {
			t, err := keptTarget(a.Target, beta)
			if err != nil {
				return nil, &change.Error{Code: change.CodeGraphRefused,
					Message: "the assign action cannot keep an assignment Graph holds without a target; nothing was changed",
					Err:     fmt.Errorf("graph: assignment %s: %w", a.ID, err)}
			}
			m.Target = t
			s.others[a.ID] = true
		}
		b, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		s.Members = append(s.Members, b)
	}
	if s.Sent == nil {
		return nil, &change.Error{Code: change.CodeNotFound, Message: "the configuration or assignment does not exist in Intune"}
	}
	return s, nil
}

func unreadableSet(err error) error {
	return &change.Error{Code: change.CodeUnavailable, Message: "Graph answered with a list of assignments that could not be read; nothing was changed",
		RetryAfter: 5 * time.Second, Err: err}
}

// keptTarget returns a target as Graph holds it, without OData annotations
// other than @odata.type and, on v1.0, without the beta-only properties.
func keptTarget(raw json.RawMessage, beta bool) (json.RawMessage, error) {
	var t map[string]json.RawMessage
	if err := json.Unmarshal(raw, &t); err != nil || t == nil {
		return nil, errors.New("no target")
	}
	for k := range t {
		if strings.HasPrefix(k, "@") && k != "@odata.type" {
			delete(t, k)
		}
	}
	if !beta {
		for _, k := range change.BetaOnlyTarget() {
			delete(t, k)
		}
	}
	return json.Marshal(t)
}

// OtherIDs are the ids of the members kept unchanged, sorted.
func (s *AssignSet) OtherIDs() []string {
	ids := make([]string, 0, len(s.others))
	for id := range s.others {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// RenamedAssignment finds, in a configuration's assignments (items), the
// one an assign action for req may have named anew, as Changed would: an
// assignment, not among others (the ids the set kept beside req's), whose
// target is req's. It returns the assignment and its id, or nil.
func RenamedAssignment(items []json.RawMessage, req *change.Request, others []string, beta bool) (json.RawMessage, string, error) {
	sent, err := json.Marshal(req.Assignment.Target)
	if err != nil {
		return nil, "", err
	}
	s := &AssignSet{Sent: sent, oldID: req.AssignmentID, others: make(map[string]bool, len(others)), beta: beta}
	for _, id := range others {
		s.others[id] = true
	}
	raw, id := s.Changed(items)
	if raw == nil {
		return nil, "", nil
	}
	obj, err := AssignmentObject(raw)
	return obj, id, err
}

// InEffect reports whether the assignment as Graph holds it (current)
// already is what req makes of it, as Graph would hold it after the write:
// the same target (by what it targets: a filter Graph fills in as none
// equals none sent; filters count on beta only) and, where req sets them,
// the same source and sourceId. A retry of a write whose answer was lost
// uses it to tell whether that write landed.
func InEffect(current json.RawMessage, req *change.Request, beta bool) bool {
	var a struct {
		Target   json.RawMessage `json:"target"`
		Source   *string         `json:"source"`
		SourceID *string         `json:"sourceId"`
	}
	if json.Unmarshal(current, &a) != nil || req.Assignment.Target == nil {
		return false
	}
	sent, err := json.Marshal(req.Assignment.Target)
	if err != nil || targetKey(a.Target, beta) != targetKey(sent, beta) {
		return false
	}
	if req.Assignment.Source != "" && (a.Source == nil || *a.Source != req.Assignment.Source) {
		return false
	}
	return req.Assignment.SourceID == "" || a.SourceID != nil && *a.SourceID == req.Assignment.SourceID
}

// SameAssignment reports whether two readings of an assignment (a and b,
// as Graph holds it) assign the same: the same target by what it targets
// (filters on beta only), the same source and sourceId, whether read with
// the item GET or in the configuration's list.
func SameAssignment(a, b json.RawMessage, beta bool) bool {
	type reading struct {
		Target   json.RawMessage `json:"target"`
		Source   string          `json:"source"`
		SourceID string          `json:"sourceId"`
	}
	var x, y reading
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	kx := targetKey(x.Target, beta)
	return kx != invalidTarget && kx == targetKey(y.Target, beta) && x.Source == y.Source && x.SourceID == y.SourceID
}

// Changed finds the changed assignment in the set read back after assign
// (after, from ListAssignments): the one with its old id if its target is
// the one sent, else the one, not among the others kept, whose target is the
// one sent; Intune may name the assignment anew. It returns the assignment
// and its id, or nil.
func (s *AssignSet) Changed(after []json.RawMessage) (json.RawMessage, string) {
	want := targetKey(s.Sent, s.beta)
	var body json.RawMessage
	var id string
	for _, raw := range after {
		var a struct {
			ID     string          `json:"id"`
			Target json.RawMessage `json:"target"`
		}
		if json.Unmarshal(raw, &a) != nil || targetKey(a.Target, s.beta) != want {
			continue
		}
		if a.ID == s.oldID {
			return raw, a.ID
		}
		if body == nil && !s.others[a.ID] {
			body, id = raw, a.ID
		}
	}
	return body, id
}

// targetKey is a target's identity for Changed: its type and the properties
// that say what it targets; filter properties count on beta only, with an
// absent filter equal to none.
// invalidTarget is targetKey's key of what is not a target.
const invalidTarget = "\x00invalid"

func targetKey(raw json.RawMessage, beta bool) string {
	var t struct {
		Type       string  `json:"@odata.type"`
		Group      string  `json:"groupId"`
		Collection string  `json:"collectionId"`
		TargetType string  `json:"targetType"`
		EntraID    string  `json:"entraObjectId"`
		FilterID   *string `json:"deviceAndAppManagementAssignmentFilterId"`
		FilterType string  `json:"deviceAndAppManagementAssignmentFilterType"`
	}
	if json.Unmarshal(raw, &t) != nil || t.Type == "" {
		return invalidTarget
	}
	k := []string{"#" + strings.TrimPrefix(t.Type, "#"), strings.ToLower(t.Group), t.Collection, t.TargetType, strings.ToLower(t.EntraID)}
	if beta {
		ft, fid := t.FilterType, ""
		if t.FilterID != nil {
			fid = strings.ToLower(*t.FilterID)
		}
		if ft == "" || ft == change.FilterNone {
			ft, fid = change.FilterNone, ""
		}
		k = append(k, ft, fid)
	}
	return strings.Join(k, "\x00")
}

// Patched is what the item PATCH of req makes of an assignment as Graph
// holds it (before, an AssignmentObject): the target replaced whole, source
// and sourceId only when req sets them. A dry run answers it.
func Patched(before json.RawMessage, req *change.Request) (json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(before, &m); err != nil {
		return nil, err
	}
	set := func(k string, v any) error {
		b, err := json.Marshal(v)
		if err == nil {
			m[k] = b
		}
		return err
	}
	if req.Assignment.Target != nil {
		if err := set("target", req.Assignment.Target); err != nil {
			return nil, err
		}
	}
	if req.Assignment.Source != "" {
		if err := set("source", req.Assignment.Source); err != nil {
			return nil, err
		}
	}
	if req.Assignment.SourceID != "" {
		if err := set("sourceId", req.Assignment.SourceID); err != nil {
			return nil, err
		}
	}
	return json.Marshal(m)
}

// Change is one value that differs between two assignments, by JSON
// pointer (RFC 6901); From or To is null when the property is absent on that
// side.
type Change struct {
	Path string `json:"path"`
	From any    `json:"from"`
	To   any    `json:"to"`
}

// Changes lists the values that differ between before and after, by JSON
// pointer, sorted; objects are compared member by member, anything else as a
// whole, numbers as written.
func Changes(before, after json.RawMessage) ([]Change, error) {
	var b, a any
	if err := decodeNumbers(before, &b); err != nil {
		return nil, err
	}
	if err := decodeNumbers(after, &a); err != nil {
		return nil, err
	}
	changes := []Change{}
	diffValues("", b, a, &changes)
	sort.Slice(changes, func(i, j int) bool { return changes[i].Path < changes[j].Path })
	return changes, nil
}

func decodeNumbers(raw []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	return d.Decode(v)
}

func diffValues(path string, from, to any, out *[]Change) {
	fm, fok := from.(map[string]any)
	tm, tok := to.(map[string]any)
	if fok && tok {
		for k, fv := range fm {
			tv, has := tm[k]
			if !has {
				tv = nil
			}
			diffValues(path+"/"+escapePointer(k), fv, tv, out)
		}
		for k, tv := range tm {
			if _, has := fm[k]; !has {
				diffValues(path+"/"+escapePointer(k), nil, tv, out)
			}
		}
		return
	}
	if !reflect.DeepEqual(from, to) {
		*out = append(*out, Change{Path: path, From: from, To: to})
	}
}

// escapePointer escapes a member name for a JSON pointer.
func escapePointer(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}

package graph_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/graph"
)

const (
	groupCorporate = "5e6f0000-0000-0000-0000-000000000001"
	groupExcluded  = "7a8b0000-0000-0000-0000-000000000002"
	newGroup       = "44440000-0000-0000-0000-000000000044"
)

func TestPublicBodyDropsGraphURLs(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"@odata.type":"#x","id":"a"}`, `{"@odata.type":"#x","id":"a"}`},
		{`{"@odata.context":"https://graph.microsoft.com/beta/$metadata#x","@odata.type":"#x","id":"a","target":{"@odata.type":"#t"}}`, `{"@odata.type":"#x","id":"a","target":{"@odata.type":"#t"}}`},
		{`{"@odata.etag":"W/1","id":"a"}`, `{"id":"a"}`},
		{``, ``},
	}
	for _, tt := range tests {
		if got := string(graph.PublicBody([]byte(tt.in))); got != tt.want {
			t.Errorf("PublicBody(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// TestAssignmentObjectRefusesWhatIsNotAnObject: a read that is not a JSON
// object is Graph unavailable (retry), never echoed.
func TestAssignmentObjectRefusesWhatIsNotAnObject(t *testing.T) {
	for _, in := range []string{``, `null`, `[1]`, `"x"`, `{"@odata.context":"https://x/`} {
		if b, err := graph.AssignmentObject([]byte(in)); err == nil || change.ErrorCode(err) != change.CodeUnavailable {
			t.Errorf("AssignmentObject(%q) = %s, %v, want unavailable", in, b, err)
		}
	}
	b, err := graph.AssignmentObject([]byte(`{"@odata.context":"https://graph.microsoft.com/beta/$metadata#x","id":"a"}`))
	if err != nil || string(b) != `{"id":"a"}` {
		t.Errorf("AssignmentObject = %s, %v", b, err)
	}
}

func TestTargetOf(t *testing.T) {
	for in, want := range map[string]string{
		``:                           ``,
		`{"id":"a"}`:                 ``,
		`{"id":"a","target":null}`:   ``,
		`not json`:                   ``,
		`{"target":{"groupId":"g"}}`: `{"groupId":"g"}`,
	} {
		if got := string(graph.TargetOf([]byte(in))); got != want {
			t.Errorf("TargetOf(%s) = %s, want %s", in, got, want)
		}
	}
}

// TestAuditBeforeFromTheAssignList: the assign strategy reads the
// configuration's assignments anyway, so its audit line knows the target
// before the change.
func TestAuditBeforeFromTheAssignList(t *testing.T) {
	items := []json.RawMessage{
		json.RawMessage(`{"id":"a","target":{"groupId":"g1"}}`),
		json.RawMessage(`{"id":"b","target":{"groupId":"g2"}}`)}
	before, ok := graph.TargetIn(items, "b")
	if !ok || string(before) != `{"groupId":"g2"}` {
		t.Fatalf("TargetIn = %s, %v", before, ok)
	}
	if before, ok := graph.TargetIn(items, "c"); ok || before != nil {
		t.Errorf("TargetIn(missing) = %s, %v", before, ok)
	}
	if got := string(graph.FindAssignment(items, "a")); got != string(items[0]) {
		t.Errorf("FindAssignment = %s", got)
	}
	if got := graph.FindAssignment(items, "c"); got != nil {
		t.Errorf("FindAssignment(missing) = %s", got)
	}
}

// TestV1OmitsBetaOnlyFieldsOfKeptTargets: a v1.0 list that still carried
// filter properties (or annotations) does not make the assign body carry
// them.
func TestV1OmitsBetaOnlyFieldsOfKeptTargets(t *testing.T) {
	items := []json.RawMessage{
		json.RawMessage(`{"id":"a_1","source":"direct","sourceId":null,"target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"` + groupCorporate + `"}}`),
		json.RawMessage(`{"id":"a_2","source":"policySets","sourceId":"ps","target":{"@odata.type":"#microsoft.graph.exclusionGroupAssignmentTarget","groupId":"` + groupExcluded + `","deviceAndAppManagementAssignmentFilterId":null,"deviceAndAppManagementAssignmentFilterType":"none","@odata.etag":"x"}}`),
	}
	req := &change.Request{ConfigurationID: "c", AssignmentID: "a_1", Assignment: change.Assignment{
		Target: &change.Target{ODataType: change.TypeGroup, GroupID: newGroup}}}
	s, err := graph.NewAssignSet(items, req, false)
	if err != nil {
		t.Fatal(err)
	}
	set := s.Members
	want := []string{
		`{"id":"a_1","target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"` + newGroup + `"}}`,
		`{"id":"a_2","target":{"@odata.type":"#microsoft.graph.exclusionGroupAssignmentTarget","groupId":"` + groupExcluded + `"}}`,
	}
	for i := range want {
		if string(set[i]) != want[i] {
			t.Errorf("v1.0 member %d = %s, want %s", i, set[i], want[i])
		}
	}
	// On beta the kept member keeps source, sourceId and its filter, the
	// changed one keeps its source when the request sets none.
	s, err = graph.NewAssignSet(items, req, true)
	if err != nil {
		t.Fatal(err)
	}
	set = s.Members
	if !strings.Contains(string(set[0]), `"source":"direct","sourceId":null`) ||
		!strings.Contains(string(set[1]), `"deviceAndAppManagementAssignmentFilterType":"none"`) ||
		!strings.Contains(string(set[1]), `"source":"policySets","sourceId":"ps"`) || strings.Contains(string(set[1]), "etag") {
		t.Errorf("beta set = %s", set)
	}
}

// TestNewAssignSetRefusals: a list without the assignment is not-found; a
// list Graph garbled is unavailable; a kept member without a target is
// refused rather than sent without one.
func TestNewAssignSetRefusals(t *testing.T) {
	req := &change.Request{ConfigurationID: "c", AssignmentID: "a_1", Assignment: change.Assignment{
		Target: &change.Target{ODataType: change.TypeAllDevices}}}
	target := `"target":{"@odata.type":"#microsoft.graph.allLicensedUsersAssignmentTarget"}`
	for _, tc := range []struct {
		items []string
		want  change.Code
	}{
		{[]string{`{"id":"a_2",` + target + `}`}, change.CodeNotFound},
		{[]string{`{` + target + `}`}, change.CodeUnavailable},
		{[]string{`{"id":"a_1",` + target + `}`, `{"id":"a_1",` + target + `}`}, change.CodeUnavailable},
		{[]string{`{"id":"a_1",` + target + `}`, `{"id":"a_2"}`}, change.CodeGraphRefused},
	} {
		var items []json.RawMessage
		for _, it := range tc.items {
			items = append(items, json.RawMessage(it))
		}
		if _, err := graph.NewAssignSet(items, req, true); change.ErrorCode(err) != tc.want {
			t.Errorf("NewAssignSet(%s) = %v, want %s", tc.items, err, tc.want)
		}
	}
}

// TestAssignSetChangedFindsTheRenamedAssignment: after assign the changed
// assignment is found by its old id, else by the target sent among the
// assignments that are not kept ones; on beta a filter of none equals no
// filter.
func TestAssignSetChangedFindsTheRenamedAssignment(t *testing.T) {
	items := []json.RawMessage{
		json.RawMessage(`{"id":"a_1","target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}}`),
		json.RawMessage(`{"id":"a_2","target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"` + groupCorporate + `"}}`),
	}
	req := &change.Request{ConfigurationID: "c", AssignmentID: "a_1", Assignment: change.Assignment{
		Target: &change.Target{ODataType: change.TypeGroup, GroupID: strings.ToUpper(newGroup)}}}
	s, err := graph.NewAssignSet(items, req, true)
	if err != nil {
		t.Fatal(err)
	}
	sent := `{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"` + newGroup + `","deviceAndAppManagementAssignmentFilterType":"none"}`
	for _, tc := range []struct {
		name   string
		after  []string
		wantID string
	}{
		{"same id", []string{`{"id":"a_2","target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"` + groupCorporate + `"}}`, `{"id":"a_1","target":` + sent + `}`}, "a_1"},
		{"new id", []string{`{"id":"a_2","target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"` + groupCorporate + `"}}`, `{"id":"a_9","target":` + sent + `}`}, "a_9"},
		{"a kept one is not it", []string{`{"id":"a_2","target":` + sent + `}`}, ""},
		{"another target", []string{`{"id":"a_1","target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}}`}, ""},
	} {
		var after []json.RawMessage
		for _, a := range tc.after {
			after = append(after, json.RawMessage(a))
		}
		body, id := s.Changed(after)
		if id != tc.wantID || (id == "") != (body == nil) {
			t.Errorf("%s: Changed = %s, %q, want id %q", tc.name, body, id, tc.wantID)
		}
	}
}

// TestPatchedAndChanges: a dry run's after is the PATCH's merge (the target
// whole, source and sourceId only when set), and its changes are the values
// that differ, by escaped JSON pointer, sorted, numbers as written.
func TestPatchedAndChanges(t *testing.T) {
	before := json.RawMessage(`{"id":"a_1","source":"direct","sourceId":null,"n":1.50,"a/b~c":1,` +
		`"target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"` + groupCorporate + `",` +
		`"deviceAndAppManagementAssignmentFilterId":"f","deviceAndAppManagementAssignmentFilterType":"include"}}`)
	req := &change.Request{ConfigurationID: "c", AssignmentID: "a_1", Assignment: change.Assignment{
		Target: &change.Target{ODataType: change.TypeGroup, GroupID: newGroup}}}
	after, err := graph.Patched(before, req)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(after, &m); err != nil {
		t.Fatal(err)
	}
	if string(m["source"]) != `"direct"` || string(m["n"]) != `1.50` || !strings.Contains(string(m["target"]), newGroup) ||
		strings.Contains(string(m["target"]), "include") {
		t.Errorf("Patched = %s", after)
	}
	changes, err := graph.Changes(before, after)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, c := range changes {
		paths = append(paths, c.Path)
	}
	want := "/target/deviceAndAppManagementAssignmentFilterId /target/deviceAndAppManagementAssignmentFilterType /target/groupId"
	if got := strings.Join(paths, " "); got != want {
		t.Errorf("Changes paths = %s, want %s", got, want)
	}
	if c := changes[1]; c.From != "include" || c.To != nil {
		t.Errorf("filter type change = %+v, want include to null", c)
	}
	more, err := graph.Changes(json.RawMessage(`{"a/b~c":1}`), json.RawMessage(`{"a/b~c":2}`))
	if err != nil || len(more) != 1 || more[0].Path != "/a~1b~0c" {
		t.Errorf("Changes = %+v, %v; want the escaped pointer /a~1b~0c", more, err)
	}
	if _, err := graph.Changes(json.RawMessage(`{`), after); err == nil {
		t.Error("Changes of a broken document = nil error")
	}
}

// TestInEffect: whether Graph already holds what a change makes of an
// assignment, as a retry after a lost answer asks it: targets compare by
// what they target (a filter of type none equals none sent, and filters
// count on beta only); source and sourceId only when the change sets them.
func TestInEffect(t *testing.T) {
	const group = `"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"5e6f0000-0000-0000-0000-000000000001"`
	req := func(target, extra string) *change.Request {
		t.Helper()
		r, err := change.Decode([]byte(`{"ticket":{"id":"CHG1","state":"approved","requestedBy":"a@contoso.com","approvedBy":"b@contoso.com"},`+
			`"configurationId":"2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_Windows10EnrollmentCompletionPageConfiguration",`+
			`"assignmentId":"2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_5e6f0000-0000-0000-0000-000000000001","assignment":{"target":{`+target+`}`+extra+`}}`), nil)
		if err != nil {
			t.Fatalf("%s: %+v", target+extra, err)
		}
		return r
	}
	held := func(target, extra string) json.RawMessage {
		return json.RawMessage(`{"id":"a1","target":{` + target + `}` + extra + `}`)
	}
	noFilter := `,"deviceAndAppManagementAssignmentFilterId":null,"deviceAndAppManagementAssignmentFilterType":"none"`
	include := `,"deviceAndAppManagementAssignmentFilterId":"a1b2c3d4-0000-0000-0000-00000000f117","deviceAndAppManagementAssignmentFilterType":"include"`
	for _, tc := range []struct {
		name    string
		current json.RawMessage
		req     *change.Request
		beta    bool
		want    bool
	}{
		{"no filter sent, none held", held(group+noFilter, `,"source":"direct"`), req(group, ""), true, true},
		{"the same group in capitals", held(`"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"5E6F0000-0000-0000-0000-000000000001"`, ""), req(group, ""), true, true},
		{"the filter sent is held", held(group+include, ""), req(group+include, ""), true, true},
		{"a filter held, none sent", held(group+include, ""), req(group, ""), true, false},
		{"filters do not count on v1.0", held(group+include, ""), req(group, ""), false, true},
		{"another group", held(strings.Replace(group, "5e6f", "7a8b", 1), ""), req(group, ""), true, false},
		{"another kind of target", held(`"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"`, ""), req(group, ""), true, false},
		{"the source sent is held", held(group, `,"source":"policySets","sourceId":"ps1"`), req(group, `,"source":"policySets","sourceId":"ps1"`), true, true},
		{"another source held", held(group, `,"source":"direct"`), req(group, `,"source":"policySets"`), true, false},
		{"another sourceId held", held(group, `,"source":"policySets","sourceId":"ps2"`), req(group, `,"sourceId":"ps1"`), true, false},
		{"not an assignment", json.RawMessage(`[]`), req(group, ""), true, false},
	} {
		if got := graph.InEffect(tc.current, tc.req, tc.beta); got != tc.want {
			t.Errorf("%s: InEffect = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestSameAssignment: two readings of an assignment assign the same when
// target (by what it targets), source and sourceId agree, whatever else
// differs between the item GET and the list.
func TestSameAssignment(t *testing.T) {
	const get = `{"@odata.context":"x","id":"a1","source":"direct","sourceId":null,"target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"5e6f0000-0000-0000-0000-000000000001","deviceAndAppManagementAssignmentFilterId":null,"deviceAndAppManagementAssignmentFilterType":"none"}}`
	for _, tc := range []struct {
		name string
		b    string
		beta bool
		want bool
	}{
		{"the list's reading, without a filter", `{"id":"a1","source":"direct","target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"5E6F0000-0000-0000-0000-000000000001"}}`, true, true},
		{"another group", strings.Replace(get, "5e6f", "7a8b", 1), true, false},
		{"a filter", strings.Replace(strings.Replace(get, `"none"`, `"include"`, 1), `FilterId":null`, `FilterId":"f1"`, 1), true, false},
		{"a filter, on v1.0", strings.Replace(strings.Replace(get, `"none"`, `"include"`, 1), `FilterId":null`, `FilterId":"f1"`, 1), false, true},
		{"another source", strings.Replace(get, `"direct"`, `"policySets"`, 1), true, false},
		{"another sourceId", strings.Replace(get, `"sourceId":null`, `"sourceId":"ps1"`, 1), true, false},
		{"not JSON", `{`, true, false},
		{"no target", `{"id":"a1","source":"direct","sourceId":null}`, true, false},
	} {
		if got := graph.SameAssignment(json.RawMessage(get), json.RawMessage(tc.b), tc.beta); got != tc.want {
			t.Errorf("%s: SameAssignment = %v, want %v", tc.name, got, tc.want)
		}
	}
	if none := json.RawMessage(`{"id":"a1"}`); graph.SameAssignment(none, none, true) {
		t.Error("two readings without a target assign the same; want not (nothing to compare)")
	}
}

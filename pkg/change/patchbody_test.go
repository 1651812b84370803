package change

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestPatchBodyIsTheAssignmentAsMarshalled: PatchBody is, byte for byte,
// what the PATCH sent before it existed (json.Marshal of the Assignment),
// for every testdata and fuzz-corpus body that decodes, and it is encoded
// once: the second call gives the same bytes, not a new encoding.
func TestPatchBodyIsTheAssignmentAsMarshalled(t *testing.T) {
	n := 0
	for _, body := range seedBodies(t) {
		r, err := Decode(body, nil)
		if err != nil {
			continue
		}
		n++
		want, _ := json.Marshal(&r.Assignment)
		got := r.PatchBody()
		if !bytes.Equal(got, want) {
			t.Errorf("Decode(%q).PatchBody() = %s, want %s", body, got, want)
		}
		if again := r.PatchBody(); &again[0] != &got[0] {
			t.Errorf("Decode(%q): PatchBody encoded the assignment again", body)
		}
		if bytes.Contains(got, []byte(`"id"`)) {
			t.Errorf("Decode(%q).PatchBody() = %s sends the assignment id", body, got)
		}
	}
	if n < 3 {
		t.Fatalf("only %d testdata bodies decode", n)
	}
}

// TestNormalizeDropsAnEarlierPatchBody: a request encoded before Normalize
// sends the normalized assignment (the '#' type, no id), not the encoding
// made before.
func TestNormalizeDropsAnEarlierPatchBody(t *testing.T) {
	r := &Request{AssignmentID: "a", Assignment: Assignment{ID: "a", Target: &Target{ODataType: "microsoft.graph.allDevicesAssignmentTarget"}}}
	if before := string(r.PatchBody()); before != `{"id":"a","target":{"@odata.type":"microsoft.graph.allDevicesAssignmentTarget"}}` {
		t.Fatalf("PatchBody before Normalize = %s", before)
	}
	r.Normalize()
	want := `{"@odata.type":"#microsoft.graph.enrollmentConfigurationAssignment","target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}}`
	if got := string(r.PatchBody()); got != want {
		t.Errorf("PatchBody after Normalize = %s, want %s", got, want)
	}
}

// TestPatchBodyEscapesAsMarshal: strings json.Marshal escapes (HTML
// characters, U+2028, invalid UTF-8) are escaped the same way, so Graph
// receives what it received before.
func TestPatchBodyEscapesAsMarshal(t *testing.T) {
	odd := "<b>&</b>\u2028\xff\"\\"
	r := &Request{Assignment: Assignment{Source: odd, SourceID: odd, Target: &Target{ODataType: odd, GroupID: odd}}}
	want, _ := json.Marshal(&r.Assignment)
	if got := r.PatchBody(); !bytes.Equal(got, want) || !json.Valid(got) {
		t.Errorf("PatchBody() = %s, want %s", got, want)
	}
}

// FuzzPatchBody holds the hand-written encoding of an assignment to
// json.Marshal's for any strings in any of its properties, a missing
// target included.
func FuzzPatchBody(f *testing.F) {
	f.Add("#microsoft.graph.enrollmentConfigurationAssignment", "", "#microsoft.graph.groupAssignmentTarget", "5e6f0000-0000-0000-0000-000000000001", "", "include", "direct", true)
	f.Add("", "a<b>&c", "\u2028\x00\xff", "", "\"\\/\b\f\n\r\t", "", "", false)
	f.Fuzz(func(t *testing.T, odata, id, ttype, group, coll, filterType, source string, target bool) {
		a := Assignment{ODataType: odata, ID: id, Source: source, SourceID: coll + group}
		if target {
			a.Target = &Target{ODataType: ttype, GroupID: group, CollectionID: coll, TargetType: source,
				EntraObjectID: id, FilterID: odata, FilterType: filterType}
		}
		want, err := json.Marshal(&a)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.appendJSON(nil); !bytes.Equal(got, want) {
			t.Fatalf("appendJSON = %s\njson.Marshal = %s", got, want)
		}
	})
}

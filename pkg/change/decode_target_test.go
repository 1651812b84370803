package change

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// sameDecodeTarget fails t unless DecodeTarget and the old two-pass
// DecodeTarget (the oracle) agree on raw: both accept it with equal
// targets, or both refuse it with the same fields.
func sameDecodeTarget(t *testing.T, raw []byte, opts *Options) {
	t.Helper()
	const at = "/data/intune/target"
	got, fields := DecodeTarget(raw, at, opts)
	want, wantFields := oracleDecodeTarget(raw, at, opts)
	if !reflect.DeepEqual(got, want) || !slices.Equal(fields, wantFields) {
		t.Fatalf("DecodeTarget(%q) = %+v, %v;\nthe old DecodeTarget = %+v, %v", raw, got, fields, want, wantFields)
	}
}

// oddTargets are targets at the edges of both forms and of encoding/json's
// decoding: which form a name picks, names in another case or escaped,
// values of the wrong type, repeats, invalid UTF-8.
var oddTargets = []string{
	``, ` `, `null`, ` null `, "\f{}\v", `nul`, `true`, `5`, `"group"`, `[]`, `["group"]`, `{}`, `{,}`, `{"type":"group",}`, `{"type" "group"}`,
	`{"type":"group"} x`, `{"type":"group"}}`, `{"type":"group"`, `{"type":"gr\qoup"}`, `{"type":"\u12"}`, `{"type":"a` + "\x01" + `"}`,
	`{"type":"group","groupId":"` + guid + `"}`, `{"TYPE":"group","groupId":"` + guid + `"}`, `{"\u0074ype":"allDevices"}`,
	`{"type":"allDevices","TYPE":"group"}`, `{"type":"allDevices","type":"group","groupId":"` + guid + `"}`, `{"type":null}`, `{"type":5}`,
	`{"Type":5,"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}`, `{"type":"group","@odata.type":5,"groupId":"` + guid + `"}`,
	`{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget","filterId":5}`, `{"type":"allDevices","deviceAndAppManagementAssignmentFilterId":5}`,
	`{"type":"allDevices","groupId":5,"filterId":[1]}`, `{"type":"allDevices","groupId":{"a":1},"x":{"y":[1,{"z":null}]}}`,
	`{"@odata.type":"microsoft.graph.groupAssignmentTarget","GROUPID":"` + guid + `","groupid":"x"}`,
	`{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget","type":"allDevices"}`,
	`{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget","filterId":"` + fguid + `","filterType":"include"}`,
	`{"type":"allDevices","deviceAndAppManagementAssignmentFilterId":"` + fguid + `","deviceAndAppManagementAssignmentFilterType":"include"}`,
	`{"type":"allDevices","FilterID":"` + fguid + `","filtertype":"include"}`, `{"type":"group","groupId":"` + guid + `","groupId":null}`,
	`{"type":"collection","collectionId":"SMS00001","x":1,"x":2,"a/b~c":3}`, `{"type":"collection","collectionId":"SMS00001","` + strings.Repeat("é", 40) + `":1}`,
	"{\"type\":\"allDevices\",\"\xff\xfe\":1,\"a\xffb\":2}", "{\"\xff\":1}", `{"type":"allDevices","\ud83d":1,"\ud83d\ude00":2}`,
	"{\"type\":\"gr\xffoup\",\"groupId\":\"" + guid + "\"}", `{"type":"group","groupId":"` + strings.ToUpper(guid) + `"}`,
	`{"type":"scopeTagGroup","targetType":"user","entraObjectId":"` + guid + `","x` + "\u212a" + `":1}`,
	`{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"` + guid + `","@ODATA.TYPE":"#microsoft.graph.exclusionGroupAssignmentTarget"}`,
	`{"type":"allDevices","x":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}`,
	`{"type":"allDevices","x":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`,
}

// seedTargets are oddTargets, the targets of this package's tests and the
// FuzzDecodeTarget corpus, and the targets of the senders' testdata.
func seedTargets(t testing.TB) [][]byte {
	var out [][]byte
	for _, s := range oddTargets {
		out = append(out, []byte(s))
	}
	for _, body := range seedBodies(t) {
		var probe struct {
			Data struct {
				Intune struct {
					Target json.RawMessage `json:"target"`
				} `json:"intune"`
			} `json:"data"`
			Assignment struct {
				Target json.RawMessage `json:"target"`
			} `json:"assignment"`
		}
		if json.Unmarshal(body, &probe) == nil {
			out = append(out, probe.Data.Intune.Target, probe.Assignment.Target)
		}
		if t := strings.TrimSpace(string(body)); strings.HasPrefix(t, "{") && len(t) < 400 {
			out = append(out, body) // a fuzz corpus target, or a small body
		}
	}
	return out
}

func TestDecodeTargetMatchesOracle(t *testing.T) {
	seeds := seedTargets(t)
	if len(seeds) < len(oddTargets)+8 {
		t.Fatalf("found %d targets, want the testdata ones as well", len(seeds))
	}
	for _, raw := range seeds {
		sameDecodeTarget(t, raw, nil)
		sameDecodeTarget(t, raw, &Options{GraphVersion: "v1.0"})
	}
}

func FuzzDecodeTargetMatchesOracle(f *testing.F) {
	for _, raw := range seedTargets(f) {
		if len(raw) < 4096 { // the deep ones only slow the mutator; the test above has them
			f.Add(raw, false)
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte, v1 bool) {
		var opts *Options
		if v1 {
			opts = &Options{GraphVersion: "v1.0"}
		}
		sameDecodeTarget(t, raw, opts)
	})
}

// TestShortTableMatchesStructTags: the table DecodeTarget reads the
// shorthand by names every field of ShortTarget, by its json name, in
// order, and nothing else.
func TestShortTableMatchesStructTags(t *testing.T) {
	var tags []string
	for f := range reflect.TypeFor[ShortTarget]().Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		tags = append(tags, name)
	}
	if !slices.Equal(shortKeys, tags) || !slices.Equal(shortKeys, oracleShortKeys) {
		t.Errorf("shorthand table %q, ShortTarget's json names %q, the old list %q", shortKeys, tags, oracleShortKeys)
	}
	if !slices.Equal(targetObject.names, oracleTargetKeys) {
		t.Errorf("target table %q, the old list %q", targetObject.names, oracleTargetKeys)
	}
}

// BenchmarkDecodeTarget is the cost of reading and validating the
// shorthand target of an ITSM delivery.
func BenchmarkDecodeTarget(b *testing.B) {
	raw := []byte(`{"type":"group","groupId":"` + guid + `","filterId":"` + fguid + `","filterType":"include"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, fields := DecodeTarget(raw, "/data/intune/target", nil); fields != nil {
			b.Fatal(fields)
		}
	}
}

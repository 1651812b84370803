package change

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// sameDecode fails t unless Decode and the old two-pass Decode (the
// oracle) agree on body: both accept it with equal requests, or both
// refuse it with the same code, message and fields.
func sameDecode(t *testing.T, body []byte, opts *Options) {
	t.Helper()
	got, err := Decode(body, opts)
	want, wantErr := oracleDecode(body, opts)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("Decode(%q) = %+v, %v; the old Decode = %+v, %v", body, got, err, want, wantErr)
	}
	if err == nil {
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Decode(%q) = %+v (target %+v), the old Decode = %+v (target %+v)", body, got, got.Assignment.Target, want, want.Assignment.Target)
		}
		return
	}
	var ge, we *Error
	if !errors.As(err, &ge) || !errors.As(wantErr, &we) {
		t.Fatalf("Decode(%q) = %v, the old Decode = %v: not *Error", body, err, wantErr)
	}
	if ge.Code != we.Code || ge.Message != we.Message || !slices.Equal(ge.Fields, we.Fields) {
		t.Fatalf("Decode(%q) refuses with %s %q %v;\nthe old Decode with %s %q %v", body, ge.Code, ge.Message, ge.Fields, we.Code, we.Message, we.Fields)
	}
}

// oddBodies are bodies at the edges of JSON and of encoding/json's
// decoding, each compared with the oracle and used to seed the fuzz
// target.
var oddBodies = []string{
	``, ` `, `null`, ` null `, `nul`, `nullx`, `true`, `false`, `0`, `-0.5e+7`, `01`, `1.`, `-`, `1e`, `"x"`, `[]`, `[1,]`, `{}`, `{,}`, `{"a":1,}`,
	`{"a" 1}`, `{"a":}`, `{"a":1 "b":2}`, `{"a":1}x`, `{"a":1}  `, "\ufeff{}", `{"a":"\x01"}`, `{"a":"\q"}`, `{"a":"\u12"}`, `{"a":"\u12G4"}`,
	`{"ticket":null,"assignment":null}`, `{"assignment":5}`, `{"assignment":[{"x":1}]}`, `{"assignment":{"target":null,"x":1}}`,
	`{"assignment":{"target":"all","x":1}}`, `{"assignment":{"target":{"y":1},"x":1},"ticket":[]}`,
	`{"ticket":5,"assignment":{"target":{"y":1},"x":1}}`, `{"assignment":{"target":{"y":1},"x":1},"assignment":{"z":1}}`,
	`{"assignment":{"x":1,"target":{"y":true}},"ASSIGNMENT":{"z":1}}`, `{"assignment":{"x":1},"assignment":"s"}`,
	`{"assignment":{"target":{"groupId":"a"},"target":null,"target":{"collectionId":"b"}}}`,
	`{"configurationId":"a","configurationId":null}`, `{"configurationId":null}`, `{"configurationId":{"a":1,"a":2}}`,
	`{"configurationId":"\ud83d\ude00\ud83d\u0041\ude00\udc00\ud800\ud800\udc00"}`, "{\"configurationId\":\"a\xff\xfeb\xed\xa0\x80\xc0\xaf\"}",
	"{\"x\xff\":1,\"x\xfe\":2}", "{\"x\xff\xfe\":1,\"x\\ufffd\\ufffd\":2}", "{\"assignment\":{\"ta\xffrget\":1,\"\\u0074arget\":{\"\xff\":1}}}",
	"{\"tic\u212aet\":{\"id\":\"K\"},\"a\u017f\u017fignment\":{\"target\":{\"@odata.type\":\"x\"}},\"configuration\u0131d\":\"c\"}",
	`{"tic\u212aet":{"id":"K"},"ticket":{"state":"s"}}`, `{"TICKET":{"ID":"a","Id":"b"}}`, `{"Record":"x","-":"y"}`,
	`{"a":{"b":[{"c":{"d":[[{"e":{"f":{"g":{"h":{"x":1,"x":2}}}}}]]}}]},"a":0}`, `{"a":[{"x":1,"x":2},{"y":"}"}],"b":{"c":{"d":1,"d":2}}}`,
	`{"a/b~c":1,"a/b~c":2}`, `{"` + strings.Repeat("é", 40) + `":1,"` + strings.Repeat("É", 40) + `":2}`,
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000), strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	`{"a":` + strings.Repeat(`{"a":`, 9998) + `1` + strings.Repeat("}", 9999),
	`{"a":` + strings.Repeat(`{"a":`, 9999) + `1` + strings.Repeat("}", 10000),
	manyNames(40, false), manyNames(40, true),
	strings.TrimSuffix(manyNames(20, false), "}") + ",\"sk\":1,\"\u017f\u212a\":2,\"\xff\":3,\"\\ufffd\":4,\"x\u0131\":5,\"XI\":6}",
	"[" + strings.Repeat(`{"a":1,"a":2},`, 40) + `{"a":1,"A":2}]`,
}

// manyNames is an object of n distinct names, the last repeating the
// first in another case when repeat is set.
func manyNames(n int, repeat bool) string {
	var b strings.Builder
	b.WriteString(`{"Name":0`)
	for i := 1; i < n; i++ {
		b.WriteString(`,"n` + strconv.Itoa(i) + `":` + strconv.Itoa(i))
	}
	if repeat {
		b.WriteString(`,"nAME":1`)
	}
	b.WriteString("}")
	return b.String()
}

// seedBodies are the bodies of testdata (this package's and the senders'),
// the corpora of the existing decode fuzz targets and oddBodies.
func seedBodies(t testing.TB) [][]byte {
	var out [][]byte
	for _, s := range oddBodies {
		out = append(out, []byte(s))
	}
	var files []string
	for _, pattern := range []string{"testdata/envelope/*.json", "../*/testdata/*.json", "../source/*/testdata/*.json"} {
		m, _ := filepath.Glob(pattern)
		files = append(files, m...)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	for _, dir := range []string{"testdata/fuzz/FuzzDecode", "testdata/fuzz/FuzzDecodeTarget"} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			_, arg, _ := strings.Cut(string(b), "\n")
			arg = strings.TrimSpace(arg)
			if s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(arg, "[]byte("), ")")); err == nil {
				out = append(out, []byte(s))
			}
		}
	}
	return out
}

func TestDecodeMatchesOracle(t *testing.T) {
	bodies := seedBodies(t)
	if len(bodies) < len(oddBodies)+4 {
		t.Fatalf("found %d bodies, want the testdata ones as well", len(bodies))
	}
	for _, body := range bodies {
		sameDecode(t, body, nil)
		sameDecode(t, body, &Options{GraphVersion: "v1.0"})
		if json.Valid(body) {
			if got, want := duplicateKeys(body), oracleDuplicateKeys(body); !slices.Equal(got, want) {
				t.Errorf("duplicateKeys(%q) = %q, the old one %q", body, got, want)
			}
		}
	}
}

func FuzzDecodeMatchesOracle(f *testing.F) {
	for _, body := range seedBodies(f) {
		f.Add(body, false)
	}
	f.Add([]byte(benchBody), true)
	f.Fuzz(func(t *testing.T, body []byte, v1 bool) {
		var opts *Options
		if v1 {
			opts = &Options{GraphVersion: "v1.0"}
		}
		sameDecode(t, body, opts)
		if json.Valid(body) {
			if got, want := duplicateKeys(body), oracleDuplicateKeys(body); !slices.Equal(got, want) {
				t.Fatalf("duplicateKeys(%q) = %q, the old one %q", body, got, want)
			}
		}
	})
}

// TestDecodeMatchesNamesAsEncodingJSON: a property name matches a field
// ignoring case by Unicode simple folding, as encoding/json matches them:
// the Kelvin sign is a k and the long s an s, but the dotless ı is no i.
// Names that match one field are one property, so sending both is a
// repeat.
func TestDecodeMatchesNamesAsEncodingJSON(t *testing.T) {
	group := `{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"` + guid + `"}`
	body := strings.Replace(envelope(target(group)), `"ticket"`, `"tic`+"\u212a"+`et"`, 1)
	body = strings.Replace(body, `"assignment"`, `"a`+"\u017f\u017f"+`ignment"`, 1)
	r, err := Decode([]byte(body), nil)
	if err != nil {
		t.Fatalf("Decode(%s) = %v", body, err)
	}
	if r.Ticket.ID != "CHG0030042" || r.Assignment.Target.GroupID != guid {
		t.Errorf("Decode(%s) = %+v, target %+v; want the ticket and group read", body, r, r.Assignment.Target)
	}
	sameDecode(t, []byte(body), nil)

	dotless := strings.Replace(envelope(target(group)), `"configurationId"`, `"configurat`+"\u0131"+`onId"`, 1)
	_, err = Decode([]byte(dotless), nil)
	var ce *Error
	if !errors.As(err, &ce) || !hasField(ce, "/configurationId") {
		t.Errorf("Decode(%s) = %v, want /configurationId required", dotless, err)
	}
	sameDecode(t, []byte(dotless), nil)

	twice := strings.Replace(envelope(target(group)), `"configurationId"`, `"tic`+"\u212a"+`et":{},"configurationId"`, 1)
	_, err = Decode([]byte(twice), nil)
	if !errors.As(err, &ce) || !hasField(ce, "/tic\u212aet") {
		t.Errorf("Decode(%s) = %v, want a repeat at /tic\u212aet", twice, err)
	}
	sameDecode(t, []byte(twice), nil)
}

// TestDecodeUnescapesAsEncodingJSON: values are unescaped as encoding/json
// does, invalid UTF-8 and lone surrogates becoming U+FFFD.
func TestDecodeUnescapesAsEncodingJSON(t *testing.T) {
	for _, v := range []string{`a\u00e9\/\"\\\b\f\n\r\t`, `\ud83d\ude00`, `\ud83d`, `\ude00x`, `\ud83d\u0041`, `\ud800\ud800\udc00`, "\xff\xfe", "\xed\xa0\x80", "é\xc3"} {
		body := strings.Replace(envelope(target(`{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}`)), `"requestedBy":"alice@contoso.com"`, `"requestedBy":"`+v+`"`, 1)
		var want string
		if err := json.Unmarshal([]byte(`"`+v+`"`), &want); err != nil {
			t.Fatal(err)
		}
		r, err := Decode([]byte(body), nil)
		if err != nil {
			// A control character is refused by the rules; the oracle
			// agrees below.
			sameDecode(t, []byte(body), nil)
			continue
		}
		if r.Ticket.RequestedBy != want {
			t.Errorf("Decode(requestedBy %q) = %q, want %q", v, r.Ticket.RequestedBy, want)
		}
		sameDecode(t, []byte(body), nil)
	}
}

// TestTablesMatchStructTags: the tables Decode reads by name every field
// encoding/json would decode, by its json name, and nothing else; a field
// added to a struct without its line in a table fails here.
func TestTablesMatchStructTags(t *testing.T) {
	var walk func(o *object, typ reflect.Type, at string)
	walk = func(o *object, typ reflect.Type, at string) {
		if typ.Kind() == reflect.Pointer {
			if o.open == nil || o.null == nil {
				t.Errorf("%s: a pointer field needs open and null", at)
			}
			typ = typ.Elem()
		} else if o.open != nil || o.null != nil {
			t.Errorf("%s: a struct held by value has no open or null", at)
		}
		var tags []string
		for f := range typ.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			tags = append(tags, name)
			p := o.match([]byte(name))
			if p == nil || p.name != name {
				t.Errorf("%s: field %s (json %q) is in no table", at, f.Name, name)
				continue
			}
			switch {
			case f.Type.Kind() == reflect.String && p.str != nil:
			case p.obj != nil && (f.Type.Kind() == reflect.Struct || f.Type.Kind() == reflect.Pointer):
				walk(p.obj, f.Type, p.at)
			default:
				t.Errorf("%s: field %s is a %s, its table line reads another kind", at, f.Name, f.Type)
			}
		}
		if names := o.propNames(); !slices.Equal(names, tags) {
			t.Errorf("%s: table %q, json names %q (same order, please)", at, names, tags)
		}
		folded := map[string]bool{}
		for _, p := range o.props {
			if folded[string(p.folded)] {
				t.Errorf("%s: %q folds like another name: encoding/json would take the first", at, p.name)
			}
			folded[string(p.folded)] = true
		}
	}
	walk(envelopeObject, reflect.TypeFor[Request](), "")
	if !slices.Equal(assignmentKeys, oracleAssignmentKeys) || !slices.Equal(targetKeys, oracleTargetKeys) {
		t.Errorf("allowed properties changed: %q, %q", assignmentKeys, targetKeys)
	}
}

package change

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"
)

// walk reads the value at s as an adapter's reader would: objects member
// by member (strings read, other values skipped, objects walked), and
// returns the strings it read by name.
func walk(s *Scanner, got map[string]string) bool {
	switch s.Peek() {
	case '[':
		return s.Elements(func() bool { return walk(s, got) })
	case '{':
	default:
		return s.Skip()
	}
	return s.Members(func(name []byte) bool {
		switch s.Peek() {
		case '"':
			v, ok := s.String()
			if utf8.Valid(name) { // encoding/json's map keys replace invalid UTF-8
				got[string(name)] = v
			}
			return ok
		case '{':
			return walk(s, got)
		}
		raw, ok := s.Raw()
		return ok && json.Valid(raw)
	})
}

var scannerSeeds = []string{
	`{}`, `{"a":"b","c":{"d":"\u00e9\ud800x","e":[1,{"f":null}]},"g":-1.5e3}`, `{"a":1,"a":2}`, `{"a":{"b":1,"B":2}}`,
	`{"a":[{"x":1,"x":1}]}`, `{"a":"` + "\xff" + `"}`, `{"a":tru}`, `{"a":1}x`, `[1,2]`, `"s"`, `{"a":"b"`, ` {"k" : "v" } `,
}

// FuzzScanner holds the Scanner to encoding/json (what is well-formed, and
// each string as Unmarshal reads it) and to DuplicateFields (a repeated
// name at any depth).
func FuzzScanner(f *testing.F) {
	for _, s := range scannerSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		s := NewScanner(body)
		got := map[string]string{}
		ok := walk(s, got) && s.End()
		if ok != json.Valid(body) {
			t.Fatalf("Scanner read %q: %v, encoding/json.Valid says %v", body, ok, json.Valid(body))
		}
		if !ok {
			return
		}
		if s.Repeated() != (len(duplicateKeys(body)) > 0) {
			t.Fatalf("Scanner.Repeated(%q) = %v, DuplicateFields says %v", body, s.Repeated(), duplicateKeys(body))
		}
		if s.Repeated() {
			return // the last of a repeated name counts for encoding/json; got has the last too, but not its depth
		}
		var flat map[string]any
		if json.Unmarshal(body, &flat) != nil {
			return
		}
		var check func(m map[string]any)
		check = func(m map[string]any) {
			for k, v := range m {
				switch v := v.(type) {
				case string:
					if got[k] != v {
						t.Fatalf("Scanner read %q as %q, encoding/json as %q (in %q)", k, got[k], v, body)
					}
				case map[string]any:
					check(v)
				}
			}
		}
		if len(got) == countStrings(flat) {
			check(flat)
		}
	})
}

// countStrings counts the string members of m's objects, not in arrays.
func countStrings(m map[string]any) int {
	n := 0
	for _, v := range m {
		switch v := v.(type) {
		case string:
			n++
		case map[string]any:
			n += countStrings(v)
		}
	}
	return n
}

func TestScanner(t *testing.T) {
	for _, s := range scannerSeeds {
		sc := NewScanner([]byte(s))
		got := map[string]string{}
		ok := walk(sc, got) && sc.End()
		if ok != json.Valid([]byte(s)) {
			t.Errorf("Scanner read %q: %v", s, ok)
		}
	}
	s := NewScanner([]byte(`{"a":"x\u00e9","b":{"c":"\ud800"}}`))
	got := map[string]string{}
	if !walk(s, got) || !s.End() || s.Repeated() || got["a"] != "xé" || got["c"] != "\uFFFD" {
		t.Errorf("Scanner read %v, repeated %v", got, s.Repeated())
	}
	s = NewScanner([]byte(`{"a":{"b":1,"B":2}}`))
	if !walk(s, map[string]string{}) || !s.End() || !s.Repeated() {
		t.Errorf("a name repeated in another letter case is not Repeated")
	}
}

// TestSkipOther: an unknown name's value is skipped; a known name in
// another letter case, or a name that is not ASCII, is left to
// encoding/json (false, nothing read).
func TestSkipOther(t *testing.T) {
	for _, tt := range []struct {
		body string
		want bool
	}{
		{`{"extra":{"a":[1]}}`, true},
		{`{"Number":"x"}`, false},
		{`{"nUMBER":"x"}`, false},
		{`{"ſtate":"x"}`, false},
		{`{"numbers":"x"}`, true},
	} {
		s := NewScanner([]byte(tt.body))
		got := s.Members(func(name []byte) bool { return s.SkipOther(name, "number", "state") })
		if got != tt.want || got && !s.End() {
			t.Errorf("SkipOther in %s = %v, want %v", tt.body, got, tt.want)
		}
	}
}

// sameScannerTarget: a target read in a sender's pass (Scanner.Target,
// inside {"data":{"target": raw, "after": 1}}) decodes to what
// DecodeTarget returns for raw's bytes, under both Graph versions; the
// pass goes on after it; it reports a repeated name where DuplicateFields
// finds one; and it fails where the body is not JSON.
func sameScannerTarget(t *testing.T, raw []byte) {
	t.Helper()
	body := append(append([]byte(`{"data":{"target": `), raw...), `, "after": 1}}`...)
	s := NewScanner(body)
	var r *TargetReading
	after := false
	ok := s.Members(func(name []byte) bool {
		return s.Members(func(name []byte) bool {
			switch string(name) {
			case "target":
				var ok bool
				r, ok = s.Target()
				return ok
			case "after":
				after = true
			}
			return s.Skip()
		})
	}) && s.End()
	if !json.Valid(body) {
		if ok {
			t.Fatalf("Scanner.Target read %q, which is not JSON", body)
		}
		return
	}
	if !json.Valid(raw) {
		return // not one value, but members of the object around it
	}
	if !ok || r == nil || !after {
		t.Fatalf("Scanner.Target did not read %q (target %v, went on %v)", raw, r != nil, after)
	}
	if got, want := s.Repeated(), len(DuplicateFields(body)) > 0; got != want {
		t.Fatalf("Scanner.Target in %q: repeated %v, DuplicateFields says %v", body, got, want)
	}
	if r.Null() != (string(bytes.TrimSpace(raw)) == "null") {
		t.Fatalf("Scanner.Target(%q).Null() = %v", raw, r.Null())
	}
	for _, opts := range []*Options{nil, {GraphVersion: "v1.0"}} {
		got, gotFields := r.Decode("/data/target", opts)
		want, wantFields := DecodeTarget(raw, "/data/target", opts)
		if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(gotFields, wantFields) {
			t.Fatalf("Scanner.Target(%q) under %+v = %+v, %v; DecodeTarget = %+v, %v", raw, opts, got, gotFields, want, wantFields)
		}
	}
}

func TestScannerTargetIsDecodeTarget(t *testing.T) {
	seeds := seedTargets(t)
	for _, raw := range append(seeds, []byte(`null`), []byte(`"group"`), []byte(`[1]`), []byte(`{"type":"group","groupId":"x","groupId":"y"}`),
		[]byte(`{"type":"group","GROUPID":"x","groupId":"y"}`), []byte(`{"type":"allDevices","x":{"a":1,"a":2}}`), []byte(`{"type":`)) {
		if len(bytes.TrimSpace(raw)) == 0 {
			continue // no value: not JSON around it, and no target to read
		}
		sameScannerTarget(t, raw)
	}
}

func FuzzScannerTarget(f *testing.F) {
	for _, raw := range seedTargets(f) {
		if len(raw) < 4096 {
			f.Add(raw)
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(bytes.TrimSpace(raw)) == 0 {
			return
		}
		sameScannerTarget(t, raw)
	})
}

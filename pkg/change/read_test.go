package change

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// sameRead fails t unless Read(body) decodes as Decode(body) does, and
// keeps the timestamp encoding/json would read into a field
// `json:"timestamp"` (the last, names matched ignoring case); with Stop,
// unless it stops exactly when the body has a top-level "issue" that is
// not null.
func sameRead(t *testing.T, body []byte, opts *Options) {
	t.Helper()
	rd := Read(body, &ReadOptions{Stamp: "timestamp"})
	got, err := rd.Decode(opts)
	want, wantErr := Decode(body, opts)
	if !reflect.DeepEqual(got, want) || !sameError(err, wantErr) {
		t.Fatalf("Read(%q).Decode = %+v, %v; Decode = %+v, %v", body, got, err, want, wantErr)
	}
	var probe struct {
		Timestamp json.RawMessage `json:"timestamp"`
		Ticket    json.RawMessage `json:"ticket"`
		Issue     json.RawMessage `json:"issue"`
	}
	perr := json.Unmarshal(body, &probe)
	if _, typed := errors.AsType[*json.UnmarshalTypeError](perr); perr != nil && !typed {
		if rd.Stamp != nil || rd.Ticket {
			t.Fatalf("Read(%q) of a body that is not JSON: Stamp %q, Ticket %v", body, rd.Stamp, rd.Ticket)
		}
		return
	}
	if perr == nil && (!bytes.Equal(rd.Stamp, probe.Timestamp) || rd.Ticket != (probe.Ticket != nil)) {
		t.Fatalf("Read(%q): Stamp %q, Ticket %v; encoding/json reads %q, %v", body, rd.Stamp, rd.Ticket, probe.Timestamp, probe.Ticket != nil)
	}
	stopped := Read(body, &ReadOptions{Stop: "issue"})
	if issue := hasIssue(body); perr == nil && stopped.Stopped != issue {
		t.Fatalf("Read(%q, Stop issue).Stopped = %v, want %v", body, stopped.Stopped, issue)
	}
}

// hasIssue reports whether the JSON object body has a top-level property
// named "issue" in any case whose value is not null.
func hasIssue(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return false
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return false
		}
		if strings.EqualFold(key.(string), "issue") && string(v) != "null" {
			return true
		}
	}
	return false
}

func sameError(a, b error) bool {
	var ae, be *Error
	if !errors.As(a, &ae) || !errors.As(b, &be) {
		return a == nil && b == nil
	}
	return ae.Code == be.Code && ae.Message == be.Message && slices.Equal(ae.Fields, be.Fields)
}

// readBodies are bodies with a top-level timestamp, ticket or issue at the
// edges: repeated, in another case, null, of another JSON type, after a
// wrong type or a syntax error.
var readBodies = []string{
	`{"timestamp":1764403200000,"ticket":{"id":"A"}}`, `{"ticket":null,"TimeStamp":"1"}`, `{"timestamp":1,"timestamp":2}`,
	`{"timestamp":1,"TIMESTAMP":{"a":[1,2]}}`, `{"timestamp":null}`, `{"ticket":5,"timestamp":3}`, `{"assignment":{"x":1},"timestamp":-0.5e3}`,
	`{"timestamp":1,"ticket":{}`, `{"timestamp":1} x`, `[{"timestamp":1}]`, `{"a":{"timestamp":1}}`, `{"time\u0073tamp":7}`, `{"timeſtamp":8}`,
	`{"issue":{"key":"A"},"ticket":{}}`, `{"issue":null,"ticket":{}}`, `{"ISSUE":[],"timestamp":1}`, `{"issue":{},"issue":null,"ticket":{}}`,
	`{"ticket":{},"issue":0}`, `{"issue":nul}`, `{"Issue":"x"`,
}

func TestReadMatchesDecode(t *testing.T) {
	bodies := seedBodies(t)
	for _, s := range readBodies {
		bodies = append(bodies, []byte(s))
	}
	for _, body := range bodies {
		sameRead(t, body, nil)
		sameRead(t, body, &Options{GraphVersion: "v1.0"})
	}
}

func FuzzReadMatchesDecode(f *testing.F) {
	for _, body := range seedBodies(f) {
		if len(body) < 4096 {
			f.Add(body, false)
		}
	}
	for _, s := range readBodies {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, body []byte, v1 bool) {
		var opts *Options
		if v1 {
			opts = &Options{GraphVersion: "v1.0"}
		}
		sameRead(t, body, opts)
	})
}

// TestReadStopsAtTheStop: a reading stopped at the other shape's mark has
// read nothing after it, and its Decode refuses.
func TestReadStopsAtTheStop(t *testing.T) {
	rd := Read([]byte(`{"timestamp":1,"issue":{"key":"A"},"ticket":{},"this is":not JSON`), &ReadOptions{Stamp: "timestamp", Stop: "issue"})
	if !rd.Stopped || rd.Ticket || rd.Stamp != nil {
		t.Fatalf("Read = %+v, want stopped with nothing else", rd)
	}
	if _, err := rd.Decode(nil); err == nil {
		t.Errorf("Decode of a stopped reading = nil error")
	}
}

// BenchmarkRead is BenchmarkDecode through Read with a timestamp kept: what
// a Jira Automation envelope costs.
func BenchmarkRead(b *testing.B) {
	body := []byte(strings.Replace(benchBody, `{"ticket"`, `{"timestamp":1764403200000,"ticket"`, 1))
	o := &ReadOptions{Stamp: "timestamp", Stop: "issue"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Read(body, o).Decode(nil); err != nil {
			b.Fatal(err)
		}
	}
}

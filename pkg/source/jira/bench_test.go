package jira

import (
	"bytes"
	"github.com/enrollhook/enrollhook/pkg/source"
	"reflect"

	"net/http"
	"os"
	"testing"
	"time"
)

// BenchmarkDecodeJira is one approving issue event from signed bytes to a
// validated change: Authenticate, then Decode of what it read. Its
// allocation count is the figure to watch: a second parse of the body
// shows up in it.
func BenchmarkDecodeJira(b *testing.B) {
	now := time.UnixMilli(1764403200123)
	raw, err := os.ReadFile("testdata/issue-approved.json")
	if err != nil {
		b.Fatal(err)
	}
	body := Restamp(raw, now)
	src, _ := New(vecSecret, testOptions)
	h := Sign(vecSecret, body)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := authenticateAndDecode(src, h, body, now); err != nil {
			b.Fatal(err)
		}
	}
}

func authenticateAndDecode(src *Source, h http.Header, body []byte, now time.Time) (any, error) {
	d, err := src.Authenticate(h, body, now)
	if err != nil {
		return nil, err
	}
	return src.Decode(d, nil)
}

// TestDecodeReadsTheDelivery holds the one parse of Jira's own webhook:
// once Authenticate has returned, Decode works from what it parsed, so a
// change decoded after the body's bytes are gone is the change decoded
// while they were there. A Decode that parsed the body again would find
// only spaces. (The generic envelope: TestDecodeReadsTheEnvelope.)
func TestDecodeReadsTheDelivery(t *testing.T) {
	now := time.UnixMilli(1764403200123)
	body := Restamp(readTestdata(t, "issue-approved.json"), now)
	src, _ := New(vecSecret, testOptions)
	want, err := src.Decode(source.Delivery{Body: bytes.Clone(body)}, nil)
	if err != nil {
		t.Fatalf("Decode(issue-approved.json) = %v", err)
	}
	d, err := src.Authenticate(Sign(vecSecret, body), body, now)
	if err != nil {
		t.Fatalf("Authenticate(issue-approved.json) = %v", err)
	}
	for i := range body {
		body[i] = ' '
	}
	got, err := src.Decode(d, nil)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Decode after the bytes are gone = %+v, %v; want %+v", got, err, want)
	}
}

// BenchmarkDecodeJiraEnvelope is one Jira Automation envelope from signed
// bytes to a validated change: Authenticate, then Decode of what it read.
func BenchmarkDecodeJiraEnvelope(b *testing.B) {
	now := time.UnixMilli(1764403200123)
	raw, err := os.ReadFile("testdata/automation-envelope.json")
	if err != nil {
		b.Fatal(err)
	}
	body := Restamp(raw, now)
	src, _ := New(vecSecret, testOptions)
	h := Sign(vecSecret, body)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := authenticateAndDecode(src, h, body, now); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDecodeReadsTheEnvelope holds the one parse of the generic envelope
// (Jira Automation's): Authenticate reads it, its signed timestamp with
// it, and Decode validates what was read, so a change decoded after the
// body's bytes are gone is the change decoded while they were there.
func TestDecodeReadsTheEnvelope(t *testing.T) {
	now := time.UnixMilli(1764403200123)
	body := Restamp(readTestdata(t, "automation-envelope.json"), now)
	src, _ := New(vecSecret, testOptions)
	want, err := src.Decode(source.Delivery{Body: bytes.Clone(body)}, nil)
	if err != nil {
		t.Fatalf("Decode(automation-envelope.json) = %v", err)
	}
	d, err := src.Authenticate(Sign(vecSecret, body), body, now)
	if err != nil {
		t.Fatalf("Authenticate(automation-envelope.json) = %v", err)
	}
	for i := range body {
		body[i] = ' '
	}
	got, err := src.Decode(d, nil)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Decode after the bytes are gone = %+v, %v; want %+v", got, err, want)
	}
}

package jira

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/source"
)

// BenchmarkDecodeJira is one approving issue event from signed bytes to a
// validated change: Authenticate, then Decode of what it read. Its
// allocation count is the figure to watch: a second parse of the body
// shows up in it.
func BenchmarkDecodeJira(b *testing.B) {
	benchDecode(b, readTestdata(b, "issue-approved.json"))
}

// benchDecode is the loop of the Jira benchmarks: raw, stamped now and
// signed, authenticated and decoded.
func benchDecode(b *testing.B, raw []byte) {
	now := time.UnixMilli(1764403200123)
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
	benchDecode(b, readTestdata(b, "automation-envelope.json"))
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

// largeIssue is testdata/issue-approved.json with the fields a real Jira
// issue also carries (a description, comments, labels, components,
// attachments, watchers and dozens of unmapped custom fields): 29 KB,
// the size of an issue event as Jira sends one; Decode reads six of its
// fields.
func largeIssue(t testing.TB) []byte {
	t.Helper()
	var b strings.Builder
	b.WriteString(`"fields": {"description": ` + strconv.Quote(strings.Repeat("Move the pilot ring to the new ESP. ", 60)) + `, `)
	b.WriteString(`"comment": {"comments": [`)
	for i := range 20 {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, `{"id": "%d", "author": {"accountId": "5b10a2844c20165700ede21g", "displayName": "Alice Smith", "emailAddress": "alice@contoso.com", "active": true, "timeZone": "Europe/Berlin"}, "body": %s, "created": "2026-11-29T08:%02d:00.000+0000"}`,
			10000+i, strconv.Quote(strings.Repeat("Checked with the service desk. ", 20)), i)
	}
	b.WriteString(`], "maxResults": 20, "total": 20, "startAt": 0}, `)
	b.WriteString(`"labels": ["intune", "esp", "pilot"], "components": [{"id": "10000", "name": "Endpoint"}], `)
	b.WriteString(`"attachment": [{"id": "10001", "filename": "plan.pdf", "size": 48213, "mimeType": "application/pdf", "content": "https://contoso.atlassian.net/rest/api/3/attachment/content/10001"}], `)
	b.WriteString(`"watches": {"self": "https://contoso.atlassian.net/rest/api/3/issue/CHG-42/watchers", "watchCount": 3, "isWatching": false}, `)
	for i := range 60 {
		fmt.Fprintf(&b, `"customfield_%d": {"self": "https://contoso.atlassian.net/rest/api/3/customFieldOption/%d", "value": "Option %d", "id": "%d"}, `, 11000+i, 20000+i, i, 20000+i)
	}
	big := bytes.Replace(readTestdata(t, "issue-approved.json"), []byte(`"fields": {`), []byte(b.String()), 1)
	if !bytes.Contains(big, []byte(`"customfield_11059"`)) || !json.Valid(big) {
		t.Fatal("largeIssue: testdata/issue-approved.json has no \"fields\": { to add to")
	}
	return big
}

// BenchmarkDecodeJiraLargeIssue is BenchmarkDecodeJira for an issue of
// the size Jira sends (largeIssue): the one pass walks every field but
// keeps only those Decode reads.
func BenchmarkDecodeJiraLargeIssue(b *testing.B) {
	benchDecode(b, largeIssue(b))
}

// TestOnePassKeepsTheFieldsDecodeReads: of a real-sized issue the one pass
// keeps only the fields the mapping reads (and the requester's), and the
// change is the one decoded from the whole reading.
func TestOnePassKeepsTheFieldsDecodeReads(t *testing.T) {
	body := largeIssue(t)
	src, _ := New(vecSecret, testOptions)
	rd := readOnePass(body, src.reads)
	if rd == nil {
		t.Fatal("readOnePass did not read the large issue")
	}
	var kept []string
	for k := range rd.w.Issue.read {
		kept = append(kept, k)
	}
	slices.Sort(kept)
	want := []string{"customfield_10150", "customfield_10151", "customfield_10152", "customfield_10153", "customfield_10154", "reporter"}
	if !slices.Equal(kept, want) {
		t.Errorf("kept fields %v, want %v", kept, want)
	}
	got, err := src.Decode(source.Delivery{Body: body, Payload: rd}, nil)
	whole, werr := src.Decode(source.Delivery{Body: body, Payload: read(body)}, nil)
	if err != nil || werr != nil || !reflect.DeepEqual(got, whole) {
		t.Errorf("Decode of the one pass = %+v, %v; of the whole reading %+v, %v", got, err, whole, werr)
	}
}

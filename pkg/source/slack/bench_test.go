package slack

import (
	"bytes"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/chat"
	"github.com/enrollhook/enrollhook/pkg/source"
)

// BenchmarkDecodeSlack is one assign command from signed bytes to an
// invocation: Authenticate, then Invocation of what it read. Its
// allocation count is the figure to watch: a second parse of the form
// shows up in it.
func BenchmarkDecodeSlack(b *testing.B) {
	s, _ := New(vecSecret, &Options{Allow: chat.Allowlist{Tenant: "T0001", Users: []string{"U0456EFGH"}}})
	body := []byte(strings.Replace(vecBody7, "text=CHG0030042+approve", "text="+url.QueryEscape("assign "+cfgID+" "+asgID+" allusers"), 1))
	now := time.Unix(1764403200, 0)
	h, _ := Sign(vecSecret, now, body)
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	b.ReportAllocs()
	for b.Loop() {
		inv, err := authenticateAndRead(s, h, body, now)
		if err != nil || inv.Command == nil {
			b.Fatal(inv, err)
		}
	}
}

func authenticateAndRead(s *Source, h http.Header, body []byte, now time.Time) (*chat.Invocation, error) {
	d, err := s.Authenticate(h, body, now)
	if err != nil {
		return nil, err
	}
	return s.Invocation(h, d)
}

// TestInvocationReadsTheDelivery holds the one parse: once Authenticate
// has returned, Invocation works from the form it parsed, so a command
// read after the body's bytes are gone is the command read while they
// were there. An Invocation that parsed the body again would find only
// spaces.
func TestInvocationReadsTheDelivery(t *testing.T) {
	s, _ := New(vecSecret, &Options{Allow: chat.Allowlist{Tenant: "T0001", Users: []string{"U0456EFGH"}}})
	body := []byte(strings.Replace(vecBody7, "text=CHG0030042+approve", "text="+url.QueryEscape("assign "+cfgID+" "+asgID+" allusers"), 1))
	now := time.Unix(1764403200, 0)
	h, _ := Sign(vecSecret, now, body)
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	d, err := s.Authenticate(h, body, now)
	if err != nil {
		t.Fatal(err)
	}
	want, err := s.Invocation(h, source.Delivery{ID: d.ID, Body: bytes.Clone(body)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range body {
		body[i] = ' '
	}
	got, err := s.Invocation(h, d)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Invocation after the bytes are gone = %+v, %v; want %+v", got, err, want)
	}
}

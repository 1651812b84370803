package teams

import (
	"bytes"
	"net/http"
	"reflect"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/chat"
	"github.com/enrollhook/enrollhook/pkg/source"
)

// BenchmarkDecodeTeams is one assign command from signed bytes to an
// invocation: Authenticate, then Invocation of what it read. Its
// allocation count is the figure to watch: a second parse of the body
// shows up in it.
func BenchmarkDecodeTeams(b *testing.B) {
	s, _ := New(vecToken, &Options{Allow: chat.Allowlist{Tenant: tenant, Users: []string{aad}}})
	body := []byte(sample("<at>IntuneBot</at> assign "+cfgID+" "+asgID+" alldevices", now))
	h := signed(string(body))
	h.Set("Content-Type", "application/json")
	b.ReportAllocs()
	for b.Loop() {
		inv, err := authenticateAndRead(s, h, body)
		if err != nil || inv.Command == nil {
			b.Fatal(inv, err)
		}
	}
}

func authenticateAndRead(s *Source, h http.Header, body []byte) (*chat.Invocation, error) {
	d, err := s.Authenticate(h, body, now)
	if err != nil {
		return nil, err
	}
	return s.Invocation(h, d)
}

// TestInvocationReadsTheDelivery holds the one parse: once Authenticate
// has returned, Invocation works from the activity it parsed, so a command
// read after the body's bytes are gone is the command read while they
// were there. An Invocation that parsed the body again would find only
// spaces.
func TestInvocationReadsTheDelivery(t *testing.T) {
	s, _ := New(vecToken, &Options{Allow: chat.Allowlist{Tenant: tenant, Users: []string{aad}}})
	body := []byte(sample("<at>IntuneBot</at> assign "+cfgID+" "+asgID+" alldevices", now))
	h := signed(string(body))
	h.Set("Content-Type", "application/json")
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

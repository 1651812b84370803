package servicenow

import (
	"bytes"
	"github.com/enrollhook/enrollhook/pkg/source"
	"reflect"

	"net/http"
	"os"
	"testing"
	"time"
)

// BenchmarkDecodeServiceNow is one approved delivery from signed bytes to a
// validated change: Authenticate, then Decode of what it read. Its
// allocation count is the figure to watch: a second parse of the body
// shows up in it.
func BenchmarkDecodeServiceNow(b *testing.B) {
	body, err := os.ReadFile("testdata/approved.json")
	if err != nil {
		b.Fatal(err)
	}
	src, _ := New(vecSecret, 0)
	now := time.Unix(1764403200, 0)
	h, _ := Sign(vecSecret, "msg_bench", now, body)
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

// TestDecodeReadsTheDelivery holds the one parse: once Authenticate has
// returned, Decode works from what it parsed, so a change decoded after the
// body's bytes are gone is the change decoded while they were there. A
// Decode that parsed the body again would find only spaces.
func TestDecodeReadsTheDelivery(t *testing.T) {
	for _, name := range []string{"approved.json", "approved-graph-form.json"} {
		body := readTestdata(t, name)
		src, _ := New(vecSecret, 0)
		now := time.Unix(1764403200, 0)
		h, _ := Sign(vecSecret, "msg_once", now, body)
		want, err := src.Decode(source.Delivery{Body: bytes.Clone(body)}, nil)
		if err != nil {
			t.Fatalf("Decode(%s) = %v", name, err)
		}
		d, err := src.Authenticate(h, body, now)
		if err != nil {
			t.Fatalf("Authenticate(%s) = %v", name, err)
		}
		for i := range body {
			body[i] = ' '
		}
		got, err := src.Decode(d, nil)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Decode(%s) after the bytes are gone = %+v, %v; want %+v", name, got, err, want)
		}
	}
}

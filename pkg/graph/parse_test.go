package graph

import (
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

func TestRetryAfter(t *testing.T) {
	future := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	past := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	for _, tc := range []struct {
		name     string
		header   map[string]string
		min, max time.Duration
		asked    bool
	}{
		{"none", nil, 0, 0, false},
		{"seconds", map[string]string{"Retry-After": "7"}, 7 * time.Second, 7 * time.Second, true},
		{"zero seconds", map[string]string{"Retry-After": "0"}, 0, 0, false},
		{"negative seconds", map[string]string{"Retry-After": "-3"}, 0, 0, false},
		{"a day", map[string]string{"Retry-After": "86400"}, 24 * time.Hour, 24 * time.Hour, true},
		{"two days", map[string]string{"Retry-After": "172800"}, 48 * time.Hour, 48 * time.Hour, true},
		{"huge seconds: believed up to maxWait", map[string]string{"Retry-After": "99999999999999999"}, maxWait, maxWait, true},
		{"too many digits for int64", map[string]string{"Retry-After": "99999999999999999999"}, maxWait, maxWait, true},
		{"huge milliseconds", map[string]string{"retry-after-ms": "99999999999999999999"}, maxWait, maxWait, true},
		{"a day in milliseconds", map[string]string{"Retry-After": "7", "retry-after-ms": "86400000"}, 24 * time.Hour, 24 * time.Hour, true},
		{"HTTP date a year ahead", map[string]string{"Retry-After": time.Now().AddDate(1, 0, 0).UTC().Format(http.TimeFormat)}, maxWait, maxWait, true},
		{"signed seconds", map[string]string{"Retry-After": "+5"}, 0, 0, false},
		{"fraction", map[string]string{"Retry-After": "1.5"}, 1500 * time.Millisecond, 1500 * time.Millisecond, true},
		{"Graph's documented fraction", map[string]string{"Retry-After": "2.128"}, 2128 * time.Millisecond, 2128 * time.Millisecond, true},
		{"a fraction below a millisecond, rounded up", map[string]string{"Retry-After": "0.0004"}, time.Millisecond, time.Millisecond, true},
		{"a long fraction, rounded up", map[string]string{"Retry-After": "3.1234"}, 3124 * time.Millisecond, 3124 * time.Millisecond, true},
		{"a zero fraction", map[string]string{"Retry-After": "0.000"}, 0, 0, false},
		{"no digits after the point", map[string]string{"Retry-After": "1."}, 0, 0, false},
		{"no digits before the point", map[string]string{"Retry-After": ".5"}, 0, 0, false},
		{"two points", map[string]string{"Retry-After": "1.5.3"}, 0, 0, false},
		{"a negative fraction", map[string]string{"Retry-After": "-1.5"}, 0, 0, false},
		{"a fraction too large for int64", map[string]string{"Retry-After": "99999999999999999999.5"}, maxWait, maxWait, true},
		{"a fraction just under maxWait", map[string]string{"Retry-After": "604799.9"}, maxWait - 100*time.Millisecond, maxWait - 100*time.Millisecond, true},
		{"HTTP date", map[string]string{"Retry-After": future}, 80 * time.Second, 90 * time.Second, true},
		{"HTTP date in the past", map[string]string{"Retry-After": past}, 0, 0, false},
		{"RFC 850 date", map[string]string{"Retry-After": time.Now().Add(time.Minute).UTC().Format(time.RFC850)}, 50 * time.Second, time.Minute, true},
		{"garbage", map[string]string{"Retry-After": "soon"}, 0, 0, false},
		{"retry-after-ms first", map[string]string{"Retry-After": "7", "retry-after-ms": "120"}, 120 * time.Millisecond, 120 * time.Millisecond, true},
		{"x-ms-retry-after-ms", map[string]string{"Retry-After": "7", "x-ms-retry-after-ms": "80"}, 80 * time.Millisecond, 80 * time.Millisecond, true},
		{"bad ms falls through", map[string]string{"Retry-After": "7", "retry-after-ms": "x"}, 7 * time.Second, 7 * time.Second, true},
	} {
		resp := &http.Response{Header: http.Header{}}
		for k, v := range tc.header {
			resp.Header.Set(k, v)
		}
		d, asked := retryAfter(resp)
		if asked != tc.asked || d < tc.min || d > tc.max {
			t.Errorf("%s: retryAfter(%v) = %v, %v; want [%v, %v], %v", tc.name, tc.header, d, asked, tc.min, tc.max, tc.asked)
		}
	}
	if d, asked := retryAfter(nil); d != 0 || asked {
		t.Errorf("retryAfter(nil) = %v, %v", d, asked)
	}
}

func TestBackoffStaysInBounds(t *testing.T) {
	p := &retryPolicy{retryDelay: 100 * time.Millisecond, maxRetryDelay: time.Second}
	for n := 1; n <= 80; n++ {
		want := min(p.retryDelay<<min(n-1, 20), p.maxRetryDelay)
		for range 50 {
			if d := p.backoff(n); d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v]", n, d, want/2, want)
			}
		}
	}
}

func TestCallerRetryAfter(t *testing.T) {
	for _, tc := range []struct{ in, want time.Duration }{
		{0, fallbackRetryAfter},
		{-time.Second, fallbackRetryAfter},
		{150 * time.Millisecond, time.Second},
		{2 * time.Second, 2 * time.Second},
		{2*time.Second + time.Nanosecond, 3 * time.Second},
	} {
		if got := callerRetryAfter(tc.in); got != tc.want {
			t.Errorf("callerRetryAfter(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestActivityID(t *testing.T) {
	for _, tc := range []struct{ msg, want string }{
		{"", ""},
		{"Activity ID: 7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f - Url: x", "7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f"},
		{`{"Message":"x - Activity ID:   7C1D2E3F-4A5B-4C6D-8E9F-0A1B2C3D4E5F"}`, "7C1D2E3F-4A5B-4C6D-8E9F-0A1B2C3D4E5F"},
		{"Activity ID: not-a-guid-at-all-but-36-characters-ok", ""},
		{"Activity ID: 7c1d", ""},
	} {
		if got := activityID(tc.msg); got != tc.want {
			t.Errorf("activityID(%q) = %q, want %q", tc.msg, got, tc.want)
		}
	}
}

// FuzzParseErrorBody feeds Graph error bodies to the parser: no panic, an
// activity id is a GUID, the message is clipped valid UTF-8, and an error
// code only reaches a caller message when it is plain text.
func FuzzParseErrorBody(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"error":{"code":"x","message":"{\"Message\":\"Activity ID: 7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f\"}"}}`))
	f.Add([]byte(`<html></html>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var re ResponseError
		parseErrorBody(&re, body)
		if re.ActivityID != "" && uuid.Validate(re.ActivityID) != nil {
			t.Errorf("ActivityID %q is not a GUID", re.ActivityID)
		}
		if len(re.Message) > 512 || !utf8.ValidString(re.Message) {
			t.Errorf("Message is %d bytes, valid UTF-8 %v", len(re.Message), utf8.ValidString(re.Message))
		}
		if c := safeCode(re.ErrorCode); c != "" && strings.ContainsAny(c, "{}<>\"'/\\:\n") {
			t.Errorf("safeCode let %q through", c)
		}
		_ = re.Error()
	})
}

// FuzzRetryAfter: no panic, and a wait Graph asked for is positive and
// bounded.
func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "1", "120", "-1", "1.5", "2.128", "0.0004", "604799.9999", "Sun, 29 Nov 2026 10:15:00 GMT", "99999999999999999999"} {
		f.Add(s, "")
		f.Add("", s)
	}
	f.Fuzz(func(t *testing.T, ra, ms string) {
		resp := &http.Response{Header: http.Header{}}
		resp.Header[HeaderRetryAfter] = []string{ra}
		resp.Header[http.CanonicalHeaderKey(HeaderRetryAfterMS)] = []string{ms}
		d, asked := retryAfter(resp)
		if asked && (d <= 0 || d > maxWait) || !asked && d != 0 {
			t.Errorf("retryAfter(%q, %q) = %v, %v", ra, ms, d, asked)
		}
		// Seconds with a fraction: exactly the value, rounded up to the
		// millisecond (big.Rat as the oracle).
		if ms == "" && decimalSeconds.MatchString(ra) {
			r, _ := new(big.Rat).SetString(ra)
			r.Mul(r, big.NewRat(1000, 1))
			n := new(big.Int).Quo(r.Num(), r.Denom())
			if new(big.Rat).SetInt(n).Cmp(r) != 0 {
				n.Add(n, big.NewInt(1))
			}
			want := maxWait
			if n.Cmp(big.NewInt(int64(maxWait/time.Millisecond))) < 0 {
				want = time.Duration(n.Int64()) * time.Millisecond
			}
			if d != want || asked != (want > 0) {
				t.Errorf("retryAfter(%q) = %v, %v; want %v", ra, d, asked, want)
			}
		}
	})
}

// decimalSeconds is seconds with a fraction, as Graph writes Retry-After.
var decimalSeconds = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)

func TestCanonicalHeaderKeys(t *testing.T) {
	// newRequest assigns these keys directly into the header map.
	for _, k := range []string{"Accept", "Authorization", "Client-Request-Id", "Content-Type", "Retry-Attempt", "User-Agent"} {
		if c := http.CanonicalHeaderKey(k); c != k {
			t.Errorf("%q is not canonical (%q)", k, c)
		}
	}
	if http.CanonicalHeaderKey(HeaderClientRequestID) != "Client-Request-Id" {
		t.Errorf("HeaderClientRequestID does not match the key send uses")
	}
	// graphRequestID reads these keys directly.
	if http.CanonicalHeaderKey(HeaderRequestID) != "Request-Id" || http.CanonicalHeaderKey("x-ms-request-id") != "X-Ms-Request-Id" {
		t.Errorf("the request-id keys graphRequestID reads are not canonical")
	}
}

package generic

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/source"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func TestAuthenticate(t *testing.T) {
	src, err := New(secret, 0)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1614265330, 0)
	body := []byte(`{"test": 2432232314}`)
	good, _ := Sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", now, body)
	if got := good.Get("webhook-signature"); got != "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" {
		t.Fatalf("Sign = %s, want the published vector", got)
	}
	if id, err := idOf(src.Authenticate(good, body, now)); err != nil || id != "msg_p5jXN8AQM9LWM0D4loKWxJek" {
		t.Fatalf("Authenticate = %q, %v", id, err)
	}
	tests := []struct {
		name string
		h    http.Header
		now  time.Time
		kind change.Kind
	}{
		{"missing", http.Header{}, now, "signature-missing"},
		{"mismatch", func() http.Header { h := good.Clone(); h.Set("webhook-signature", "v1,AAAA"); return h }(), now, "signature-mismatch"},
		{"stale (default tolerance 5m)", good, now.Add(6 * time.Minute), "timestamp-out-of-window"},
		{"timestamp not a number", func() http.Header { h := good.Clone(); h.Set("webhook-timestamp", "yesterday"); return h }(), now, "signature-malformed"},
	}
	for _, tt := range tests {
		_, err := src.Authenticate(tt.h, body, tt.now)
		ce, ok := err.(*change.Error)
		if !ok || ce.Code != change.CodeUnauthenticated || ce.Kind != tt.kind {
			t.Errorf("%s: Authenticate = %v, want kind %s", tt.name, err, tt.kind)
			continue
		}
		if strings.Contains(ce.Message, "MfKQ9r8") || strings.Contains(ce.Message, tt.h.Get("webhook-signature")+"x") {
			t.Errorf("%s: message quotes a secret: %s", tt.name, ce.Message)
		}
	}
	// A body re-encoded on the way has its own problem type; another
	// body, or keys reordered, is a mismatch.
	for reenc, kind := range map[string]change.Kind{
		`{"test":2432232314}`:           "body-re-encoded",
		"{\n  \"test\": 2432232314\n}":  "body-re-encoded",
		`{"test": 2432232314}` + "\r\n": "body-re-encoded",
		`{"test": 2432232315}`:          "signature-mismatch",
	} {
		_, err := src.Authenticate(good, []byte(reenc), now)
		ce, ok := err.(*change.Error)
		if !ok || ce.Code != change.CodeUnauthenticated || ce.Kind != kind {
			t.Errorf("Authenticate(%q) = %v, want kind %s", reenc, err, kind)
			continue
		}
		if strings.Contains(ce.Message, "g0hM9SsE") {
			t.Errorf("message quotes the signature: %s", ce.Message)
		}
	}
}

func TestNewRefusesUnusableSecrets(t *testing.T) {
	for _, s := range []string{"", "whsec_", "hunter2", "whsec_c2hvcnQ="} {
		if _, err := New(s, 0); err == nil || strings.Contains(err.Error(), strings.TrimPrefix(s, "whsec_")) && len(s) > len("whsec_") {
			t.Errorf("New(%q) = %v, want an error that does not quote it", s, err)
		}
	}
}

// TestIsDevelopmentSecretInEverySpelling: every spelling a lenient base64
// reader maps onto the published key is the development secret: with or
// without "whsec_", with padding bits set, without padding.
func TestIsDevelopmentSecretInEverySpelling(t *testing.T) {
	const body = "ZW5yb2xsaG9vay1kZXZlbG9wbWVudC1zZWNyZXQtMD"
	if DevelopmentSecret != "whsec_"+body+"E=" {
		t.Fatalf("DevelopmentSecret changed; update the spellings of this test")
	}
	for _, s := range []string{DevelopmentSecret, strings.TrimPrefix(DevelopmentSecret, "whsec_"), " " + DevelopmentSecret + " ",
		"whsec_" + body + "F=", body + "H=", "whsec_" + body + "E", "whsec_" + body[:8] + "\r\n" + body[8:] + "E="} {
		if !IsDevelopmentSecret(s) {
			t.Errorf("IsDevelopmentSecret(%q) = false", s)
		}
	}
	for _, s := range []string{secret, "", "whsec_" + body + "I=", "whsec_"} {
		if IsDevelopmentSecret(s) {
			t.Errorf("IsDevelopmentSecret(%q) = true, want false", s)
		}
	}
}

// TestNewRefusesNonCanonicalSecrets: the base64 is read strictly; the
// refusal says why and never quotes the secret.
func TestNewRefusesNonCanonicalSecrets(t *testing.T) {
	const body = "ZW5yb2xsaG9vay1kZXZlbG9wbWVudC1zZWNyZXQtMD"
	for _, s := range []string{"whsec_" + body + "F=", body + "G=", "whsec_" + body + "E", strings.TrimRight(secret, "=") + "-"} {
		_, err := New(s, 0)
		if err == nil || strings.Contains(err.Error(), body) || strings.Contains(err.Error(), secret[6:20]) {
			t.Errorf("New(%q) = %v, want a refusal that does not quote the secret", s, err)
		}
	}
	for _, s := range []string{"whsec_" + body + "F=", body + "G=", "whsec_" + body + "E"} {
		if _, err := New(s, 0); err == nil || !strings.Contains(err.Error(), "canonical") {
			t.Errorf("New(%q) = %v, want a refusal naming the canonical spelling", s, err)
		}
	}
}

// idOf is the delivery id of Authenticate's answer.
func idOf(d source.Delivery, err error) (string, error) { return d.ID, err }

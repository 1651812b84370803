package signature_test

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/enrollhook/enrollhook/pkg/signature"
)

const interopSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// interopIDs are webhook-ids the specification allows (non-empty,
// printable, at most 256 bytes), '.' included.
var interopIDs = []string{
	"msg_p5jXN8AQM9LWM0D4loKWxJek",
	"msg.2KWPBgLlAfxdpx2AI54pPJ85f4W",
	"evt.CHG0030042.approved.3",
	".",
	"1614265330.1614265330",
	"!#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
	"with a space",
	"ünïcödé.id",
	strings.Repeat("a.", 128), // 256 bytes
}

// TestStandardInteropWithTheOfficialLibrary: what the Standard Webhooks Go
// library signs, VerifyStandard accepts, and the other way round, for
// every id the specification allows. The library reads the wall clock, so
// the timestamp is now.
func TestStandardInteropWithTheOfficialLibrary(t *testing.T) {
	lib, err := standardwebhooks.NewWebhook(interopSecret)
	if err != nil {
		t.Fatal(err)
	}
	key, err := signature.StandardKey(interopSecret)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"ticket":{"id":"CHG0030042","state":"approved"}}`)
	for _, id := range interopIDs {
		name := id
		if len(name) > 40 {
			name = strconv.Itoa(len(id)) + " bytes"
		}
		t.Run(name, func(t *testing.T) {
			now := time.Now()
			ts := strconv.FormatInt(now.Unix(), 10)
			sig, err := lib.Sign(id, now, body)
			if err != nil {
				t.Fatal(err)
			}
			if err := signature.VerifyStandard(key, id, ts, sig, body, now, 5*time.Minute); err != nil {
				t.Errorf("VerifyStandard(%q, the library's signature) = %v, want nil", id, err)
			}

			h := http.Header{}
			h.Set(standardwebhooks.HeaderWebhookID, id)
			h.Set(standardwebhooks.HeaderWebhookTimestamp, ts)
			h.Set(standardwebhooks.HeaderWebhookSignature, signature.SignStandard(key, id, now, body))
			if err := lib.Verify(body, h); err != nil {
				t.Errorf("the library's Verify(%q, SignStandard) = %v, want nil", id, err)
			}

			// The id is signed: another id, even one that moves a '.', fails.
			for _, other := range []string{id + ".", "x" + id, strings.Replace(id, ".", "", 1)} {
				if other == id || other == "" || len(other) > 256 {
					continue
				}
				if err := signature.VerifyStandard(key, other, ts, sig, body, now, 5*time.Minute); !errors.Is(err, signature.ErrMismatch) {
					t.Errorf("VerifyStandard(%q, signature of %q) = %v, want ErrMismatch", other, id, err)
				}
			}
		})
	}
}

// TestStandardIDsTheSpecificationRefuses: empty, longer than 256 bytes,
// or not printable.
func TestStandardIDsTheSpecificationRefuses(t *testing.T) {
	key, err := signature.StandardKey(interopSecret)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{}`)
	now := time.Now()
	ts := strconv.FormatInt(now.Unix(), 10)
	for _, tt := range []struct {
		name, id string
		want     error
	}{
		{"empty", "", signature.ErrMissing},
		{"257 bytes", strings.Repeat("a", 257), signature.ErrMalformed},
		{"a control character", "msg\x01x", signature.ErrMalformed},
		{"a tab", "msg\tx", signature.ErrMalformed},
		{"a line break", "msg\r\nx", signature.ErrMalformed},
		{"DEL", "msg\x7fx", signature.ErrMalformed},
		{"a zero-width space", "msg\u200bx", signature.ErrMalformed},
		{"not UTF-8", "msg\xffx", signature.ErrMalformed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// Signed correctly, so only the id's form can refuse it.
			sig := signature.SignStandard(key, tt.id, now, body)
			if err := signature.VerifyStandard(key, tt.id, ts, sig, body, now, 5*time.Minute); !errors.Is(err, tt.want) {
				t.Errorf("VerifyStandard(id %q) = %v, want %v", tt.id, err, tt.want)
			}
		})
	}
}

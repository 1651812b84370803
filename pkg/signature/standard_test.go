package signature

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Published vector of the Standard Webhooks reference library
// (reference/webhooks.md §7 and §8 #3), and the self-computed #8.
const (
	vecSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vecID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vecTS     = "1614265330"
	vecBody   = `{"test": 2432232314}`
	vecSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	vecBadSig = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
)

func TestStandardPublishedVector(t *testing.T) {
	key, err := StandardKey(vecSecret)
	if err != nil {
		t.Fatal(err)
	}
	if got := SignStandard(key, vecID, time.Unix(1614265330, 0), []byte(vecBody)); got != vecSig {
		t.Fatalf("SignStandard = %q, want %q", got, vecSig)
	}
	now := time.Unix(1614265330, 0)
	if err := VerifyStandard(key, vecID, vecTS, vecSig, []byte(vecBody), now, 5*time.Minute); err != nil {
		t.Fatalf("VerifyStandard(published vector) = %v, want nil", err)
	}
	// Vector #8: an approval payload.
	body8 := `{"type":"approval.approved","timestamp":"2024-04-25T08:00:00Z","data":{"ticket":"CHG0030042"}}`
	if got := SignStandard(key, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", time.Unix(1714032000, 0), []byte(body8)); got != "v1,ZfbfGDIcwBpc3qN0Ild0U1V4iA0woU1KE34fc8M7t/8=" {
		t.Fatalf("SignStandard(vector 8) = %q", got)
	}
}

func TestVerifyStandard(t *testing.T) {
	key, _ := StandardKey(vecSecret)
	bareKey, err := StandardKey(strings.TrimPrefix(vecSecret, "whsec_"))
	if err != nil || string(bareKey) != string(key) {
		t.Fatalf("bare base64 secret: %v", err)
	}
	now := time.Unix(1614265330, 0)
	tests := []struct {
		name      string
		id, ts    string
		sigs      string
		body      string
		now       time.Time
		tolerance time.Duration
		want      error
	}{
		{"valid", vecID, vecTS, vecSig, vecBody, now, 5 * time.Minute, nil},
		{"rotation: second matches", vecID, vecTS, vecBadSig + " " + vecSig, vecBody, now, 5 * time.Minute, nil},
		{"rotation: unknown version ignored", vecID, vecTS, "v1a,AAAA " + vecSig, vecBody, now, 5 * time.Minute, nil},
		{"wrong signature", vecID, vecTS, vecBadSig, vecBody, now, 5 * time.Minute, ErrMismatch},
		{"body re-encoded after signing: compacted", vecID, vecTS, vecSig, `{"test":2432232314}`, now, 5 * time.Minute, ErrReencoded},
		{"body re-encoded after signing: pretty-printed", vecID, vecTS, vecSig, "{\n  \"test\": 2432232314\n}", now, 5 * time.Minute, ErrReencoded},
		{"body re-encoded after signing: newline added", vecID, vecTS, vecSig, vecBody + "\n", now, 5 * time.Minute, ErrReencoded},
		{"body re-encoded after signing: still base64", vecID, vecTS, vecSig, "eyJ0ZXN0IjogMjQzMjIzMjMxNH0=", now, 5 * time.Minute, ErrReencoded},
		{"rotation: re-encoded for the second", vecID, vecTS, vecBadSig + " " + vecSig, `{"test":2432232314}`, now, 5 * time.Minute, ErrReencoded},
		{"another body, not a re-encoding", vecID, vecTS, vecSig, `{"test": 2432232315}`, now, 5 * time.Minute, ErrMismatch},
		{"re-encoded, but the wrong signature", vecID, vecTS, vecBadSig, `{"test":2432232314}`, now, 5 * time.Minute, ErrMismatch},
		{"id changed", "msg_other", vecTS, vecSig, vecBody, now, 5 * time.Minute, ErrMismatch},
		{"missing signature", vecID, vecTS, "", vecBody, now, 5 * time.Minute, ErrMissing},
		{"missing id", "", vecTS, vecSig, vecBody, now, 5 * time.Minute, ErrMissing},
		{"missing timestamp", vecID, "", vecSig, vecBody, now, 5 * time.Minute, ErrMissing},
		{"timestamp not a number", vecID, "yesterday", vecSig, vecBody, now, 5 * time.Minute, ErrMalformed},
		{"only other versions", vecID, vecTS, "v2,abc", vecBody, now, 5 * time.Minute, ErrMalformed},
		{"id with dot: allowed, but not the signed id", "msg.x", vecTS, vecSig, vecBody, now, 5 * time.Minute, ErrMismatch},
		{"id of 257 bytes", strings.Repeat("m", 257), vecTS, vecSig, vecBody, now, 5 * time.Minute, ErrMalformed},
		{"id with a control character", "msg\x00", vecTS, vecSig, vecBody, now, 5 * time.Minute, ErrMalformed},
		{"too old", vecID, vecTS, vecSig, vecBody, now.Add(5*time.Minute + time.Second), 5 * time.Minute, ErrTimestamp},
		{"too new", vecID, vecTS, vecSig, vecBody, now.Add(-5*time.Minute - time.Second), 5 * time.Minute, ErrTimestamp},
		{"edge of window", vecID, vecTS, vecSig, vecBody, now.Add(5 * time.Minute), 5 * time.Minute, nil},
		{"configurable tolerance", vecID, vecTS, vecSig, vecBody, now.Add(2 * time.Minute), time.Minute, ErrTimestamp},
		{"truncated signature", vecID, vecTS, vecSig[:20], vecBody, now, 5 * time.Minute, ErrMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyStandard(key, tt.id, tt.ts, tt.sigs, []byte(tt.body), tt.now, tt.tolerance)
			if !errors.Is(err, tt.want) {
				t.Fatalf("VerifyStandard = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestStandardKeyRejectsBadSecrets(t *testing.T) {
	for _, s := range []string{"", "whsec_", "not base64!", "whsec_c2hvcnQ="} {
		if _, err := StandardKey(s); !errors.Is(err, ErrSecret) {
			t.Errorf("StandardKey(%q) = %v, want ErrSecret", s, err)
		}
	}
}

func TestVerifyStandardFailsClosedWithoutKey(t *testing.T) {
	if err := VerifyStandard(nil, vecID, vecTS, vecSig, []byte(vecBody), time.Unix(1614265330, 0), time.Minute); !errors.Is(err, ErrSecret) {
		t.Fatalf("VerifyStandard(nil key) = %v, want ErrSecret", err)
	}
}

func FuzzVerifyStandard(f *testing.F) {
	f.Add(vecID, vecTS, vecSig, []byte(vecBody))
	f.Add("", "", "", []byte(nil))
	f.Add(vecID, vecTS, vecBadSig+" "+vecSig, []byte("{}"))
	f.Add(vecID, vecTS, "v1,"+strings.Repeat("A", 200), []byte("{}"))
	key, _ := StandardKey(vecSecret)
	now := time.Unix(1614265330, 0)
	f.Fuzz(func(t *testing.T, id, ts, sigs string, body []byte) {
		err := VerifyStandard(key, id, ts, sigs, body, now, 5*time.Minute)
		if err == nil {
			// Accepted input must carry the signature we would have made.
			sec, perr := strconv.ParseInt(ts, 10, 64)
			if perr != nil || !strings.Contains(sigs, SignStandard(key, id, time.Unix(sec, 0), body)) {
				t.Fatalf("accepted a signature that does not match")
			}
			return
		}
		if len(sigs) > 3 && strings.Contains(err.Error(), sigs) {
			t.Fatalf("error quotes the signature header")
		}
	})
}

func TestWithin(t *testing.T) {
	now := time.Unix(1700000000, 0)
	for _, tc := range []struct {
		ts   time.Time
		want bool
	}{
		{now, true},
		{now.Add(5 * time.Minute), true},
		{now.Add(-5 * time.Minute), true},
		{now.Add(5*time.Minute + time.Nanosecond), false},
		{now.Add(-5*time.Minute - time.Nanosecond), false},
		{time.Time{}, false},
	} {
		if got := Within(tc.ts, now, 5*time.Minute); got != tc.want {
			t.Errorf("Within(%v, %v, 5m) = %v, want %v", tc.ts, now, got, tc.want)
		}
	}
}

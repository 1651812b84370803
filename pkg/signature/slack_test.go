package signature

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

// Slack vectors of reference/webhooks.md §8: #1 is Slack's published one
// ("Verifying requests from Slack"), #7 a slash command computed
// independently twice.
const (
	slackSecret = "8f742231b10e8888abcd99yyyzzz85a5"
	slackTS1    = "1531420618"
	slackBody1  = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
	slackSig1   = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
	slackTS7    = "1714032000"
	slackBody7  = "token=xyz&team_id=T0001&team_domain=contoso&channel_id=C0123ABCD&channel_name=itsm-approvals&user_id=U0456EFGH&user_name=alice&command=%2Fintune-assign&text=CHG0030042+approve&api_app_id=A0789IJKL&is_enterprise_install=false&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT0001%2F123%2Fabc&trigger_id=123.456.abcdef"
	slackSig7   = "v0=bf078a8d89719269aad38be36c36fa021bfc4ebfe35a7eaa0ce6e5ad1a9f4d53"
)

func TestSlackVectors(t *testing.T) {
	key, err := SlackKey(slackSecret)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []struct{ name, ts, body, sig string }{
		{"#1 published", slackTS1, slackBody1, slackSig1},
		{"#7 slash command", slackTS7, slackBody7, slackSig7},
	} {
		if got := SignSlack(key, v.ts, []byte(v.body)); got != v.sig {
			t.Errorf("%s: SignSlack = %s, want %s", v.name, got, v.sig)
		}
		now := unix(v.ts)
		if err := VerifySlack(key, v.ts, v.sig, []byte(v.body), now, 5*time.Minute); err != nil {
			t.Errorf("%s: VerifySlack = %v, want nil", v.name, err)
		}
		// Upper-case hex is the same MAC.
		if err := VerifySlack(key, v.ts, "v0="+strings.ToUpper(v.sig[3:]), []byte(v.body), now, 5*time.Minute); err != nil {
			t.Errorf("%s: VerifySlack(upper-case hex) = %v, want nil", v.name, err)
		}
	}
}

func unix(ts string) time.Time {
	var n int64
	for _, c := range ts {
		n = n*10 + int64(c-'0')
	}
	return time.Unix(n, 0)
}

func TestVerifySlackRefusals(t *testing.T) {
	key, _ := SlackKey(slackSecret)
	now := unix(slackTS7)
	body := []byte(slackBody7)
	tests := []struct {
		name    string
		ts, sig string
		body    []byte
		now     time.Time
		want    error
	}{
		{"no timestamp", "", slackSig7, body, now, ErrMissing},
		{"no signature", slackTS7, "", body, now, ErrMissing},
		{"timestamp not unix seconds", "2024-04-25T08:00:00Z", slackSig7, body, now, ErrMalformed},
		{"other version", slackTS7, "v1=" + slackSig7[3:], body, now, ErrMalformed},
		{"short", slackTS7, slackSig7[:40], body, now, ErrMalformed},
		{"not hex", slackTS7, "v0=" + strings.Repeat("zz", 32), body, now, ErrMalformed},
		{"stale by 5m01s", slackTS7, slackSig7, body, now.Add(5*time.Minute + time.Second), ErrTimestamp},
		{"from the future by 5m01s", slackTS7, slackSig7, body, now.Add(-5*time.Minute - time.Second), ErrTimestamp},
		{"other timestamp", "1714032001", slackSig7, body, now, ErrMismatch},
		{"tampered body", slackTS7, slackSig7, []byte(strings.Replace(slackBody7, "U0456EFGH", "U0456EFGI", 1)), now, ErrMismatch},
		{"wrong secret", slackTS7, SignSlack([]byte("another-signing-secret-0000"), slackTS7, body), body, now, ErrMismatch},
		{"still base64 (isBase64Encoded ignored)", slackTS7, slackSig7, []byte(base64.StdEncoding.EncodeToString(body)), now, ErrReencoded},
		{"re-encoded: spaces as %20", slackTS7, slackSig7, []byte(strings.Replace(slackBody7, "+", "%20", 1)), now, ErrReencoded},
		{"re-encoded: newline added", slackTS7, slackSig7, append(append([]byte{}, body...), '\n'), now, ErrReencoded},
	}
	for _, tt := range tests {
		err := VerifySlack(key, tt.ts, tt.sig, tt.body, tt.now, 5*time.Minute)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: VerifySlack = %v, want %v", tt.name, err, tt.want)
		}
		if err != nil && (strings.Contains(err.Error(), slackSecret) || len(tt.sig) > 3 && strings.Contains(err.Error(), tt.sig[3:])) {
			t.Errorf("%s: error quotes the secret or the signature", tt.name)
		}
	}
	if err := VerifySlack(nil, slackTS7, slackSig7, body, now, 5*time.Minute); !errors.Is(err, ErrSecret) {
		t.Errorf("VerifySlack(no key) = %v, want ErrSecret", err)
	}
	for _, s := range []string{"", "short", "   "} {
		if _, err := SlackKey(s); !errors.Is(err, ErrSecret) {
			t.Errorf("SlackKey(%q) = %v, want ErrSecret", s, err)
		}
	}
}

func FuzzVerifySlack(f *testing.F) {
	f.Add(slackTS7, slackSig7, []byte(slackBody7))
	f.Add(slackTS1, slackSig1, []byte(slackBody1))
	f.Add("", "", []byte(nil))
	f.Add(slackTS7, "v0=", []byte("a=b"))
	f.Add("-1", "v0="+strings.Repeat("0", 64), []byte(base64.StdEncoding.EncodeToString([]byte(slackBody7))))
	key, _ := SlackKey(slackSecret)
	now := unix(slackTS7)
	f.Fuzz(func(t *testing.T, ts, sig string, body []byte) {
		err := VerifySlack(key, ts, sig, body, now, 5*time.Minute)
		if err == nil {
			// Accepted input carries the signature we would have made.
			if !strings.EqualFold(strings.TrimSpace(sig), SignSlack(key, strings.TrimSpace(ts), body)) {
				t.Fatalf("accepted a signature that does not match")
			}
			return
		}
		if len(sig) > 3 && strings.Contains(err.Error(), sig) || len(ts) > 3 && strings.Contains(err.Error(), ts) {
			t.Fatalf("error quotes a header")
		}
	})
}

package signature

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// Teams vector #5 of reference/webhooks.md §8 (self-computed with two
// independent implementations; Microsoft publishes no body).
const (
	teamsToken = "vqF0En+Z0ucuRTM/01o2GuhMH3hKKk/N2bOmlM31zaA="
	teamsBody  = `{"type":"message","id":"1714000000000","text":"<at>IntuneBot</at> approve CHG0030042","channelId":"msteams"}`
	teamsAuth  = "HMAC xxOzDaZtuwOFVGTpB4H3TrKvWoCiTI8ZFwVt/oZzuDs="
)

func TestTeamsVector(t *testing.T) {
	key, err := TeamsKey(teamsToken)
	if err != nil {
		t.Fatal(err)
	}
	if got := SignTeams(key, []byte(teamsBody)); got != teamsAuth {
		t.Fatalf("SignTeams = %s, want %s", got, teamsAuth)
	}
	for _, h := range []string{teamsAuth, "hmac " + teamsAuth[5:], " " + teamsAuth + " "} {
		if err := VerifyTeams(key, h, []byte(teamsBody)); err != nil {
			t.Errorf("VerifyTeams(%q) = %v, want nil", h, err)
		}
	}
}

func TestVerifyTeamsRefusals(t *testing.T) {
	key, _ := TeamsKey(teamsToken)
	body := []byte(teamsBody)
	htmlEscaped := strings.NewReplacer("<", `\u003c`, ">", `\u003e`).Replace(teamsBody)
	tests := []struct {
		name string
		auth string
		body []byte
		want error
	}{
		{"missing", "", body, ErrMissing},
		{"Bearer", "Bearer " + teamsAuth[5:], body, ErrMalformed},
		{"no scheme", teamsAuth[5:], body, ErrMalformed},
		{"not base64", "HMAC " + strings.Repeat("!", 44), body, ErrMalformed},
		{"short", "HMAC AAAA", body, ErrMalformed},
		{"tampered body", teamsAuth, []byte(strings.Replace(teamsBody, "CHG0030042", "CHG0030043", 1)), ErrMismatch},
		{"wrong token", SignTeams([]byte("a-different-32-byte-teams-token!"), body), body, ErrMismatch},
		{"re-encoded: HTML escapes", teamsAuth, []byte(htmlEscaped), ErrReencoded},
		{"re-encoded: newline added", teamsAuth, []byte(teamsBody + "\n"), ErrReencoded},
		{"re-encoded: still base64", teamsAuth, []byte(base64.StdEncoding.EncodeToString(body)), ErrReencoded},
	}
	for _, tt := range tests {
		err := VerifyTeams(key, tt.auth, tt.body)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: VerifyTeams = %v, want %v", tt.name, err, tt.want)
		}
		if err != nil && (strings.Contains(err.Error(), teamsToken) || len(tt.auth) > 8 && strings.Contains(err.Error(), tt.auth[5:])) {
			t.Errorf("%s: error quotes the token or the signature", tt.name)
		}
	}
	if err := VerifyTeams(nil, teamsAuth, body); !errors.Is(err, ErrSecret) {
		t.Errorf("VerifyTeams(no key) = %v, want ErrSecret", err)
	}
	for _, s := range []string{"", "not base64!", base64.StdEncoding.EncodeToString([]byte("short"))} {
		if _, err := TeamsKey(s); !errors.Is(err, ErrSecret) {
			t.Errorf("TeamsKey(%q) = %v, want ErrSecret", s, err)
		}
	}
}

func FuzzVerifyTeams(f *testing.F) {
	f.Add(teamsAuth, []byte(teamsBody))
	f.Add("", []byte(nil))
	f.Add("HMAC ", []byte("{}"))
	f.Add("hmac "+strings.Repeat("A", 44), []byte(teamsBody+"\n"))
	key, _ := TeamsKey(teamsToken)
	f.Fuzz(func(t *testing.T, auth string, body []byte) {
		err := VerifyTeams(key, auth, body)
		if err == nil {
			_, value, _ := strings.Cut(strings.TrimSpace(auth), " ")
			if strings.TrimSpace(value) != SignTeams(key, body)[5:] {
				t.Fatalf("accepted a signature that does not match")
			}
			return
		}
		if len(auth) > 8 && strings.Contains(err.Error(), auth) {
			t.Fatalf("error quotes the header")
		}
	})
}

package signature

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// reference/webhooks.md §8 #6 (Jira, self-computed with two implementations)
// and #2 (GitHub's published vector: the same HMAC over the body with the
// secret's UTF-8 bytes, sent under another header name).
const (
	jiraSecret = "jira-test-secret-0123456789"
	jiraBody   = `{"timestamp":1714000000000,"webhookEvent":"jira:issue_updated","issue":{"key":"ITSM-42"}}`
	jiraSig    = "sha256=dfa4316bddae49c8030b13047cd1a9e7919ea23748f98e6bb5acc535ee0407cb"

	githubSecret = "It's a Secret to Everybody"
	githubBody   = "Hello, World!"
	githubSig    = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
)

func TestHubVectors(t *testing.T) {
	if got := SignHub(jiraSecret, []byte(jiraBody)); got != jiraSig {
		t.Errorf("SignHub(vector 6) = %s, want %s", got, jiraSig)
	}
	if got := SignHub(githubSecret, []byte(githubBody)); got != githubSig {
		t.Errorf("SignHub(vector 2) = %s, want %s", got, githubSig)
	}
	if err := VerifyHub([]string{jiraSecret}, jiraSig, []byte(jiraBody)); err != nil {
		t.Errorf("VerifyHub(vector 6) = %v", err)
	}
	if err := VerifyHub([]string{githubSecret}, githubSig, []byte(githubBody)); err != nil {
		t.Errorf("VerifyHub(vector 2) = %v", err)
	}
}

func TestVerifyHub(t *testing.T) {
	tests := []struct {
		name    string
		secrets []string
		header  string
		body    string
		want    error
	}{
		{"valid", []string{jiraSecret}, jiraSig, jiraBody, nil},
		{"upper-case hex and method", []string{jiraSecret}, "SHA256=" + strings.ToUpper(strings.TrimPrefix(jiraSig, "sha256=")), jiraBody, nil},
		{"rotation: second secret matches", []string{"old-secret", jiraSecret}, jiraSig, jiraBody, nil},
		{"wrong secret", []string{"another-secret"}, jiraSig, jiraBody, ErrMismatch},
		{"body re-encoded after signing: Python separators", []string{jiraSecret}, jiraSig, strings.ReplaceAll(jiraBody, ",", ", "), ErrReencoded},
		{"body re-encoded after signing: pretty-printed", []string{jiraSecret}, jiraSig, indented(jiraBody), ErrReencoded},
		{"body re-encoded after signing: CRLF", []string{jiraSecret}, jiraSig, strings.ReplaceAll(indented(jiraBody), "\n", "\r\n"), ErrReencoded},
		{"body re-encoded after signing: newline added", []string{jiraSecret}, jiraSig, jiraBody + "\n", ErrReencoded},
		{"rotation: re-encoded for the second secret", []string{"old-secret", jiraSecret}, jiraSig, indented(jiraBody), ErrReencoded},
		{"re-encoded, but the wrong secret", []string{"another-secret"}, jiraSig, indented(jiraBody), ErrMismatch},
		{"keys reordered: cannot be told from another body", []string{jiraSecret}, jiraSig, `{"webhookEvent":"jira:issue_updated","timestamp":1714000000000,"issue":{"key":"ITSM-42"}}`, ErrMismatch},
		{"missing", []string{jiraSecret}, "", jiraBody, ErrMissing},
		{"GitHub's sha1 form", []string{jiraSecret}, "sha1=0123456789abcdef0123456789abcdef01234567", jiraBody, ErrMalformed},
		{"no method", []string{jiraSecret}, strings.TrimPrefix(jiraSig, "sha256="), jiraBody, ErrMalformed},
		{"not hex", []string{jiraSecret}, "sha256=" + strings.Repeat("zz", 32), jiraBody, ErrMalformed},
		{"truncated", []string{jiraSecret}, jiraSig[:40], jiraBody, ErrMalformed},
		{"no secret", nil, jiraSig, jiraBody, ErrSecret},
		{"empty secret", []string{""}, jiraSig, jiraBody, ErrSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := VerifyHub(tt.secrets, tt.header, []byte(tt.body)); !errors.Is(err, tt.want) {
				t.Fatalf("VerifyHub = %v, want %v", err, tt.want)
			}
		})
	}
}

func FuzzVerifyHub(f *testing.F) {
	f.Add(jiraSig, []byte(jiraBody))
	f.Add("", []byte(nil))
	f.Add("sha256=", []byte("{}"))
	f.Add("sha256="+strings.Repeat("0", 64), []byte("{}"))
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		err := VerifyHub([]string{jiraSecret}, header, body)
		if err == nil {
			if !strings.EqualFold(strings.TrimSpace(header), SignHub(jiraSecret, body)) {
				t.Fatalf("accepted a signature that does not match")
			}
			return
		}
		if len(header) > 3 && strings.Contains(err.Error(), header) || strings.Contains(err.Error(), jiraSecret) {
			t.Fatalf("error %q quotes the header or the secret", err)
		}
	})
}

func indented(s string) string {
	var b bytes.Buffer
	if err := json.Indent(&b, []byte(s), "", "\t"); err != nil {
		panic(err)
	}
	return b.String()
}

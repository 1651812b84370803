package signature

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestParseBasicSecret(t *testing.T) {
	tests := []struct {
		secret string
		want   BasicCredentials
		ok     bool
	}{
		{"basic:svc.enrollhook:pa55:word", BasicCredentials{"svc.enrollhook", "pa55:word"}, true},
		{"basic:user:", BasicCredentials{}, false},
		{"basic::password", BasicCredentials{}, false},
		{"basic:nopassword", BasicCredentials{}, false},
		{"whsec_abc", BasicCredentials{}, false},
	}
	for _, tt := range tests {
		got, ok := ParseBasicSecret(tt.secret)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("ParseBasicSecret(%q) = %+v, %v, want %+v, %v", tt.secret, got, ok, tt.want, tt.ok)
		}
	}
}

func TestVerifyBasic(t *testing.T) {
	want := BasicCredentials{"svc.enrollhook", "correct horse:battery"}
	enc := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name   string
		header string
		want   error
	}{
		{"valid", BasicHeader(want), nil},
		{"scheme in lower case", "basic " + enc("svc.enrollhook:correct horse:battery"), nil},
		{"wrong password", "Basic " + enc("svc.enrollhook:correct horse"), ErrMismatch},
		{"wrong user", "Basic " + enc("admin:correct horse:battery"), ErrMismatch},
		{"user in another case", "Basic " + enc("SVC.enrollhook:correct horse:battery"), ErrMismatch},
		{"missing", "", ErrMissing},
		{"bearer", "Bearer abc", ErrMalformed},
		{"not base64", "Basic ***", ErrMalformed},
		{"no colon", "Basic " + enc("svc.enrollhook"), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := VerifyBasic(want, tt.header); !errors.Is(err, tt.want) {
				t.Fatalf("VerifyBasic = %v, want %v", err, tt.want)
			}
		})
	}
	if err := VerifyBasic(BasicCredentials{}, BasicHeader(want)); !errors.Is(err, ErrSecret) {
		t.Errorf("VerifyBasic(no credentials) = %v, want ErrSecret", err)
	}
}

func FuzzVerifyBasic(f *testing.F) {
	want := BasicCredentials{"svc.enrollhook", "correct horse:battery"}
	f.Add(BasicHeader(want))
	f.Add("")
	f.Add("Basic Og==")
	f.Add("Basic " + strings.Repeat("A", 100))
	f.Fuzz(func(t *testing.T, header string) {
		err := VerifyBasic(want, header)
		if err == nil {
			_, value, _ := strings.Cut(strings.TrimSpace(header), " ")
			raw, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(value))
			if string(raw) != want.User+":"+want.Password {
				t.Fatalf("accepted other credentials")
			}
			return
		}
		if len(header) > 3 && strings.Contains(err.Error(), header) || strings.Contains(err.Error(), want.Password) {
			t.Fatalf("error %q quotes the header or the password", err)
		}
	})
}

package logcheck

import (
	"strings"
	"testing"
)

func TestSinkCatchesEverySpellingWithoutQuotingIt(t *testing.T) {
	tests := []struct {
		name, secret, line string
	}{
		{"whsec form", "whsec_c2VjcmV0LXZhbHVlLWZvci10ZXN0cw==", `{"msg":"webhook","s":"whsec_c2VjcmV0LXZhbHVlLWZvci10ZXN0cw=="}`},
		{"bare base64", "whsec_c2VjcmV0LXZhbHVlLWZvci10ZXN0cw==", `{"msg":"webhook","s":"c2VjcmV0LXZhbHVlLWZvci10ZXN0cw=="}`},
		{"decoded", "whsec_c2VjcmV0LXZhbHVlLWZvci10ZXN0cw==", `{"msg":"webhook","s":"secret-value-for-tests"}`},
		{"basic password", "basic:svc-enrollhook:correct-horse-battery", `{"msg":"auth","p":"correct-horse-battery"}`},
	}
	for _, tt := range tests {
		s := NewSink()
		s.Secrets(tt.secret)
		_, _ = s.Write([]byte(tt.line + "\n"))
		err := s.Err()
		if err == nil {
			t.Errorf("%s: leak not reported", tt.name)
			continue
		}
		for _, f := range Forms(tt.secret) {
			if strings.Contains(err.Error(), f) {
				t.Errorf("%s: the report quotes the secret", tt.name)
			}
		}
	}
	s := NewSink()
	s.Secrets("whsec_c2VjcmV0LXZhbHVlLWZvci10ZXN0cw==")
	s.Tokens(func() []string { return []string{"issued-token-abcdef"} })
	_, _ = s.Write([]byte(`{"msg":"webhook","ok":true}` + "\n"))
	if err := s.Err(); err != nil {
		t.Errorf("clean log reported: %v", err)
	}
	_, _ = s.Write([]byte(`{"msg":"graph","auth":"issued-token-abcdef"}` + "\n"))
	if err := s.Err(); err == nil || strings.Contains(err.Error(), "issued-token-abcdef") {
		t.Errorf("token leak: %v", err)
	}
}

// TestLoggerWritesThroughTheSink: a test's own logger reaches both its
// writer and the sink, so a leak in it is reported.
func TestLoggerWritesThroughTheSink(t *testing.T) {
	s := NewSink()
	s.Secrets("logger-test-secret-0123456789")
	var own strings.Builder
	s.Logger(&own).Info("x", "v", "logger-test-secret-0123456789")
	if !strings.Contains(own.String(), `"msg":"x"`) {
		t.Errorf("the test's writer got %q", own.String())
	}
	if s.Err() == nil {
		t.Errorf("the sink missed a secret logged through Logger")
	}
}

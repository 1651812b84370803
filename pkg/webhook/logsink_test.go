package webhook

import (
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/logcheck"
)

// Every log line written by this package's tests passes the secret sink:
// slog.Default (handlers built without a Logger) writes to it, and so does
// every test logger, built with testLogger. TestMain fails the run when
// any line held a configured secret (every sender secret and password of
// these tests) or a token the Graph emulator issued.
// TestTestsLogThroughTheSink keeps it so: a test that builds its own
// writing handler fails.
var sink = logcheck.NewSink()

func TestMain(m *testing.M) {
	sink.Secrets(testSecret, snSecret, snBasic, "s3cret", jiraSecret, chatSlackSecret, chatTeamsToken)
	sink.Tokens(func() []string {
		if emu == nil {
			return nil
		}
		return emu.IssuedTokens()
	})
	os.Exit(sink.Run(m))
}

// testLogger is the logger of a test that reads its logs from w: the JSON
// lines go to w and to the secret sink.
func testLogger(w io.Writer) *slog.Logger {
	return sink.Logger(w)
}

// TestTestsLogThroughTheSink fails for a test file that builds a log handler
// writing anywhere but io.Discard without testLogger: its lines would skip
// the secret check.
func TestTestsLogThroughTheSink(t *testing.T) {
	logcheck.RequireSink(t, ".", "logsink_test.go")
}

// TestSinkCatchesASecret: the sink is not a no-op.
func TestSinkCatchesASecret(t *testing.T) {
	s := logcheck.NewSink()
	s.Secrets(testSecret)
	slog.New(slog.NewJSONHandler(s, nil)).Info("x", "v", strings.TrimPrefix(testSecret, "whsec_"))
	if err := s.Err(); err == nil || strings.Contains(err.Error(), testSecret) {
		t.Fatalf("Err = %v, want a leak reported without the secret", err)
	}
	if !regexp.MustCompile(`leak`).MatchString(s.Err().Error()) {
		t.Fatalf("Err = %v", s.Err())
	}
}

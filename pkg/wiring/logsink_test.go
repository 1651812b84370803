package wiring

import (
	"io"
	"log/slog"
	"os"
	"regexp"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/graphemu"
	"github.com/enrollhook/enrollhook/pkg/logcheck"
)

// Every log line of this package's tests passes the secret sink: every
// logger a test hands to the builders (testLogger) and slog.Default.
// TestMain fails the run when a line held a configured secret (the
// constants below) or a token an emulator made with newEmulator issued.
// TestTestsLogThroughTheSink keeps new tests on these helpers.
var sink = logcheck.NewSink()

// Secrets of the chat senders' tests, not their development ones.
const (
	slackSecret = "wiring-test-slack-signing-secret-0001"
	teamsToken  = "cmllLXRlc3QtdGVhbXMtdG9rZW4tMzItYnl0ZXMhISE="
)

func TestMain(m *testing.M) {
	sink.Secrets(slackSecret, teamsToken, fedSecret, "basic:svc:pw:x", "basic:svc.enrollhook:Winter2025!x")
	os.Exit(sink.Run(m))
}

// testLogger is the logger of a test that reads its logs from w: the lines
// go to w and to the secret sink.
func testLogger(w io.Writer) *slog.Logger {
	return sink.Logger(w)
}

// newEmulator is graphemu.New whose issued tokens the sink checks.
func newEmulator(o *graphemu.Options) *graphemu.Server {
	e := graphemu.New(o)
	sink.Tokens(e.IssuedTokens)
	return e
}

// TestTestsLogThroughTheSink fails for a test that logs or starts an
// emulator past the sink.
func TestTestsLogThroughTheSink(t *testing.T) {
	logcheck.RequireSink(t, ".", "logsink_test.go",
		logcheck.Rule{Re: regexp.MustCompile(`graphemu\.New\(`), Hint: "use newEmulator, whose tokens the secret sink checks"})
}

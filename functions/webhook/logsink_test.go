package main

import (
	"os"
	"regexp"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/awsapi/awsapitest"
	"github.com/enrollhook/enrollhook/pkg/graphemu"
	"github.com/enrollhook/enrollhook/pkg/logcheck"
)

// Every log line of this package's tests passes the secret sink: the
// function's own output under the runtime interface emulator (startRIE)
// and slog.Default.
// TestMain fails the run when a line held a configured secret: the
// constants below, every ENROLLHOOK_*SECRET*/PASSWORD/TOKEN value a test
// gives startRIE, and every token an emulator made with newEmulator issued.
// TestTestsLogThroughTheSink keeps new tests on these helpers.
var sink = logcheck.NewSink()

func TestMain(m *testing.M) {
	sink.Secrets(rieSecret, rieJiraSecret, rieSlackSecret, rieTeamsToken,
		"basic:svc:pw:x", "basic:svc.enrollhook:Winter2025!x")
	code := sink.Run(m)
	awsapitest.Stop() // the dynalite of rietest.DeliveryTable
	os.Exit(code)
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
		logcheck.Rule{Re: regexp.MustCompile(`graphemu\.New\(`), Hint: "use newEmulator, whose tokens the secret sink checks"},
		logcheck.Rule{Re: regexp.MustCompile(`cmd\.Stdout,\s*cmd\.Stderr\s*=\s*logs,\s*logs`), Hint: "send the function's output to the sink too"})
}

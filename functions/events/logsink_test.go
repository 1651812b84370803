package main

import (
	"os"
	"regexp"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/awsapi/awsapitest"
	"github.com/enrollhook/enrollhook/pkg/graphemu"
	"github.com/enrollhook/enrollhook/pkg/logcheck"
)

// Every log line of the events function's tests passes the secret sink, as in
// functions/webhook: slog.Default writes to it, the worker bootstrap's
// output under the runtime emulator goes to it, and the tokens of every
// emulator built with newEmulator are checked against it. TestMain fails
// the run on a leak; TestTestsLogThroughTheSink keeps new tests on it.
var sink = logcheck.NewSink()

func TestMain(m *testing.M) {
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

func TestTestsLogThroughTheSink(t *testing.T) {
	logcheck.RequireSink(t, ".", "logsink_test.go",
		logcheck.Rule{Re: regexp.MustCompile(`graphemu\.New\(`), Hint: "use newEmulator, whose tokens the secret sink checks"},
		logcheck.Rule{Re: regexp.MustCompile(`cmd\.Stdout,\s*cmd\.Stderr\s*=\s*logs,\s*logs`), Hint: "send the function's output to the sink too"})
}

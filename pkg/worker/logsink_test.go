package worker

import (
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/logcheck"
)

// Every log line written by this package's tests passes the secret sink:
// slog.Default writes to it, and so does every test logger, built with
// testLogger. The worker holds no secret; the sink keeps it so for the
// response_url a queued chat command carries.
var sink = logcheck.NewSink()

func TestMain(m *testing.M) {
	sink.Secrets(responseURLSecret)
	os.Exit(sink.Run(m))
}

// testLogger is the logger of a test that reads its logs from w: the JSON
// lines go to w and to the secret sink.
func testLogger(w io.Writer) *slog.Logger {
	return sink.Logger(w)
}

// TestTestsLogThroughTheSink fails for a test file that builds a log handler
// writing anywhere but io.Discard without testLogger.
func TestTestsLogThroughTheSink(t *testing.T) {
	logcheck.RequireSink(t, ".", "logsink_test.go")
}

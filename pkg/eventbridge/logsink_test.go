package eventbridge

import (
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/logcheck"
)

// Every log line written by this package's tests passes the secret sink.
// The handler holds no secret; the sink keeps it so for the event's detail,
// which no line may carry whole (detailMarker).
var sink = logcheck.NewSink()

func TestMain(m *testing.M) {
	sink.Secrets(detailMarker)
	os.Exit(sink.Run(m))
}

// testLogger is the logger of a test that reads its logs from w.
func testLogger(w io.Writer) *slog.Logger {
	return sink.Logger(w)
}

// TestTestsLogThroughTheSink fails for a test file that builds a log handler
// writing anywhere but io.Discard without testLogger.
func TestTestsLogThroughTheSink(t *testing.T) {
	logcheck.RequireSink(t, ".", "logsink_test.go")
}

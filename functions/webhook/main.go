// Command webhook is the enrollhook function's Lambda bootstrap: it serves
// API Gateway HTTP API (payload 2.0) events, and answers an `aws lambda
// invoke` with an enrollhookCheck payload with the preflight
// (wiring.Event). It is wiring only: pkg/wiring builds everything once, at
// cold start. The local server, send, sign and check are functions/local's,
// which is never deployed.
package main

import (
	"github.com/enrollhook/enrollhook/functions/internal/lambdamain"
	"github.com/enrollhook/enrollhook/pkg/wiring"
)

// hint is the error off Lambda (AWS_LAMBDA_RUNTIME_API unset).
const hint = "this is the Lambda bootstrap; locally, run `go run ./functions/local serve -emulator` (make run)"

func main() {
	// A cold start that fails the init phase makes Lambda report an init
	// error instead of answering callers with a half-configured function.
	lambdamain.Main("enrollhook:", hint, wiring.WebhookLambda)
}

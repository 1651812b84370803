// Command worker applies queued changes: the consumer of the SQS queue of
// the async path (template.yaml, WorkerFunction). Each SQS record is one
// change the webhook authenticated, validated, found approved and recorded;
// the worker applies it exactly once through the same apply step as the
// webhook's and reports the records to receive again (partial batch
// failures). An `aws lambda invoke` with an enrollhookCheck payload runs
// the preflight with the worker's own role (wiring.WorkerEvent). It is
// wiring only: pkg/wiring builds everything once, at cold start.
//
// It reads the same environment as the webhook, less the sender secrets it
// does not need: Graph, credential, de-duplication table and write limit;
// and one setting of its own, ENROLLHOOK_DEAD_LETTER_URL, where it sends a
// message it gives up on with the reason.
package main

import (
	"github.com/enrollhook/enrollhook/functions/internal/lambdamain"
	"github.com/enrollhook/enrollhook/pkg/wiring"
)

// hint is the error off Lambda (AWS_LAMBDA_RUNTIME_API unset).
const hint = "the worker runs on Lambda only; locally, ENROLLHOOK_QUEUE_URL=local makes the local server run the same worker in process"

func main() {
	// A cold start that fails the init phase makes Lambda report an init
	// error; the messages stay in the queue.
	lambdamain.Main("enrollhook worker:", hint, wiring.WorkerLambda)
}

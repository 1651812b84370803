// Command events applies changes that arrive as EventBridge events
// (template.yaml, EventsFunction): a rule on a bus invokes it with each
// event, whose detail is the generic envelope. It is wiring only:
// pkg/wiring builds everything once, at cold start, and pkg/eventbridge
// handles each event (the policy's allow-list, the pipeline, the outcome).
// An `aws lambda invoke` with an enrollhookCheck payload runs the preflight
// with the events function's own role (wiring.EventsEvent).
//
// It reads the same environment as the worker: Graph, credential, policy
// (with its eventbridge allow-list), de-duplication table, change records
// and write limit. The handler returns an error only for a retryable
// failure, so that Lambda retries the asynchronous invocation and then
// sends the event to the dead-letter queue; a refusal is final.
package main

import (
	"github.com/enrollhook/enrollhook/functions/internal/lambdamain"
	"github.com/enrollhook/enrollhook/pkg/wiring"
)

// hint is the error off Lambda (AWS_LAMBDA_RUNTIME_API unset).
const hint = "the events function runs on Lambda only; `sam local invoke EventsFunction -e events/eventbridge-approved.json` runs it locally"

func main() {
	// A cold start that fails the init phase makes Lambda report an init
	// error; the asynchronous invocation is retried, then dead-lettered.
	lambdamain.Main("enrollhook events:", hint, wiring.EventsLambda)
}

// Package eventbridge applies changes that arrive as EventBridge events:
// the events function's handler (functions/events). A rule on a bus invokes
// the function; IAM authenticated the caller, so there is no signature.
// Handler.Handle checks who asks (the policy's allow-list of the event's
// source, account and detail-type, AllowList), reads the event's detail as
// the generic envelope once (change.Read, which keeps detail.dryRun in the
// same walk) and hands the change to the apply pipeline (apply.Pipeline.Run)
// as a Job whose delivery id is the event's id: EventBridge delivers at
// least once with the same id, so a redelivered event is answered from the
// de-duplication store and applied once. Handle only translates the
// Outcome: nil for a decision (applied, a dry run, replayed, refused: a
// refusal is final, kept in the store where the pipeline took the event,
// and written to the audit line with its reason), an error for a retryable
// failure, so that Lambda's retries of the asynchronous invocation and then
// the dead-letter queue take over. Then the pipeline's Finish writes the
// audit line and, for a final outcome, the write-back.
//
// eventbridge imports package apply, change and sender (its name), and
// aws-lambda-go's events and lambdacontext; never the HTTP adapter, the
// worker, the store or a sender adapter.
package eventbridge

// Package worker applies queued changes: the SQS batch of the async path.
// Worker.Process reads one message and hands it to the apply pipeline
// (apply.Pipeline.Run) as a Job: validated again (the queue is a trust
// boundary of its own), approval and the policy in force now, the
// worker's own record of the change in the de-duplication store (so that
// a message delivered twice is applied once), and the same apply step as
// the request path. Process only translates the Outcome: what comes back
// (a retryable failure: a batch item failure), what goes to the
// dead-letter queue with its reason, the follow-up of a chat command where
// the sender allows (Slack's response_url); then the pipeline's Finish
// writes the audit line and, once the outcome is final, the write-back.
//
// worker imports package apply, change, chat, graph (results) and queue
// (the message and its reason); never the HTTP adapter, the store or a
// sender.
package worker

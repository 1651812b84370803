// Package worker applies queued changes: the SQS batch of the async path.
// Worker.Process takes one message, checks it again (the queue is a trust
// boundary of its own: validation, approval, the policy in force now),
// takes the worker's own record of the change in the de-duplication store
// so that a message delivered twice is applied once, and runs it through
// the same apply pipeline as the request path (package apply). It decides
// what comes back (a retryable failure), what goes to the dead-letter queue
// with its reason, and posts the outcome of a chat command where the sender
// allows (Slack's response_url).
//
// worker imports package apply, change, chat, graph (results), idempotency
// (the lease) and queue (the message and its reason); never the HTTP
// adapter or a sender.
package worker

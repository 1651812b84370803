// Package queue carries approved changes from the webhook to the worker
// when a sender's change is applied asynchronously: the Message on the
// wire, an SQS client that enqueues it (SQS), an in-process queue for
// `make run` and single-process use (Local), and the adapter that turns an
// SQS event into calls of the worker with partial batch failures
// (HandleSQS). Both queues also take the worker's dead letters: a message
// it gives up on, with its Reason (SQS.DeadLetter: message attributes on
// the dead-letter queue; Local.DeadLetter: its in-memory list).
//
// It imports change (the domain) and the AWS SDK, never another pkg/
// package: the worker's logic lives in webhook, which hands its Process
// method to Local or HandleSQS.
package queue

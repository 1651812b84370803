// Package queue carries approved changes from the webhook to the worker
// when a sender's change is applied asynchronously: the Message on the
// wire, an SQS client that enqueues it (SQS), an in-process queue for
// `make run` and single-process use (Local), and the adapter that turns an
// SQS event into calls of the worker with partial batch failures
// (HandleSQS). Both queues also take the worker's dead letters: a message
// it gives up on, with its Reason (SQS.DeadLetter: message attributes on
// the dead-letter queue; Local.DeadLetter: its in-memory list).
//
// Every message is sealed (seal.go): Message.Seal writes it behind an
// HMAC-SHA256 under the deployment's Key, and Open checks that on the raw
// body before it reads the message, so the worker applies only what the
// webhook queued.
//
// Of the module's packages it imports only change (the domain); the SQS
// client is any SendMessageAPI (pkg/awsapi's in the functions). The
// worker's logic lives in pkg/worker, which hands its Process method to
// Local or HandleSQS.
package queue

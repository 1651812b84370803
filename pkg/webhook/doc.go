// Package webhook is the HTTP adapter of the request path: the routes, the
// raw body read under a cap, the sender's authentication on those bytes
// (through its Source), which parses them once into a source.Delivery that
// the same sender then decodes, the problem+json
// writer, each chat sender's reply format, and the 202 answers of the
// queued path. A decoded change (a delivery, or a chat command's assign or
// plan) goes to the apply pipeline (package apply) as one apply.Job, with
// a dry run or an enqueue to the worker asked for in the Job:
// apply.Pipeline.Run owns the order of what follows (approval, policy, the
// take of the delivery, the dry run, enqueue or apply step, the store's
// answer), and the handler only turns the Outcome into its answer, then
// calls Finish for the audit line and the write-back. The worker (package
// worker) runs the same pipeline. A chat command's own record in the
// store (chatDedupe), which covers every verb, stays here.
//
// It is the only package that writes HTTP responses. It declares what it
// needs from the senders (Source, Replier) and the queue (Queue), and
// imports package apply, change, chat (chat replies), graph (results and
// errors), idempotency (a chat command's own record), queue (the message) and source (the
// Delivery the senders share); never a sender adapter or the worker. Nothing imports it but the functions and their
// builder (package wiring).
package webhook

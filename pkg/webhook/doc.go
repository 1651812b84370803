// Package webhook is the HTTP adapter of the request path: the routes, the
// raw body read under a cap, the sender's authentication on those bytes
// (through its Source), which parses them once into a source.Delivery that
// the same sender then decodes, the approval gate, the problem+json
// writer, each chat sender's reply format, and the 202 answers of the
// queued path. Everything a change goes through after that (de-duplication,
// policy, write slot, update strategy, audit, write-back) is the apply
// pipeline's (package apply), which the worker (package worker) shares.
//
// It is the only package that writes HTTP responses. It declares what it
// needs from the senders (Source, Replier) and the queue (Queue), and
// imports package apply, change, chat (chat replies), graph (results and
// errors), idempotency (the lease), queue (the message) and source (the
// Delivery the senders share); never a sender adapter or the worker. Nothing imports it but the functions and their
// builder (package wiring).
package webhook

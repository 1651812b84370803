// Package apply is the one pipeline a change goes through once it is
// authenticated and decoded, shared by the request path and the chat
// commands (package webhook) and the worker (package worker). Its one entry
// is Pipeline.Run, which owns the order of the steps (run.go): each caller
// only translates its input into a Job and the Outcome into its own answer
// (an HTTP answer, a chat reply, a retry or a dead letter), then calls
// Finish, which writes the audit line and, after the answer, the
// write-back. The order: validation (a queued change), approval and the
// policy, the take of the delivery in the store (a replay answers from
// it), the change window (refused outside it, or queued until it opens),
// then the dry run, the enqueue to the worker, the revert or the apply
// step (recorded in the change record), then the store's complete or
// release; audit and write-back in Finish. The steps:
//
//   - de-duplication: the delivery's key and fingerprint (Key, ChatKey,
//     WorkKey), the lease taken, completed or released in the store, and the
//     dry-run marker that spends a delivery id on a plan (dedupe.go); a
//     write whose answer was lost gives the lease up with a note of the
//     assignment before it, and the retry reads Graph before it writes
//     again (attempt.go);
//   - the guardrail policy and the change window (policy.go);
//   - a write slot under Intune's write limit (limit.go);
//   - the update strategy: the item PATCH, the assign action, or auto, with
//     the configuration lease that keeps two read-modify-writes of one
//     configuration apart (strategy.go); a dry run reads instead (plan.go);
//   - the change record of every applied change, with the assignment
//     before and after (record.go), and the revert that puts the before
//     back, under one lock, only if Graph still holds what was applied
//     (revert.go); History for /intune history;
//   - the audit line and its Embedded Metric Format document (audit.go);
//   - the write-back of the outcome to the ticket (writeback.go);
//   - the problem each coded error is to a caller (problem.go), and the
//     redaction of causes for the operator's log.
//
// Options has one small struct per concern. apply declares what it needs
// from its collaborators (Graph, AssignGraph, Store, Limiter, Policy,
// WriteBacker) and imports package change, graph (its results, errors and
// the readings of Graph's JSON), idempotency (the lease), limiter (its
// budget error), record (the change record), sender (the registry: which
// senders' tickets a chat revert looks in), strategy (the strategies'
// names) and writeback (the note); never the HTTP adapter, the worker, the
// queue or a sender adapter. It writes no HTTP response.
package apply

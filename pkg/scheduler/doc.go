// Package scheduler holds a change whose window opens more than the
// queue's 15 minutes ahead: a one-time EventBridge Scheduler schedule
// (`at(...)`, in the stack's schedule group) that delivers the queued
// change to the worker's queue when the window opens, with the schedule's
// own retry policy and dead-letter queue, and deletes itself after it ran.
//
// A ticket's change of one assignment has one schedule (Name): scheduling
// it again replaces it, and a revert or a new delivery for the same
// ticket and assignment deletes it (Unschedule). The worker checks the
// policy and the window again when the schedule fires.
//
// It speaks the Scheduler's REST API through pkg/awsapi (signed requests,
// retries) and imports queue (the message it delivers) and change.
package scheduler

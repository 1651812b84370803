// Package record keeps the change record: one Record per change enrollhook
// wrote or scheduled (never a dry run), with the ticket and its people, the
// assignment before and after, Graph's request ids and the time, so that a
// change can be shown (/intune history) and put back (revert).
//
// Two stores implement Store, with the same behaviour: Memory (embedded,
// one process, bounded) and DynamoDB (a table of its own, see dynamodb.go).
// A record is kept for a retention (default 90 days) and then forgotten by
// both. The first record stored under an id is the one kept: a retried Put
// of the same record is not a second record, and another record under the
// same id is refused with ErrConflict.
//
// The package imports no other enrollhook package but pkg/awsapi (its
// DynamoDB wire helpers), like pkg/idempotency: the pipeline fills a
// Record from its change.Request and Applied.
package record

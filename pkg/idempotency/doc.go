// Package idempotency de-duplicates deliveries: every sender delivers at
// least once, and a retried approval must neither be lost nor applied twice.
// It follows the protocol of Powertools for AWS Lambda's idempotency
// utility: a conditional write takes a key as IN_PROGRESS
// until the invoke's deadline; success stores the answer as COMPLETED; a
// failure releases the key so the sender's retry runs; a holder that died is
// taken over once its in-progress expiry passes. One state goes beyond
// Powertools: an attempt whose outcome it cannot know (a write sent, its
// answer lost) gives the key up as ATTEMPTED with a note, and the next
// attempt of the same delivery takes the key with that note, so it can
// find out what the first one did before writing again.
//
// Two stores implement Store: Memory (embedded, one process) and DynamoDB.
// The package imports no other enrollhook package but pkg/awsapi (its
// DynamoDB wire helpers).
package idempotency

// Package chatrequest keeps the chat changes waiting for a second person:
// a Request made by `/intune assign ...` when the policy asks for another
// person's approval, until someone approves or rejects it
// (`/intune approve <id>`, `/intune reject <id>`, or Slack's buttons) or
// it expires.
//
// Two stores implement Store, with the same behaviour (one test suite runs
// over both, DynamoDB against dynalite):
//
//   - Memory, embedded, for `make run` and tests: one process, bounded by
//     Options.MaxRequests. When full, Create drops the requests past their
//     expiry and, if that frees nothing, refuses with ErrFull rather than
//     drop a request that can still be decided.
//   - DynamoDB, on the change record's table (ENROLLHOOK_CHANGE_TABLE,
//     template.yaml's ChangeTable, shared with pkg/record): one item per
//     request, pk "chatrequest#" and the id, sk "chatrequest", no
//     "assignment" attribute, so it is never in the change history's
//     index. It calls GetItem and PutItem only, which the functions may
//     already do on that table. The item's "expires" (epoch seconds) is the
//     table's TTL: DynamoDB deletes it some time (up to days) after the
//     request expires; until then the store treats it as expired itself.
//
// The rules, in both:
//
//   - An id is ASCII letters and digits (chat.NewRequestID makes 8 of
//     them), kept in upper case and matched in any case. Create refuses an
//     id a stored request has, even an expired one (ErrExists), so an id a
//     person saw never names another request while it is stored; make a
//     new id and try again.
//   - A request expires Options.TTL (default one hour) after it was
//     created, in whole seconds. Get of a pending request past its expiry
//     returns it with ErrExpired; Decide refuses it so (ErrExpired, with
//     the request). A decided request stays decided after that time, until
//     the store drops it (then ErrNotFound).
//   - Decide is the one atomic step: of any number of concurrent Decide
//     calls of a pending request exactly one succeeds. The others get the
//     request as decided with ErrDecided, so the caller can say who
//     decided it and how. In DynamoDB the decision is a PutItem conditioned
//     on the item being pending, unexpired and the one read; a put that
//     took effect but whose answer was lost is recognised by its token.
//   - The requester cannot approve their own request (ErrSelfApproval; the
//     stable user ids are compared, never names), but may reject it. The
//     policy's list of approvers is the caller's to check.
//   - Change and Before are kept as JSON and come back compacted.
//   - ResponseURL is a capability: Request's String and LogValue leave it
//     out, and no error of the package holds it. It is stored, in the
//     item's JSON, for the outcome to be posted there.
//
// Errors are sentinels, for errors.Is: ErrNotFound, ErrExists, ErrExpired,
// ErrDecided, ErrSelfApproval, ErrFull and ErrInvalid (a malformed id,
// request or decision); DynamoDB's own failures come back wrapped.
//
// The package imports no other enrollhook package but pkg/awsapi (its
// DynamoDB wire helpers): the chat flow fills a Request from its
// change.Request, its plan and the invocation.
package chatrequest

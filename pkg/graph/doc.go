// Package graph is enrollhook's Microsoft Graph client: a small typed client
// for the Intune enrollment configuration assignments (beta or v1.0),
// built on azcore's runtime pipeline instead of the generated Graph SDK.
//
// It owns the wire with Graph: URLs and key escaping, the bearer token,
// client-request-id and Retry-Attempt headers, its own retry budget (azcore's
// retry policy is switched off, see retryPolicy), the 200-with-body versus
// 204 quirk of Intune PATCH, and the translation of Graph answers into the
// coded errors of package change. It is also the only reader of Graph's
// JSON (assignment.go): the public body of an answer, an assignment's
// target, the assign action's read-modify-write (the complete set to send,
// the target before the change, the changed assignment found in the set read
// back), and what a PATCH would make of an assignment (a dry run's plan). The cause of every coded error is a
// *ResponseError (or a transport or token error) for the operator's log;
// nothing Graph sent, and never the token, reaches change.Error.Message.
//
// Every HTTP call is logged once through log/slog with its operation name,
// status, Graph request-id, client-request-id, attempt count and duration.
// Bodies, URLs with hosts, tokens and the Authorization header are never
// logged; azcore's own log policy runs with IncludeBody off and its header
// redaction untouched.
//
// graph imports package change and no other enrollhook package. Its
// consumers (package apply) declare the interfaces they need from graph;
// graph knows nothing of them, the sources, the policy or the idempotency
// store.
package graph

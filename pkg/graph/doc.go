// Package graph is enrollhook's Microsoft Graph client: a small typed client
// for the Intune enrollment configuration assignments (beta or v1.0) on
// net/http, instead of the generated Graph SDK. Of azcore it keeps the
// types: azcore.TokenCredential (azidentity's credentials) for the token and
// policy.Transporter for the transport.
//
// It owns the wire with Graph: URLs and key escaping, the connection (the
// default transport's dialer can open it at cold start, while the token is
// fetched: preconnect.go), the bearer token and its cache, client-request-id and Retry-Attempt headers, its own retry
// budget (see retryPolicy), the 200-with-body versus 204 quirk of Intune
// PATCH, and the translation of Graph answers into the coded errors of
// package change. Each call builds its *http.Request directly and sends it
// on the transport: no policy pipeline runs per call, so a PATCH costs a
// few microseconds and about a dozen allocations of its own.
//
// The token cache (token.go) does what azcore's bearer token policy did:
// one token is reused until RefreshOn, or until 5 minutes before ExpiresOn;
// concurrent callers without a usable token wait for one GetToken (single
// flight); a renewal ahead of expiry that fails keeps the current token; a
// 401 drops the token it answered, and a Continuous Access Evaluation
// challenge is answered with a token for its claims and sent once more. A
// token never goes over plain http unless Options.InsecureAllowHTTP allows
// it (a loopback emulator).
//
// It is also the only reader of Graph's JSON (assignment.go): the public
// body of an answer, an assignment's target, the assign action's
// read-modify-write (the complete set to send, the target before the
// change, the changed assignment found in the set read back), and what a
// PATCH would make of an assignment (a dry run's plan). The cause of every
// coded error is a *ResponseError (or a transport or token error) for the
// operator's log; nothing Graph sent, and never the token, reaches
// change.Error.Message.
//
// Every HTTP call is logged once through log/slog with its operation name,
// status, Graph request-id, client-request-id, attempt count and duration.
// Bodies, URLs with hosts, tokens and the Authorization header are never
// logged. Graph calls do not appear in azcore's own log (AZURE_SDK_GO_LOGGING),
// which shows azidentity's token requests only.
//
// graph imports package change and no other enrollhook package. Its
// consumers (package apply) declare the interfaces they need from graph;
// graph knows nothing of them, the sources, the policy or the idempotency
// store.
package graph

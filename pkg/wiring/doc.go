// Package wiring builds, once per process, what the functions run: the
// configuration, the one credential, the Graph client, the guardrail
// policy, the de-duplication store and write limiter, the queue of the
// async path and the write-back, and from them the one apply pipeline
// (pkg/apply) and over it the webhook's HTTP handler (Webhook), the
// worker's SQS handler (Worker, over pkg/worker), the events function's
// EventBridge handler (Events, over pkg/eventbridge), and the three
// functions' Lambda handlers, each also answering the enrollhookCheck
// preflight with its own role (WebhookLambda, WorkerLambda, EventsLambda). Every problem
// found is returned together, so that a misconfigured cold start lists
// them all.
//
// functions/webhook, functions/worker, functions/events and functions/local
// call it; nothing else does. It is the one package that calls the
// constructors of pkg/apply, pkg/webhook, pkg/worker and pkg/eventbridge
// (handler.go). It must not import pkg/graphemu, a test helper package or
// anything of functions/local: both Lambda bootstraps link it. On Lambda
// the AWS configuration comes from the environment the runtime provides
// (aws.go), not from the SDK's default loader.
package wiring

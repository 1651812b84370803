// Package generic is the sender adapter for signed JSON: any system that can
// sign the generic envelope with Standard Webhooks (webhook-id,
// webhook-timestamp, webhook-signature). It authenticates the raw request
// and decodes it into a change.Request. It imports change, signature,
// sender (its name) and source (the refusals every sender shares) only; it
// never imports a sibling source.
package generic

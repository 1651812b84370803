// Package servicenow is the sender adapter for ServiceNow approvals.
// ServiceNow has no fixed webhook format, so enrollhook publishes one (the
// approval contract of docs/senders/servicenow.md: data.approval, data.record, data.intune)
// for a Business Rule or a Flow Designer REST step to send. Deliveries are
// authenticated with a Standard Webhooks signature (GlideCertificateEncryption
// can compute it) or, for instances that only do Basic, with HTTP Basic
// credentials. Only an approved approval changes anything.
//
// A delivery as ServiceNow sends it is read once (onepass.go, on
// change.Scanner), repeated names included; any other body (a repeat, a
// wrong JSON type, an unknown data.intune property, a name in another
// letter case, a null) is refused or unusual, and is read with
// encoding/json and checked for repeats apart, so that its refusal is
// worded as encoding/json reports it.
//
// It imports change, signature, sender (its name) and source (the refusals
// every sender shares) only; it never imports a sibling source.
package servicenow

// Package jira is the sender adapter for Jira Cloud and Jira Service
// Management. It takes two shapes on one route: Jira's own webhook (an
// issue event with webhookEvent, issue.fields and changelog), mapped onto a
// change through configured custom fields and approved only by the event
// that approves the issue; and the generic envelope, as a Jira Automation
// "Send web request" rule posts it. Deliveries are authenticated with
// X-Hub-Signature (sha256=<hex> HMAC of the raw body; Jira's header, not
// GitHub's X-Hub-Signature-256), then parsed once: the generic envelope by
// change.Read, which keeps its signed timestamp and stops at an issue, the
// mark of Jira's own webhook, which is then read in one pass (onepass.go,
// on change.Scanner), repeated names included, when it is as Jira sends it;
// a body with a repeat, a wrong JSON type or a name in another letter case
// is read with encoding/json and walked for repeats apart, so that its
// refusal keeps encoding/json's wording. The delivery
// id is derived from the signed body (X-Atlassian-Webhook-Identifier is not
// signed), and the body's own timestamp bounds replays.
//
// It imports change, signature, sender (its name) and source (the refusals
// every sender shares) only; it never imports a sibling source.
package jira

// Package teams is the sender adapter for Microsoft Teams outgoing webhooks
// (POST /hooks/teams): it verifies the HMAC in the Authorization header over
// the raw activity, enforces a replay window on the activity's signed
// timestamp, reads the command (the message text without the mention) and
// who sent it, and renders replies as Teams message activities. Teams gives
// an outgoing webhook no way to post later, so a late outcome is logged
// only. It imports change, chat, signature, sender (its name) and source
// (the refusals every sender shares); it never imports a sibling source.
package teams

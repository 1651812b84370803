// Package chat is the command language of the chat senders (Slack slash
// commands, Teams outgoing webhooks) and what they share: parsing a command
// ("assign", "show", "help"), who may run one (Allowlist), turning an
// authenticated command into a change.Request whose requester and approver
// are the chat user, and the replies the user sees, independent of any
// sender's message format.
//
// It imports change only; the sender adapters (source/slack,
// source/teams) and the webhook handler import it.
package chat

// Package sender is the one registry of enrollhook's senders: each one's
// name (the route segment of POST /hooks/{name} and the key of the policy
// file), its kind (an ITSM approval or a chat command), the environment
// variable holding its webhook secret (and, for the chat senders, those of
// their allow-lists), and whether its changes are queued by default. The
// event senders (EventBridge), which have no route and no secret, are
// listed apart (Events, IsEvent): All, Names and Lookup are the webhook's
// routes; Known and KnownNames are every sender, as the policy file names
// them.
//
// It also holds the forms of the senders' ids (ids.go): those the chat
// senders' allow-lists name (Slack team and member ids, Teams user ids,
// Entra GUIDs), which the configuration and the policy both check, and the
// ticket ids URLs are built from (ServiceNow tables and sys_ids, Jira issue
// keys), which the ITSM adapters and the write-back both check.
//
// config, policy, the sender adapters, writeback and the functions read it;
// nothing else spells a sender's name or these facts again.
//
// It imports only the standard library. It is a leaf, not a part of
// change, because config must not import change (config depends on the
// standard library and the validator alone, so that reading the
// environment never pulls in the domain), and policy and the functions need
// the same list: the one place both sides may read is a package that
// depends on nothing.
package sender

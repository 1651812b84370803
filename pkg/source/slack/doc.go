// Package slack is the sender adapter for Slack (POST /hooks/slack): slash
// commands, and presses of the Approve and Reject buttons enrollhook puts
// under a request waiting for a second person (Slack interactivity: a form
// whose one field, payload, holds a block_actions JSON payload, sent to the
// same URL). Both carry Slack's v0 request signature over the raw form
// body, verified before anything is read; the form, and a press's payload,
// are then parsed once. A press becomes the command its button stands for
// (approve or reject <request id>, nothing else), run by the user who
// pressed it under the same allow-list, with the same response_url rules.
// Replies are rendered as Slack messages, a reply's actions as Block Kit
// buttons under its text. A late outcome is posted to the response_url,
// and so must every reply to a press be (Pressed tells one), since Slack
// shows nothing of the answer to a press. It imports change, chat, signature, sender (its name) and
// source (the refusals every sender shares); it never imports a sibling
// source.
package slack

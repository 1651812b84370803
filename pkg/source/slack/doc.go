// Package slack is the sender adapter for Slack slash commands
// (POST /hooks/slack): it verifies Slack's v0 request signature over the
// raw form body, reads the command and who sent it, renders replies as
// Slack messages and posts a late outcome to the command's response_url.
// It imports change, chat, signature, sender (its name) and source (the
// refusals every sender shares); it never imports a sibling source.
package slack

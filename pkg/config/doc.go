// Package config reads the environment once, at cold start, validates it and
// reports every problem together. It is the only reader of the environment.
// Of the enrollhook packages it imports only sender, the leaf registry of the
// senders (their names, secret variables and queue defaults, and the forms
// of the chat senders' ids), so that a sender is spelled in one place.
package config

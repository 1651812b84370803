// Package config reads the environment once, at cold start, validates it and
// reports every problem together. It is the only reader of the environment.
// Of the enrollhook packages it imports only two leaves, so that what it
// shares with the rest is spelled in one place: sender, the registry of the
// senders (their names, secret and allow-list variables, queue defaults and
// id forms), and strategy, the names of the update strategies.
package config

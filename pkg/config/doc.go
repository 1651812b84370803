// Package config reads the environment once, at cold start, validates it and
// reports every problem together. It is the only reader of the environment.
// Of the enrollhook packages it imports only leaves (packages that import
// nothing of the module), so that what it shares with the rest is spelled in
// one place: sender, the registry of the senders (their names, secret and
// allow-list variables, queue defaults and id forms); strategy, the names of
// the update strategies; and signature, for the default replay window.
package config

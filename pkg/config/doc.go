// Package config reads the environment once, at cold start, validates it and
// reports every problem together. It is the only reader of the environment.
// It imports no other enrollhook package.
package config

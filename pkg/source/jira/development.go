package jira

import "strings"

// IsDevelopmentSecret reports whether secret is DevelopmentSecret, also
// with surrounding white space or in other letter case: Jira keys the HMAC
// with the secret's bytes as they are, so those are other keys, but ones
// anybody can derive from the published value.
func IsDevelopmentSecret(secret string) bool {
	return strings.EqualFold(strings.TrimSpace(secret), DevelopmentSecret)
}

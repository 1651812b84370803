package config

// identityKeys are the variables loadIdentity reads, beyond
// ENROLLHOOK_CREDENTIAL and AZURE_CLIENT_ID.
var identityKeys = []string{}

// Identity holds what the credential modes other than the default need.
type Identity struct{}

// loadIdentity reads the credential settings into c, reporting each problem
// through bad.
func loadIdentity(get func(string) string, c *Config, bad func(string, ...any)) {}

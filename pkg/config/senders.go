package config

// senderKeys are the variables loadSenders reads, beyond the secrets.
var senderKeys = []string{}

// Senders holds per-sender settings beyond the secrets.
type Senders struct{}

// loadSenders reads the sender settings into c, reporting each problem
// through bad.
func loadSenders(get func(string) string, c *Config, bad func(string, ...any)) {}

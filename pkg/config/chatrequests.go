package config

import "time"

// EnvChatRequestTTL is how long a chat request waits for a second person
// (the policy's chat approvers) before it expires; default 1 hour. The
// requests live in the change-record table (ENROLLHOOK_CHANGE_TABLE), else
// in the process.
const EnvChatRequestTTL = "ENROLLHOOK_CHAT_REQUEST_TTL"

var chatRequestKeys = []string{EnvChatRequestTTL}

// Bounds of ENROLLHOOK_CHAT_REQUEST_TTL.
const (
	defaultChatRequestTTL = time.Hour
	minChatRequestTTL     = time.Minute
	maxChatRequestTTL     = 7 * 24 * time.Hour
)

func loadChatRequests(get func(string) string, c *Config, bad func(string, ...any)) {
	c.ChatRequestTTL = defaultChatRequestTTL
	v := get(EnvChatRequestTTL)
	if v == "" {
		return
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < minChatRequestTTL || d > maxChatRequestTTL {
		bad("%s must be a duration from 1m to 168h, such as 1h", EnvChatRequestTTL)
		return
	}
	c.ChatRequestTTL = d
}

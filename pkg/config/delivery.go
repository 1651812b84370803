package config

import (
	"strconv"
	"time"
)

// De-duplication and write-limit settings.
const (
	// EnvIdempotency names the DynamoDB table of delivery records; unset
	// means the embedded store (one process).
	EnvIdempotency = "ENROLLHOOK_IDEMPOTENCY_TABLE"
	// EnvIdempotencyTTL is how long a completed delivery's answer is kept
	// for replays (default 48h: PagerDuty-style senders retry for 48 hours).
	EnvIdempotencyTTL = "ENROLLHOOK_IDEMPOTENCY_TTL"
	// EnvWriteLimit is how many Graph writes one process makes per
	// EnvWriteWindow (default 100 per 20s, Intune's per-app limit).
	EnvWriteLimit  = "ENROLLHOOK_WRITE_LIMIT"
	EnvWriteWindow = "ENROLLHOOK_WRITE_WINDOW"
)

var deliveryKeys = []string{EnvIdempotency, EnvIdempotencyTTL, EnvWriteLimit, EnvWriteWindow}

// Delivery holds the de-duplication and write-limit settings.
type Delivery struct {
	// Table is the DynamoDB table; empty means the embedded store.
	Table string
	// TTL keeps a completed delivery's answer (default 48h).
	TTL time.Duration
	// WriteLimit writes per WriteWindow per process (default 100 per 20s).
	WriteLimit  int
	WriteWindow time.Duration
}

// minIdempotencyTTL is the shortest ENROLLHOOK_IDEMPOTENCY_TTL: longer than
// the widest replay window (two hours: Jira's body timestamp is accepted an
// hour either side) plus the function's time.
const minIdempotencyTTL = 3 * time.Hour

func loadDelivery(get func(string) string, c *Config, bad func(string, ...any)) {
	d := Delivery{Table: get(EnvIdempotency), TTL: 48 * time.Hour, WriteLimit: 100, WriteWindow: 20 * time.Second}
	if v := get(EnvIdempotencyTTL); v != "" {
		ttl, err := time.ParseDuration(v)
		// The record must outlive every replay window a signed timestamp
		// allows (Jira's body timestamp: an hour either side), or a
		// captured delivery, or a captured dry run without its flag, would
		// apply once its record is gone.
		if err != nil || ttl < minIdempotencyTTL || ttl > 30*24*time.Hour {
			bad("%s must be a duration from 3h to 720h, such as 48h: shorter than 3h, a delivery could be replayed inside its signed timestamp's window after its record expired", EnvIdempotencyTTL)
		} else {
			d.TTL = ttl
		}
	}
	if v := get(EnvWriteLimit); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			bad("%s must be a whole number of writes from 1 to 1000", EnvWriteLimit)
		} else {
			d.WriteLimit = n
		}
	}
	if v := get(EnvWriteWindow); v != "" {
		w, err := time.ParseDuration(v)
		if err != nil || w < time.Second || w > time.Hour {
			bad("%s must be a duration from 1s to 1h, such as 20s", EnvWriteWindow)
		} else {
			d.WriteWindow = w
		}
	}
	if d.Table != "" && !validTableName(d.Table) {
		bad("%s must be a DynamoDB table name (3 to 255 letters, digits, '_', '-', '.')", EnvIdempotency)
	}
	c.Delivery = d
}

func validTableName(s string) bool {
	if len(s) < 3 || len(s) > 255 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

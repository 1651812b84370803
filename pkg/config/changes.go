package config

import (
	"strconv"
	"time"
)

// Change record settings (pkg/record).
const (
	// EnvChangeTable names the DynamoDB table of change records; unset
	// means the embedded store (one process).
	EnvChangeTable = "ENROLLHOOK_CHANGE_TABLE"
	// EnvChangeRetentionDays is how many days a change record is kept
	// (default 90), for history and revert.
	EnvChangeRetentionDays = "ENROLLHOOK_CHANGE_RETENTION_DAYS"
)

var changeKeys = []string{EnvChangeTable, EnvChangeRetentionDays}

// ChangeRecord holds the change record settings.
type ChangeRecord struct {
	// Table is the DynamoDB table; empty means the embedded store.
	Table string
	// Retention keeps a record (default 90 days, 1 to 3650 days).
	Retention time.Duration
}

// Bounds of ENROLLHOOK_CHANGE_RETENTION_DAYS.
const (
	defaultChangeRetentionDays = 90
	maxChangeRetentionDays     = 3650
)

func loadChangeRecord(get func(string) string, c *Config, bad func(string, ...any)) {
	r := ChangeRecord{Table: get(EnvChangeTable), Retention: defaultChangeRetentionDays * 24 * time.Hour}
	if v := get(EnvChangeRetentionDays); v != "" {
		days, err := strconv.Atoi(v)
		if err != nil || days < 1 || days > maxChangeRetentionDays {
			bad("%s must be a whole number of days from 1 to %d, such as 90", EnvChangeRetentionDays, maxChangeRetentionDays)
		} else {
			r.Retention = time.Duration(days) * 24 * time.Hour
		}
	}
	if r.Table != "" && !validTableName(r.Table) {
		bad("%s must be a DynamoDB table name (3 to 255 letters, digits, '_', '-', '.')", EnvChangeTable)
	}
	c.ChangeRecord = r
}

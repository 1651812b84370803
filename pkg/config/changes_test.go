package config

import (
	"strings"
	"testing"
	"time"
)

func TestChangeRecordSettings(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if r := c.ChangeRecord; r.Table != "" || r.Retention != 90*24*time.Hour {
		t.Errorf("defaults = %+v, want the embedded store and 90 days", r)
	}
	c, err = Load(env(map[string]string{EnvChangeTable: "enrollhook-changes", EnvChangeRetentionDays: "400"}))
	if err != nil {
		t.Fatal(err)
	}
	if r := c.ChangeRecord; r.Table != "enrollhook-changes" || r.Retention != 400*24*time.Hour {
		t.Errorf("settings = %+v, want enrollhook-changes and 400 days", r)
	}
	for _, tc := range []map[string]string{
		{EnvChangeRetentionDays: "0"}, {EnvChangeRetentionDays: "3651"}, {EnvChangeRetentionDays: "90d"},
		{EnvChangeRetentionDays: "2160h"}, {EnvChangeTable: "bad name!"}, {EnvChangeTable: "ab"},
	} {
		_, err := Load(env(tc))
		for k := range tc {
			if err == nil || !strings.Contains(err.Error(), k) {
				t.Errorf("Load(%v) = %v, want an error naming %s", tc, err, k)
			}
		}
	}
}

package main

import (
	"github.com/enrollhook/enrollhook/pkg/config"
	"github.com/enrollhook/enrollhook/pkg/webhook"
	"github.com/enrollhook/enrollhook/pkg/writeback"
)

// writeBackOf is the write-back of outcomes to tickets the configuration
// asks for (README, "Write-back to the ticket"), or nil: none.
func writeBackOf(cfg config.Config) webhook.WriteBacker {
	w := writeback.New(writeback.Options{
		ServiceNow: writeback.Target(cfg.WriteBack.ServiceNow),
		Jira:       writeback.Target(cfg.WriteBack.Jira),
	})
	if w == nil {
		return nil
	}
	return w
}

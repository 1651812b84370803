package wiring

import (
	"log/slog"

	"github.com/enrollhook/enrollhook/pkg/chat"
	"github.com/enrollhook/enrollhook/pkg/config"
	"github.com/enrollhook/enrollhook/pkg/sender"
	"github.com/enrollhook/enrollhook/pkg/source/generic"
	"github.com/enrollhook/enrollhook/pkg/source/jira"
	"github.com/enrollhook/enrollhook/pkg/source/servicenow"
	"github.com/enrollhook/enrollhook/pkg/source/slack"
	"github.com/enrollhook/enrollhook/pkg/source/teams"
	"github.com/enrollhook/enrollhook/pkg/webhook"
)

// adapter is what the wiring knows of one sender's adapter: how to build
// it from its secret and the configuration, and how to recognise its
// published development secret (by decoded key, in any spelling).
type adapter struct {
	build         func(secret string, cfg config.Config) (webhook.Source, error)
	isDevelopment func(secret string) bool
}

// adapters lists the senders this version has adapters for, by name.
var adapters = map[string]adapter{
	generic.Name: {func(secret string, cfg config.Config) (webhook.Source, error) {
		return generic.New(secret, cfg.SignatureTolerance)
	}, generic.IsDevelopmentSecret},
	servicenow.Name: {func(secret string, cfg config.Config) (webhook.Source, error) {
		return servicenow.NewWithOptions(secret, &servicenow.Options{Tolerance: cfg.SignatureTolerance, RevertState: cfg.Senders.ServiceNow.RevertState})
	}, servicenow.IsDevelopmentSecret},
	jira.Name: {func(secret string, cfg config.Config) (webhook.Source, error) {
		j := cfg.Senders.Jira
		return jira.New(secret, &jira.Options{ApprovedStatuses: j.ApprovedStatuses, RevertStatuses: j.RevertStatuses,
			WindowStartField: j.WindowStartField, WindowEndField: j.WindowEndField, ApprovalField: j.ApprovalField,
			ConfigurationField: j.ConfigurationField, AssignmentField: j.AssignmentField, GroupField: j.GroupField,
			FilterField: j.FilterField, FilterType: j.FilterType, TargetType: j.TargetType, Tolerance: cfg.SignatureTolerance})
	}, jira.IsDevelopmentSecret},
	slack.Name: {func(secret string, cfg config.Config) (webhook.Source, error) {
		s := cfg.Senders.Slack
		// A loopback response_url only against the loopback Graph
		// emulator (the local server, the tests), as the worker's poster.
		return slack.New(secret, &slack.Options{Tolerance: cfg.SignatureTolerance, ResponseType: s.ResponseType, AllowLoopbackResponseURL: cfg.GraphInsecureHTTP,
			Allow: allowlists(cfg)[slack.Name]})
	}, slack.IsDevelopmentSecret},
	teams.Name: {func(secret string, cfg config.Config) (webhook.Source, error) {
		return teams.New(secret, &teams.Options{Tolerance: cfg.SignatureTolerance, Allow: allowlists(cfg)[teams.Name]})
	}, teams.IsDevelopmentSecret},
}

// allowlists are the chat senders' allow-lists: who may run commands, as
// the senders check them and the worker checks them again.
func allowlists(cfg config.Config) map[string]chat.Allowlist {
	s, t := cfg.Senders.Slack, cfg.Senders.Teams
	return map[string]chat.Allowlist{
		slack.Name: {Tenant: s.TeamID, Users: s.AllowedUsers, TenantSetting: config.EnvSlackTeamID, UsersSetting: config.EnvSlackAllowedUsers},
		teams.Name: {Tenant: t.TenantID, Users: t.AllowedUsers, TenantSetting: config.EnvTeamsTenantID, UsersSetting: config.EnvTeamsAllowedUsers},
	}
}

// IsDevelopmentSecret reports whether secret is any sender's published
// development secret. The cold start tests every sender's secret against
// all of them: a published secret protects nothing, whichever variable it
// is set in.
func IsDevelopmentSecret(secret string) bool {
	for _, a := range adapters {
		if a.isDevelopment(secret) {
			return true
		}
	}
	return false
}

// chatNobodyAllowed names the setting a chat sender lacks to let anyone run
// commands, or "" when it has both.
func chatNobodyAllowed(name string, cfg config.Config) string {
	switch {
	case name == slack.Name && (cfg.Senders.Slack.TeamID == "" || len(cfg.Senders.Slack.AllowedUsers) == 0):
		return config.EnvSlackTeamID + " and " + config.EnvSlackAllowedUsers
	case name == teams.Name && (cfg.Senders.Teams.TenantID == "" || len(cfg.Senders.Teams.AllowedUsers) == 0):
		return config.EnvTeamsTenantID + " and " + config.EnvTeamsAllowedUsers
	}
	return ""
}

// senders builds the adapter of every sender with a secret, adding the
// problems, and names the disabled ones (no secret: fail closed).
func (b *builder) senders() (sources []webhook.Source, disabled []string) {
	cfg := b.cfg
	for _, name := range sender.Names() {
		secret := cfg.Secrets[name]
		a, ok := adapters[name]
		switch {
		case !ok && secret != "":
			b.log.Warn("sender not available in this version; its secret is ignored and its route answers 404", slog.String("source", name))
		case !ok:
		case secret == "":
			disabled = append(disabled, name)
			b.log.Warn("sender disabled: no secret, so its route refuses every delivery (fail closed)",
				slog.String("source", name), slog.String("set", config.SecretKey(name)))
		case (!b.opts.Local || !cfg.GraphInsecureHTTP) && IsDevelopmentSecret(secret):
			// The published secrets are for the loopback emulator only.
			b.problems = append(b.problems, config.SecretKey(name)+" is the published development secret; set a secret of your own")
		default:
			s, err := a.build(secret, cfg)
			if err != nil {
				b.problems = append(b.problems, config.SecretKey(name)+": "+err.Error())
				continue
			}
			if missing := chatNobodyAllowed(name, cfg); missing != "" {
				b.log.Warn("chat sender enabled, but nobody may run commands: every command is refused in its reply (fail closed)",
					slog.String("source", name), slog.String("set", missing))
			}
			sources = append(sources, s)
		}
	}
	return sources, disabled
}

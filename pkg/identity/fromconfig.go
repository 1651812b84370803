package identity

import "github.com/enrollhook/enrollhook/pkg/config"

// SettingsFrom maps the deployment's configuration onto Settings; both
// functions (webhook and worker) build their credential from it.
func SettingsFrom(cfg config.Config) Settings {
	id := cfg.Identity
	return Settings{
		Mode:                cfg.Credential,
		ClientID:            cfg.ClientID,
		ObjectID:            id.ObjectID,
		ResourceID:          id.ResourceID,
		TenantID:            id.TenantID,
		AuthorityHost:       id.AuthorityHost,
		TokenFile:           id.TokenFile,
		ClientSecret:        id.ClientSecret,
		CertificatePath:     id.CertificatePath,
		CertificatePassword: id.CertificatePassword,
		AWSRegion:           id.AWSRegion,
		Audience:            id.Audience,
	}
}

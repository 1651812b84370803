package identity

import "github.com/enrollhook/enrollhook/pkg/config"

// SettingsFrom maps the deployment's configuration onto Settings.
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

// FromConfig builds the credential the configuration names, the one place
// the functions and the preflight build it. It returns nil, nil when the
// configuration's credential settings are invalid (config.Identity.Valid is
// false): the configuration's own problems say why, and the caller lists
// them. Otherwise it is built whatever else is wrong, so that its failure
// (an unparsable certificate, say) is listed with the other problems. o may
// be nil; a custom authority turns instance discovery off, since Entra's
// discovery knows only Microsoft's authorities.
func FromConfig(cfg config.Config, o *Options) (*Credential, error) {
	if !cfg.Identity.Valid {
		return nil, nil
	}
	var opts Options
	if o != nil {
		opts = *o
	}
	opts.DisableInstanceDiscovery = opts.DisableInstanceDiscovery || cfg.Identity.CustomAuthority
	return New(SettingsFrom(cfg), &opts)
}

// Package identity builds the one azcore TokenCredential a deployment uses to
// call Graph. It is built once at cold start so its token cache outlives a
// single invoke. No mode here stores a Graph secret.
package identity

import (
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// ModeManagedIdentity is the default mode: azidentity's
// ManagedIdentityCredential, system-assigned, or user-assigned when a client
// id is given.
const ModeManagedIdentity = "managed-identity"

// Options tune New. A nil *Options means the defaults.
type Options struct {
	// ClientOptions are passed to azidentity (transport, retries, cloud).
	ClientOptions policy.ClientOptions
}

// New returns the credential for mode. clientID selects a user-assigned
// managed identity; empty means system-assigned. The endpoint is taken from
// the environment the Azure SDK documents (IDENTITY_ENDPOINT and
// IDENTITY_HEADER, MSI_ENDPOINT, IMDS).
func New(mode, clientID string, opts *Options) (azcore.TokenCredential, error) {
	if opts == nil {
		opts = &Options{}
	}
	switch mode {
	case "", ModeManagedIdentity:
		o := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: opts.ClientOptions}
		if clientID != "" {
			o.ID = azidentity.ClientID(clientID)
		}
		cred, err := azidentity.NewManagedIdentityCredential(o)
		if err != nil {
			return nil, fmt.Errorf("identity: managed identity: %w", err)
		}
		return cred, nil
	default:
		return nil, fmt.Errorf("identity: mode %q is not available in this version", mode)
	}
}

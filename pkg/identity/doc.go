// Package identity builds the one azcore TokenCredential a deployment uses
// to call Graph, for the mode ENROLLHOOK_CREDENTIAL names: a managed
// identity, workload identity, AWS IAM outbound identity federation
// (sts:GetWebIdentityToken as the assertion of a ClientAssertionCredential),
// or, for labs, a client secret or certificate. The credential is built once
// at cold start so its token cache outlives an invoke; its failures carry
// the mode, the step that failed and the likely missing setup step (*Error).
//
// It wraps azidentity and the AWS SDK's STS client, and loads no AWS
// configuration itself: the caller passes the one it built (Options). Of
// this module it imports only config, to map the configuration onto
// Settings (FromConfig). Package identitytest holds the local fakes its
// tests use; no function links it.
package identity

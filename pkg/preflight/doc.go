// Package preflight checks a deployment's configuration against Graph
// before the first approval: the credential, a token, Graph's answer and
// the permission, one verdict line per step. It changes nothing in Intune.
// Each of the three Lambda functions runs it for an `aws lambda invoke` with
// an enrollhookCheck payload (with its own role and environment), and
// functions/local's `check` runs it from an operator's shell.
//
// It imports config, identity, graph and change; the caller passes how to
// build the credential, so that the preflight tests the one the function
// builds.
package preflight

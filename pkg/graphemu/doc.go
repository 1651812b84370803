// Package graphemu is a local Microsoft Graph emulator for the one Intune
// resource enrollhook changes: enrollment configurations and their contained
// enrollmentConfigurationAssignment entities, under both the /beta and the
// /v1.0 version prefixes, plus the App Service-shaped managed-identity token
// endpoint that azidentity's ManagedIdentityCredential calls.
//
// It owns:
//   - the wire shapes Graph answers with (entities, collections, the OData
//     error body and Intune's nested-JSON error message, response headers);
//   - its own validation of assignment bodies, written from the Graph schema
//     and Microsoft's documentation of the resource, so that the Graph client is
//     checked against an independent implementation;
//   - the tokens it issues and the check that every Graph request carries one;
//   - fault injection (throttling, 5xx, latency, 204-on-PATCH, the routing
//     400 Intune answers on item routes, new ids from the assign action,
//     missing permissions) and the
//     observations tests need (calls, writes, token requests, stored state).
//
// It must not import any enrollhook package, change included: sharing the
// domain's validation would make tests agree with the code they test.
//
// Wiring for `make run` and tests:
//
//	emu := graphemu.New(nil)
//	root, shutdown, err := emu.Start("127.0.0.1:0")
//	// ENROLLHOOK_GRAPH_URL = graphemu.GraphURL(root, "beta")
//	// IDENTITY_ENDPOINT    = graphemu.IdentityEndpoint(root) // root + "/msi/token"
//	// IDENTITY_HEADER      = graphemu.DefaultIdentityHeader
//
// or mount the Server (an http.Handler) in an httptest.Server.
package graphemu

// Package awsapitest runs the DynamoDB-compatible server the stores' tests
// use: dynalite (ENROLLHOOK_DYNALITE, its cli.js; `make test` installs it)
// on a loopback port, started once per test binary on first use and
// stopped by Stop, which the package's TestMain calls after m.Run. Without
// ENROLLHOOK_DYNALITE the DynamoDB runs are skipped, unless
// ENROLLHOOK_REQUIRE_DYNALITE is set, as in CI. The stores' tests share
// Main (their TestMain), Table (a fresh table, or skip), ChangeTable
// (template.yaml's ChangeTable) and Faulty (lost or failed PutItem
// answers). It is a test helper: no function links it.
package awsapitest

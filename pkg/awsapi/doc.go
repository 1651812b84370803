// Package awsapi makes the few AWS calls the functions need (DynamoDB's
// item calls, SQS's SendMessage, STS's GetWebIdentityToken): one
// SigV4-signed POST each, in the service's JSON 1.0 or query protocol, over
// net/http, with a short retry of throttling and server errors. The SDK's
// generated service clients would do the same through serializers, schemas
// and endpoint rules for every operation of the service: over a megabyte of
// each bootstrap and about three milliseconds of package initialisation at
// every cold start, for five kinds of request.
//
// It takes an aws.Config (region, credentials, base endpoint and the
// per-service endpoint overrides among its ConfigSources) and signs with
// the SDK's own SigV4 signer. Its errors satisfy smithy.APIError, so that
// callers read a service's error code as they would from the SDK. The
// DynamoDB wire pieces the stores share (Attr, Item, ItemRequest, GetItem,
// ConditionFailed) are here too. It imports no package of this module.
package awsapi

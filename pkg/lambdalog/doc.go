// Package lambdalog is the functions' logger on AWS Lambda: aws-lambda-go's
// lambdacontext handler (JSON lines with the invocation's requestId, at
// AWS_LAMBDA_LOG_LEVEL) with the invocation's X-Ray trace id added to every
// line as traceId, so that a line found in the logs leads to its trace and
// back. Lines written outside an invocation (the cold start) have neither.
//
// It wraps lambdacontext and log/slog only, and imports no package of this
// module.
package lambdalog

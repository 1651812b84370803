// Package apigw adapts an http.Handler to API Gateway HTTP API (payload 2.0)
// and Lambda Function URL events, buffered. aws-lambda-go's lambdaurl is
// streaming-only and its output cannot be parsed by an HTTP API integration
// (reference/runtime.md §1.2), hence this small adapter. It imports no
// enrollhook package.
package apigw

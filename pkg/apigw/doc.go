// Package apigw adapts an http.Handler to API Gateway HTTP API (payload 2.0)
// and Lambda Function URL events, buffered. aws-lambda-go's lambdaurl is
// streaming-only: under a buffered invoke it answers the streaming wire
// format (a JSON prelude, eight NUL bytes, the raw body), which an HTTP API
// integration cannot parse; hence this small adapter. It imports no
// enrollhook package.
package apigw

// Command libsfloor is testdata/floor with the libraries enrollhook is
// required to build on besides aws-lambda-go (azidentity, validator) linked
// in, so that their package initialisation runs as in enrollhook:
// BenchmarkColdStart's second reference, the cold start of a function that
// does nothing but carry them.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	_ "github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	_ "github.com/go-playground/validator/v10"
)

func main() {
	lambda.Start(func(_ context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "application/json"},
			Body: `{"requestId":"` + ev.RequestContext.RequestID + `"}`}, nil
	})
}

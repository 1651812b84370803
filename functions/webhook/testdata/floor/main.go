// Command floor is the smallest aws-lambda-go function that answers an
// API Gateway HTTP API event: BenchmarkColdStart's floor, the cold start
// that no function written with aws-lambda-go can beat on this machine.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(_ context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "application/json"},
			Body: `{"requestId":"` + ev.RequestContext.RequestID + `"}`}, nil
	})
}

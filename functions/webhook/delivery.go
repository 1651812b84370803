package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/enrollhook/enrollhook/pkg/config"
	"github.com/enrollhook/enrollhook/pkg/idempotency"
	"github.com/enrollhook/enrollhook/pkg/limiter"
	"github.com/enrollhook/enrollhook/pkg/webhook"
)

// deliveryOptions builds the de-duplication store and the write limiter
// once, at cold start: DynamoDB when a table is configured (the AWS SDK's
// default credential chain: the execution role on Lambda; the endpoint can
// be pointed elsewhere with AWS_ENDPOINT_URL_DYNAMODB), else the embedded
// store, which de-duplicates within one process only.
func deliveryOptions(ctx context.Context, cfg config.Config, log *slog.Logger) (webhook.Store, webhook.Limiter, error) {
	lim := limiter.New(cfg.Delivery.WriteLimit, cfg.Delivery.WriteWindow, nil)
	if cfg.Delivery.Table == "" {
		log.Info("de-duplication: embedded store (one process); set " + config.EnvIdempotency + " to share it across instances")
		return idempotency.NewMemory(nil, 0), lim, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: AWS configuration: %w", config.EnvIdempotency, err)
	}
	log.Info("de-duplication: DynamoDB", slog.String("table", cfg.Delivery.Table))
	return idempotency.NewDynamoDB(dynamodb.NewFromConfig(awsCfg), cfg.Delivery.Table, nil), lim, nil
}

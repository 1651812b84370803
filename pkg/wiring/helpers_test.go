package wiring

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/config"
)

// build is Webhook with the defaults: as on Lambda, or as the local server
// (onLambda false).
func build(getenv func(string) string, log *slog.Logger, onLambda bool) (http.Handler, config.Config, error) {
	return Webhook(context.Background(), getenv, log, &Options{Local: !onLambda})
}

// sample reads an events/ file: the body (decoded) and the route.
func sample(t testing.TB, raw []byte) (body []byte, route string) {
	t.Helper()
	var ev struct {
		RawPath         string `json:"rawPath"`
		Body            string `json:"body"`
		IsBase64Encoded bool   `json:"isBase64Encoded"`
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	body = []byte(ev.Body)
	if ev.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
			t.Fatal(err)
		}
	}
	return body, ev.RawPath
}

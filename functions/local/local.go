package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/enrollhook/enrollhook/pkg/chat"
	"github.com/enrollhook/enrollhook/pkg/config"
	"github.com/enrollhook/enrollhook/pkg/graphemu"
	"github.com/enrollhook/enrollhook/pkg/signature"
	"github.com/enrollhook/enrollhook/pkg/source/generic"
	"github.com/enrollhook/enrollhook/pkg/source/jira"
	"github.com/enrollhook/enrollhook/pkg/source/teams"
	"github.com/enrollhook/enrollhook/pkg/webhook"
	"github.com/enrollhook/enrollhook/pkg/wiring"
)

// withEmulator starts the embedded Graph emulator on a free loopback port
// and returns getenv with the Graph client and the managed-identity
// credential pointed at it, and the development secrets of the senders
// that have none; shutdown stops the emulator.
func withEmulator(getenv func(string) string, log *slog.Logger) (env func(string) string, shutdown func(), err error) {
	emu := graphemu.New(&graphemu.Options{TokenRoles: true})
	base, stop, err := emu.Start("127.0.0.1:0")
	if err != nil {
		return nil, nil, fmt.Errorf("start the Graph emulator: %w", err)
	}
	version := getenv(config.EnvGraphVersion)
	if version == "" {
		version = "beta"
	}
	overrides := map[string]string{
		config.EnvGraphURL:  base + "/" + version,
		"IDENTITY_ENDPOINT": base + graphemu.TokenPath,
		"IDENTITY_HEADER":   graphemu.DefaultIdentityHeader,
	}
	if getenv(config.SecretKey(generic.Name)) == "" {
		overrides[config.SecretKey(generic.Name)] = generic.DevelopmentSecret
	}
	itsmDevOverrides(getenv, overrides) // itsm.go
	chatDevOverrides(getenv, overrides) // chatlocal.go
	// azidentity reads the managed-identity endpoint from the process
	// environment when the credential is built.
	for _, k := range []string{"IDENTITY_ENDPOINT", "IDENTITY_HEADER"} {
		if err := os.Setenv(k, overrides[k]); err != nil {
			_ = stop(context.Background())
			return nil, nil, err
		}
	}
	log.Info("Graph emulator started", slog.String("url", base))
	return func(k string) string {
		if v, ok := overrides[k]; ok {
			return v
		}
		return getenv(k)
	}, func() { _ = stop(context.Background()) }, nil
}

// serve runs the handler as a local HTTP server. With -emulator it first
// starts the embedded Graph emulator on a free loopback port and points the
// Graph client and the managed-identity credential at it.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, o *wiring.Options) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	emulate := fs.Bool("emulator", false, "start the embedded Graph emulator and use it (no cloud account needed)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	slog.SetDefault(log)
	env := getenv
	if *emulate {
		var shutdown func()
		var err error
		if env, shutdown, err = withEmulator(getenv, log); err != nil {
			return err
		}
		defer shutdown()
	}
	h, cfg, err := wiring.Webhook(ctx, env, log, o)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 35 * time.Second}
	url := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "enrollhook listening on %s (POST /hooks/{source}, GET /healthz)\n", url)
	if *emulate {
		if env(config.SecretKey(generic.Name)) == generic.DevelopmentSecret {
			fmt.Fprintf(stdout, "development secret (%s): %s\n", config.SecretKey(generic.Name), generic.DevelopmentSecret)
		}
		fmt.Fprintf(stdout, "try: go run ./functions/local send -url %s events/generic-approved.json\n", url)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := srv.Shutdown(sctx)
		if w, ok := h.(interface{ Wait(context.Context) error }); ok {
			_ = w.Wait(sctx) // chat commands still finishing after their answer
		}
		return err
	}
}

// send signs a sample with the current time and posts it. FILE is an API
// Gateway v2 event from events/ (its body and route are used) or a bare
// envelope. A sample marked as forged (forgedSample) is never signed: it
// goes with its own headers and signature, only its timestamps set to now.
// The answer's body goes to stdout; the status to stderr. The error is
// non-nil for any refusal: a 4xx or 5xx, or a chat reply (always 200) whose
// webhook.HeaderOutcome is a refusal.
func send(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := fs.String("url", "http://127.0.0.1:8080", "where the function listens")
	source := fs.String("source", "", "sender route (default: the event's route, else generic)")
	secret := fs.String("secret", "", "signing secret (default: the route's $ENROLLHOOK_SECRET_<SOURCE>, else its development secret; servicenow also takes basic:<user>:<password>)")
	id := fs.String("id", "", "delivery id (default: the event's webhook-id, else a new one)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: send [-url URL] [-source NAME] [-secret S] [-id ID] FILE")
	}
	if secretGivenEmpty(fs, *secret) {
		return errEmptySecret
	}
	raw, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	body, route, eventID, query, err := sample(raw)
	if err != nil {
		return fmt.Errorf("%s %w", fs.Arg(0), err)
	}
	if *source != "" {
		route = "/hooks/" + *source
	}
	if *id == "" {
		*id = eventID
	}
	if *id == "" {
		*id = "msg_" + strings.ReplaceAll(uuid.NewString(), "-", "")
	}
	var h http.Header
	handled := false
	if fh, forged := forgedSample(raw); forged {
		fmt.Fprintln(stderr, "this sample's signature is forged on purpose: sent as it is (timestamps set to now), never signed")
		h, body = restampForged(route, fh, body, time.Now())
		handled = true
	}
	if !handled {
		h, body, handled, err = signChat(route, *secret, body, time.Now(), getenv) // chatlocal.go
	}
	if !handled {
		h, body, handled, err = signITSM(route, *secret, *id, body, time.Now(), getenv, func(secret, id string, body []byte) (http.Header, error) {
			return generic.Sign(secret, id, time.Now(), body) // Standard Webhooks, as ServiceNow signs
		}) // itsm.go
	}
	if !handled {
		if *secret == "" {
			*secret = getenv(config.SecretKey(generic.Name))
		}
		if *secret == "" {
			*secret = generic.DevelopmentSecret
		}
		h, err = generic.Sign(*secret, *id, time.Now(), body)
	}
	if err != nil {
		return fmt.Errorf("the secret must be whsec_ followed by base64: %w", err)
	}
	// The stack's WebhookBaseUrl output ends in /hooks/: taken as given
	// (without the slash, /hooks may be a custom domain's base path).
	target := strings.TrimRight(*base, "/") + route
	if strings.HasSuffix(*base, "/hooks/") {
		target = strings.TrimSuffix(*base, "hooks/") + strings.TrimPrefix(route, "/")
	}
	if query != "" {
		target += "?" + query
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header = h
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	outcome := resp.Header.Get(webhook.HeaderOutcome)
	line := fmt.Sprintf("HTTP %d  %s: %s  %s: %s", resp.StatusCode,
		webhook.HeaderRequestID, resp.Header.Get(webhook.HeaderRequestID), webhook.HeaderGraphRequestID, resp.Header.Get(webhook.HeaderGraphRequestID))
	if outcome != "" {
		line += "  " + webhook.HeaderOutcome + ": " + outcome
	}
	if resp.Header.Get(webhook.HeaderReplay) != "" {
		line += "  " + webhook.HeaderReplay + ": " + resp.Header.Get(webhook.HeaderReplay)
	}
	fmt.Fprintln(stderr, line)
	var pretty bytes.Buffer
	if json.Indent(&pretty, out, "", "  ") == nil {
		out = pretty.Bytes()
	}
	fmt.Fprintf(stdout, "%s\n", out)
	if resp.StatusCode >= 400 {
		return fmt.Errorf("the function answered %d", resp.StatusCode)
	}
	if chatRefusal[chat.Status(outcome)] {
		return fmt.Errorf("the function answered %d with a chat reply that refuses the command (%s: %s)", resp.StatusCode, webhook.HeaderOutcome, outcome)
	}
	return nil
}

// chatRefusal lists the chat outcomes (webhook.HeaderOutcome) that send
// reports as a refusal, as it does a 4xx: nothing was run or changed. The
// others (applied, shown, help, planned, queued, pending) are not.
var chatRefusal = map[chat.Status]bool{
	chat.StatusRefused: true, // the user may not run the command
	chat.StatusInvalid: true, // invalid values
	chat.StatusUsage:   true, // not a command
	chat.StatusFailed:  true, // Graph or the de-duplication store refused or failed
}

// sampleMarker is the top-level field of an events/ sample that says what
// the sample is for. The value forgedSignature marks the samples whose
// signature is wrong on purpose (events/*-bad-signature.json): send and
// sign never sign them, so they show what the function answers to a
// forged delivery. API Gateway's event has no such field; the function
// ignores it.
const (
	sampleMarker    = "enrollhookSample"
	forgedSignature = "bad-signature"
)

// forgedSample reports whether raw is an API Gateway event marked as
// forged, with its headers.
func forgedSample(raw []byte) (http.Header, bool) {
	var ev struct {
		Headers map[string]string `json:"headers"`
	}
	var mark map[string]json.RawMessage
	if json.Unmarshal(raw, &mark) != nil || json.Unmarshal(raw, &ev) != nil {
		return nil, false
	}
	var purpose string
	if json.Unmarshal(mark[sampleMarker], &purpose) != nil || purpose != forgedSignature {
		return nil, false
	}
	h := http.Header{}
	for k, v := range ev.Headers {
		switch strings.ToLower(k) {
		case "host", "content-length":
		default:
			h.Set(k, v)
		}
	}
	return h, true
}

// restampForged sets a forged sample's timestamps to now, so that its
// answer is about the signature rather than its age: the signed-timestamp
// headers (Standard Webhooks, Slack) and, on the jira and teams routes, the
// timestamp inside the body. The signature header stays as it is; it never
// matched.
func restampForged(route string, h http.Header, body []byte, now time.Time) (http.Header, []byte) {
	stamp := strconv.FormatInt(now.Unix(), 10)
	for _, k := range []string{signature.HeaderWebhookTimestamp, signature.HeaderSlackTimestamp} {
		if h.Get(k) != "" {
			h.Set(k, stamp)
		}
	}
	switch strings.TrimPrefix(route, "/hooks/") {
	case jira.Name:
		body = jira.Restamp(body, now)
	case teams.Name:
		body = teams.Restamp(body, now)
	}
	return h, body
}

// errEventBridgeSample refuses an EventBridge event given to send or sign:
// it is no HTTP request, and posted as a generic envelope it would only
// be refused for its fields.
var errEventBridgeSample = errors.New("is an EventBridge event: the events function takes it, not an HTTP route " +
	"(docs/senders/eventbridge.md: aws events put-events, or sam local invoke EventsFunction)")

// sample reads an events/ file or a bare envelope.
func sample(raw []byte) (body []byte, route, id, query string, err error) {
	var ev struct {
		RawPath         string            `json:"rawPath"`
		RawQueryString  string            `json:"rawQueryString"`
		Headers         map[string]string `json:"headers"`
		Body            *string           `json:"body"`
		IsBase64Encoded bool              `json:"isBase64Encoded"`
		RequestContext  json.RawMessage   `json:"requestContext"`
		DetailType      *string           `json:"detail-type"`
		Detail          json.RawMessage   `json:"detail"`
	}
	parsed := json.Unmarshal(raw, &ev) == nil
	if parsed && ev.DetailType != nil && ev.Detail != nil && ev.RequestContext == nil {
		return nil, "", "", "", errEventBridgeSample
	}
	if !parsed || ev.RequestContext == nil || ev.Body == nil {
		return raw, "/hooks/" + generic.Name, "", "", nil
	}
	body = []byte(*ev.Body)
	if ev.IsBase64Encoded {
		if body, err = base64.StdEncoding.DecodeString(*ev.Body); err != nil {
			return nil, "", "", "", errors.New("has a body that is not valid base64")
		}
	}
	route = ev.RawPath
	if route == "" {
		route = "/hooks/" + generic.Name
	}
	return body, route, ev.Headers["webhook-id"], ev.RawQueryString, nil
}

// errEmptySecret refuses -secret given empty (an unset shell variable, say)
// rather than signing with a default the deployed function refuses.
var errEmptySecret = errors.New("-secret is empty (an unset variable?); leave it out to sign with $ENROLLHOOK_SECRET_<SOURCE> or the development secret")

// secretGivenEmpty reports whether -secret was on the command line with an
// empty value.
func secretGivenEmpty(fs *flag.FlagSet, secret string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "secret" })
	return given && strings.TrimSpace(secret) == ""
}

// sign prints an events/ sample re-signed with the current time, for
// `sam local invoke -e` (Standard Webhooks timestamps expire after minutes).
func sign(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sign", flag.ContinueOnError)
	fs.SetOutput(stderr)
	secret := fs.String("secret", "", "signing secret (default: the route's $ENROLLHOOK_SECRET_<SOURCE>, else its development secret; servicenow also takes basic:<user>:<password>)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: sign [-secret S] EVENT_FILE")
	}
	if secretGivenEmpty(fs, *secret) {
		return errEmptySecret
	}
	raw, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		return fmt.Errorf("%s is not an API Gateway event", fs.Arg(0))
	}
	body, route, id, _, err := sample(raw)
	if err != nil {
		return fmt.Errorf("%s %w", fs.Arg(0), err)
	}
	if fh, forged := forgedSample(raw); forged {
		// Printed with its own signature and fresh timestamps, as send
		// sends it (the body re-encoded as the event says).
		fh, fbody := restampForged(route, fh, body, time.Now())
		return printChatEvent(stdout, ev, fh, fbody) // chatlocal.go
	}
	if ch, cbody, handled, err := signChat(route, *secret, body, time.Now(), getenv); handled { // chatlocal.go
		if err != nil {
			return err
		}
		return printChatEvent(stdout, ev, ch, cbody)
	}
	headers, ok := ev["headers"].(map[string]any)
	if ok && route == "/hooks/"+jira.Name {
		id, _ = headers[strings.ToLower(jira.HeaderIdentifier)].(string)
	}
	if !ok || id == "" {
		return fmt.Errorf("%s has no delivery id header (webhook-id, X-Atlassian-Webhook-Identifier) to sign", fs.Arg(0))
	}
	h, ibody, handled, err := signITSM(route, *secret, id, body, time.Now(), getenv, func(secret, id string, body []byte) (http.Header, error) {
		return generic.Sign(secret, id, time.Now(), body)
	}) // itsm.go
	if !bytes.Equal(ibody, body) {
		// A Jira body carries its own timestamp, set to now.
		if b64, _ := ev["isBase64Encoded"].(bool); b64 {
			ev["body"] = base64.StdEncoding.EncodeToString(ibody)
		} else {
			ev["body"] = string(ibody)
		}
	}
	if !handled {
		if *secret == "" {
			*secret = getenv(config.SecretKey(generic.Name))
		}
		if *secret == "" {
			*secret = generic.DevelopmentSecret
		}
		h, err = generic.Sign(*secret, id, time.Now(), body)
	}
	if err != nil {
		return fmt.Errorf("the secret must be whsec_ followed by base64: %w", err)
	}
	for k := range h {
		headers[strings.ToLower(k)] = h.Get(k)
	}
	out, err := json.MarshalIndent(ev, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s\n", out)
	return err
}

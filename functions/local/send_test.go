package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/config"
	"github.com/enrollhook/enrollhook/pkg/graphemu"
	"github.com/enrollhook/enrollhook/pkg/source/generic"
	"github.com/enrollhook/enrollhook/pkg/webhook"
	"github.com/enrollhook/enrollhook/pkg/wiring"
	"github.com/google/uuid"
)

// sendRig is the function as `serve -emulator` configures it (the
// development secrets, the Jira mapping and the chat users of the samples)
// on an in-process server, against the Graph emulator.
type sendRig struct {
	url string
	emu *graphemu.Server
	env map[string]string
}

func newSendRig(t *testing.T) *sendRig {
	t.Helper()
	emu := newEmulator(nil)
	gsrv := httptest.NewServer(emu)
	t.Cleanup(gsrv.Close)
	noEnv := func(string) string { return "" }
	env := map[string]string{
		config.EnvGraphURL:             gsrv.URL + "/beta",
		config.SecretKey(generic.Name): generic.DevelopmentSecret,
		// MSAL's managed-identity cache is process-wide: one identity per
		// rig.
		config.EnvClientID: uuid.NewString(),
	}
	t.Setenv("IDENTITY_ENDPOINT", gsrv.URL+graphemu.TokenPath)
	t.Setenv("IDENTITY_HEADER", graphemu.DefaultIdentityHeader)
	itsmDevOverrides(noEnv, env) // itsm.go
	chatDevOverrides(noEnv, env) // chatlocal.go
	var logs bytes.Buffer
	h, _, err := wiring.Webhook(context.Background(), func(k string) string { return env[k] }, testLogger(&logs), &wiring.Options{Local: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &sendRig{url: srv.URL, emu: emu, env: env}
}

// send runs the send command on file and returns its stdout, stderr and
// error.
func (r *sendRig) send(file string) (stdout, stderr string, err error) {
	var out, errOut bytes.Buffer
	err = run(context.Background(), []string{"send", "-url", r.url, file}, func(k string) string { return r.env[k] }, &out, &errOut, nil)
	return out.String(), errOut.String(), err
}

// TestSendKeepsForgedSamplesForged: every events/*-bad-signature.json is
// sent with its own (wrong) signature, answered 401 signature-mismatch,
// applies nothing, and send fails. Re-signed, as send did before, each was
// accepted and the generic and Jira ones applied their change.
func TestSendKeepsForgedSamplesForged(t *testing.T) {
	r := newSendRig(t)
	files, _ := filepath.Glob("../../events/*-bad-signature.json")
	if len(files) < 5 {
		t.Fatalf("bad-signature samples = %d, want one per sender", len(files))
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			out, errOut, err := r.send(file)
			if err == nil || !strings.Contains(errOut, "HTTP 401") || !strings.Contains(out, "signature-mismatch") {
				t.Errorf("send = %v\nstderr: %s\nstdout: %s\nwant a failure with 401 signature-mismatch", err, errOut, out)
			}
		})
	}
	if n := r.emu.Writes(); n != 0 {
		t.Errorf("Graph writes = %d after the forged samples, want 0", n)
	}
	// The rig applies what is signed: the same change, signed, is written.
	if _, errOut, err := r.send("../../events/generic-approved.json"); err != nil || r.emu.Writes() != 1 {
		t.Errorf("send(generic-approved) = %v (%s), writes = %d; want success and 1 write", err, errOut, r.emu.Writes())
	}
}

// TestSendFailsOnChatRefusals: a chat reply is a 200 whatever happened;
// send fails when its X-Enrollhook-Outcome is a refusal, and succeeds
// otherwise.
func TestSendFailsOnChatRefusals(t *testing.T) {
	r := newSendRig(t)
	tests := []struct {
		file, outcome string
		fails         bool
	}{
		{"slack-not-allowed.json", "refused", true},
		{"teams-not-allowed.json", "refused", true},
		{"slack-malformed-command.json", "usage", true},
		{"slack-assign.json", "applied", false},
		{"slack-show.json", "shown", false},
		{"teams-help.json", "help", false},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			out, errOut, err := r.send("../../events/" + tt.file)
			if (err != nil) != tt.fails || !strings.Contains(errOut, "HTTP 200") || !strings.Contains(errOut, webhook.HeaderOutcome+": "+tt.outcome) {
				t.Errorf("send = %v\nstderr: %s\nstdout: %s\nwant 200, outcome %s, failure %v", err, errOut, out, tt.outcome, tt.fails)
			}
		})
	}
}

// TestForgedSamplesAreMarked: the samples named bad-signature, and only
// they, carry the marker send and sign read, and the runtime-emulator test
// keeps their signature too.
func TestForgedSamplesAreMarked(t *testing.T) {
	files, _ := filepath.Glob("../../events/*.json")
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(file)
		_, forged := forgedSample(raw)
		if want := strings.HasSuffix(name, "-bad-signature.json"); forged != want {
			t.Errorf("%s: forgedSample = %v, want %v", name, forged, want)
		}
	}
}

// TestSignKeepsForgedSamplesForged: sign prints a forged sample with fresh
// timestamps and its own signature.
func TestSignKeepsForgedSamplesForged(t *testing.T) {
	for _, name := range []string{"generic-bad-signature.json", "slack-bad-signature.json", "teams-bad-signature.json", "jira-bad-signature.json"} {
		file := "../../events/" + name
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var out, errOut bytes.Buffer
		if err := run(context.Background(), []string{"sign", file}, func(string) string { return "" }, &out, &errOut, nil); err != nil {
			t.Fatalf("sign %s: %v %s", name, err, errOut.String())
		}
		before, _ := forgedSample(raw)
		after, forged := forgedSample(out.Bytes())
		if !forged {
			t.Fatalf("sign %s: the printed event lost its marker", name)
		}
		for _, k := range []string{"Webhook-Signature", "X-Slack-Signature", "Authorization", "X-Hub-Signature"} {
			if before.Get(k) != after.Get(k) {
				t.Errorf("sign %s: %s changed from %q to %q", name, k, before.Get(k), after.Get(k))
			}
		}
		for _, k := range []string{"Webhook-Timestamp", "X-Slack-Request-Timestamp"} {
			if before.Get(k) != "" && after.Get(k) == before.Get(k) {
				t.Errorf("sign %s: %s not set to now", name, k)
			}
		}
		body, _, _, _, _ := sample(out.Bytes())
		if strings.Contains(name, "teams") || strings.Contains(name, "jira") {
			if orig, _, _, _, _ := sample(raw); bytes.Equal(orig, body) {
				t.Errorf("sign %s: the body's timestamp was not set to now", name)
			}
		}
	}
}

// TestSendTakesTheStackOutput: `send -url` given the stack's WebhookBaseUrl
// output as it is (ending in /hooks/) posts to the sample's route, not to
// /hooks/hooks/.
func TestSendTakesTheStackOutput(t *testing.T) {
	r := newSendRig(t)
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"send", "-url", r.url + "/hooks/", "../../events/generic-approved.json"},
		func(k string) string { return r.env[k] }, &out, &errOut, nil)
	if err != nil || r.emu.Writes() != 1 {
		t.Fatalf("send -url .../hooks/: %v (writes %d)\n%s%s", err, r.emu.Writes(), errOut.String(), out.String())
	}
}

// TestAnEmptySecretIsRefused: -secret given empty (an unset variable) is
// refused by send and sign, not replaced by the development secret, which
// a deployed function refuses.
func TestAnEmptySecretIsRefused(t *testing.T) {
	for _, args := range [][]string{
		{"send", "-url", "http://127.0.0.1:1", "-secret", "", "../../events/generic-approved.json"},
		{"sign", "-secret", " ", "../../events/generic-approved.json"},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, func(string) string { return "" }, &out, &errOut, nil)
		if err == nil || !strings.Contains(err.Error(), "-secret is empty") || out.Len() != 0 {
			t.Errorf("%s with an empty -secret: %v, printed %q", args[0], err, out.String())
		}
	}
}

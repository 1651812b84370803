package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/config"
	"github.com/enrollhook/enrollhook/pkg/graphemu"
	"github.com/enrollhook/enrollhook/pkg/identity"
	"github.com/enrollhook/enrollhook/pkg/preflight"
	"github.com/enrollhook/enrollhook/pkg/wiring"
)

// check runs the preflight (package preflight) with this environment: one
// verdict per step on stdout. It changes nothing in Intune.
func check(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, o *wiring.Options) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgID := fs.String("configuration", "", "id of an enrollment configuration whose assignments are read (required)")
	timeout := fs.Duration("timeout", 30*time.Second, "time allowed for the whole preflight")
	verbose := fs.Bool("v", false, "also write the function's JSON log lines to stderr")
	emulate := fs.Bool("emulator", false, "run the preflight against the embedded Graph emulator, as make run does (default configuration: the emulator's Enrollment Status Page)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *emulate && *cfgID == "" {
		*cfgID = graphemu.ConfigESP
	}
	if *cfgID == "" || fs.NArg() != 0 {
		return errors.New("usage: check -configuration ID [-timeout 30s] [-v], or check -emulator to try it against the embedded Graph emulator")
	}
	if !change.ValidKey(*cfgID) {
		return errors.New("check: -configuration must be an enrollment configuration id: 1 to 256 letters, digits, '-' or '_'")
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	if *verbose {
		log = slog.New(slog.NewJSONHandler(stderr, nil))
	}
	if *emulate {
		env, shutdown, err := withEmulator(getenv, log) // local.go
		if err != nil {
			return err
		}
		defer shutdown()
		getenv = env
	}
	return preflight.Run(ctx, getenv, *cfgID, stdout, log, func(cfg config.Config, log *slog.Logger) (*identity.Credential, error) {
		return wiring.Credential(ctx, cfg, getenv, log, o)
	})
}

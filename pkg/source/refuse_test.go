package source_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/signature"
	"github.com/enrollhook/enrollhook/pkg/source"
)

func TestRefuse(t *testing.T) {
	w := source.Standard(5*time.Minute, "check the clock")
	tests := []struct {
		err  error
		kind change.Kind
		msg  string
	}{
		{signature.ErrMissing, change.KindSignatureMissing, w.Missing},
		{fmt.Errorf("webhook-id: %w", signature.ErrMalformed), change.KindSignatureMalformed, w.Malformed},
		{signature.ErrTimestamp, change.KindTimestampOutside, w.Timestamp},
		{signature.ErrReencoded, change.KindBodyReencoded, w.Reencoded},
		{signature.ErrMismatch, change.KindSignatureMismatch, w.Mismatch},
		{errors.New("anything else"), change.KindSignatureMismatch, w.Mismatch},
	}
	for _, tt := range tests {
		err := w.Refuse(tt.err)
		var ce *change.Error
		if !errors.As(err, &ce) || ce.Code != change.CodeUnauthenticated || ce.Kind != tt.kind || ce.Message != tt.msg || !errors.Is(err, tt.err) {
			t.Errorf("Refuse(%v) = %#v, want %s %q wrapping the cause", tt.err, err, tt.kind, tt.msg)
		}
	}
	if err := w.Refuse(nil); err != nil {
		t.Errorf("Refuse(nil) = %v, want nil", err)
	}
	if !strings.Contains(w.Timestamp, "5m0s; check the clock") {
		t.Errorf("Standard's Timestamp = %q, want the window and the advice", w.Timestamp)
	}
}

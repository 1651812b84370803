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

// TestRepeated: a body that sends fields twice is refused 422, the fields
// sorted; the message names the first when it is a plain name, counts the
// others and quotes nothing else of the body.
func TestRepeated(t *testing.T) {
	reason := "appears more than once; send each property once"
	tests := []struct {
		fields []change.FieldError
		msg    string
	}{
		{[]change.FieldError{{Field: "/from", Reason: reason}},
			"the activity sends /from more than once; send each once, since only one of the values would be read"},
		{[]change.FieldError{{Field: "/text", Reason: reason}, {Field: "/from/aadObjectId", Reason: reason}},
			"the activity sends /from/aadObjectId more than once (and 1 other field: see errors); send each once, since only one of the values would be read"},
		{[]change.FieldError{{Field: "/U0999MALLORY1", Reason: reason}, {Field: "/x", Reason: reason}, {Field: "/y", Reason: reason}},
			"the activity sends a field more than once (and 2 other fields: see errors); send each once, since only one of the values would be read"},
	}
	for _, tt := range tests {
		ce, ok := errors.AsType[*change.Error](source.Repeated("the activity", tt.fields))
		if !ok || ce.Code != change.CodeInvalid || ce.Kind != "" || ce.Message != tt.msg || len(ce.Fields) != len(tt.fields) {
			t.Errorf("Repeated(%v) = %+v, want %q", tt.fields, ce, tt.msg)
		}
	}
	if err := source.Repeated("the form", nil); err != nil {
		t.Errorf("Repeated(none) = %v, want nil", err)
	}
}

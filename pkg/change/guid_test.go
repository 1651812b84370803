package change

import (
	"errors"
	"testing"

	"github.com/go-playground/validator/v10"
)

// bakedIn is the validator's own uuid rule, which ValidGUID stands in for.
var bakedIn = validator.New()

var guidSeeds = []string{
	guid, fguid, "5E6F0000-0000-0000-0000-00000000000A", "5e6f0000-0000-0000-0000-00000000000", "5e6f0000-0000-0000-0000-0000000000011",
	"5e6f0000000000000000000000000000001", "5e6f0000-0000-0000-0000_000000000001", "{5e6f0000-0000-0000-0000-000000000001}",
	"5e6f000g-0000-0000-0000-000000000001", "", "-", "5e6f0000-0000-0000-0000-00000000000\u00e9", "5e6f0000-0000-0000-0000-00000000000\n",
}

func guidAgrees(t *testing.T, s string) {
	t.Helper()
	want := bakedIn.Var(s, "uuid") == nil
	if got := ValidGUID(s); got != want {
		t.Fatalf("ValidGUID(%q) = %v, the validator's uuid rule says %v", s, got, want)
	}
}

func TestValidGUIDIsTheValidatorsUUIDRule(t *testing.T) {
	for _, s := range guidSeeds {
		guidAgrees(t, s)
	}
	// And the envelope refuses a malformed GUID with the same reason as
	// before the rule was replaced.
	_, err := Decode([]byte(envelope(target(`{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"5e6f0000-0000-0000-0000-00000000000g"}`))), nil)
	var e *Error
	if !errors.As(err, &e) || len(e.Fields) != 1 || e.Fields[0] != (FieldError{Field: "/assignment/target/groupId", Reason: "must be a GUID"}) {
		t.Fatalf("Decode = %v, want one field /assignment/target/groupId: must be a GUID", err)
	}
}

func FuzzValidGUID(f *testing.F) {
	for _, s := range guidSeeds {
		f.Add(s)
	}
	f.Fuzz(guidAgrees)
}

// The approver rule, checked beside the validator's rules, names its field
// and says why, in any letter case of the state, for an applied change and
// a revert alike.
func TestApprovedNeedsAnApproverWithItsReason(t *testing.T) {
	want := FieldError{Field: "/ticket/approvedBy", Reason: "is required when the ticket state is approved"}
	for _, body := range []string{
		`{"ticket":{"id":"CHG1","state":"aPPROVED"},"configurationId":"` + cfgID + `","assignmentId":"` + asgID + `","assignment":` + target(`{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}`) + `}`,
		`{"ticket":{"id":"CHG1","state":"approved"},"action":"revert"}`,
	} {
		_, err := Decode([]byte(body), nil)
		var e *Error
		if !errors.As(err, &e) || len(e.Fields) != 1 || e.Fields[0] != want {
			t.Errorf("Decode(%s) = %v, want only %v", body, err, want)
		}
	}
	if _, err := Decode([]byte(`{"ticket":{"id":"CHG1","state":"new"},"action":"revert"}`), nil); err != nil {
		t.Errorf("a ticket that is not approved needs no approver to be read: %v", err)
	}
}

// TestValidKeyByteByByte: a Graph key is letters, digits, '-' and '_', and
// no other byte, whatever its value.
func TestValidKeyByteByByte(t *testing.T) {
	for c := range 256 {
		want := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
		if got := ValidKey("ab" + string([]byte{byte(c)}) + "cd"); got != want {
			t.Errorf("ValidKey with byte %#x = %v, want %v", c, got, want)
		}
	}
}

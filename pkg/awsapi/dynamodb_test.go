package awsapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
)

// TestItemRequestSendsWhatIsSet: a member left zero is not on the wire, so
// that one request type serves every operation the stores call.
func TestItemRequestSendsWhatIsSet(t *testing.T) {
	got, err := json.Marshal(ItemRequest{TableName: "t", Key: Item{"pk": S("a"), "n": N(42)}, ConsistentRead: true})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"TableName":"t","Key":{"n":{"N":"42"},"pk":{"S":"a"}},"ConsistentRead":true}`
	if string(got) != want {
		t.Errorf("GetItem request = %s, want %s", got, want)
	}
	if Str(S("x")) != "x" || Str(N(1)) != "" || Num(N(-7)) != -7 || Num(S("7")) != 0 {
		t.Error("Str or Num read the wrong member")
	}
}

func TestConditionFailed(t *testing.T) {
	refused := &Error{StatusCode: 400, Code: "ConditionalCheckFailedException"}
	if !ConditionFailed(fmt.Errorf("put: %w", refused)) {
		t.Error("a wrapped ConditionalCheckFailedException is not a failed condition")
	}
	for _, err := range []error{nil, errors.New("reset"), &Error{StatusCode: 400, Code: "ResourceNotFoundException"}} {
		if ConditionFailed(err) {
			t.Errorf("ConditionFailed(%v) = true", err)
		}
	}
}

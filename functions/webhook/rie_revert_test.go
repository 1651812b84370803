package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/enrollhook/enrollhook/pkg/graphemu"
)

// TestChangeRecordUnderRuntimeEmulator drives issue 12 through the real
// bootstrap against the Graph emulator, in one warm function (so its
// embedded change record holds across the invokes): a change window before,
// inside and after; an apply and its revert; a revert refused because
// another ticket changed the assignment since.
func TestChangeRecordUnderRuntimeEmulator(t *testing.T) {
	emuState := newEmulator(nil)
	emu := httptest.NewServer(emuState)
	defer emu.Close()
	fn := startRIE(t, append(emulatorEnv(emu), "ENROLLHOOK_SECRET_GENERIC="+rieSecret)...)
	sample, err := os.ReadFile("../../events/generic-approved.json")
	if err != nil {
		t.Fatal(err)
	}
	d := &deliverer{fn: fn, sample: sample}

	t.Run("window", func(t *testing.T) {
		emuState.Reset()
		seed := espTarget(t, emuState)
		now := time.Now()
		for _, tt := range []struct {
			name       string
			start, end time.Duration
			status     int
			says       string
		}{
			// Refusals first: the inside case changes the assignment.
			{"before", time.Hour, 2 * time.Hour, http.StatusForbidden, "not opened yet"},
			{"after", -2 * time.Hour, -time.Hour, http.StatusForbidden, "has closed"},
			{"inside", -time.Hour, time.Hour, http.StatusOK, ""},
		} {
			start, end := now.Add(tt.start).UTC().Format(time.RFC3339), now.Add(tt.end).UTC().Format(time.RFC3339)
			writes := emuState.Writes()
			resp := d.send(t, "msg_window_"+tt.name, func(body map[string]any) {
				ticketOf(body)["id"] = "CHG0031001"
				ticketOf(body)["window"] = map[string]any{"start": start, "end": end}
			})
			if resp.StatusCode != tt.status {
				t.Fatalf("%s (window %s to %s): %d %s", tt.name, start, end, resp.StatusCode, resp.Body)
			}
			wrote := emuState.Writes() - writes
			if tt.status == http.StatusOK {
				if got := espTarget(t, emuState); wrote != 1 || got["deviceAndAppManagementAssignmentFilterType"] != "include" {
					t.Errorf("%s: %d writes, Graph holds %v; want the change applied with one write", tt.name, wrote, got)
				}
				continue
			}
			p := problemOf(t, resp)
			if p.Type != "urn:enrollhook:problem:outside-change-window" || !strings.Contains(p.Detail, start) || !strings.Contains(p.Detail, end) ||
				!strings.Contains(p.Detail, tt.says) {
				t.Errorf("%s: answer %+v; want outside-change-window naming %s to %s (%q)", tt.name, p, start, end, tt.says)
			}
			if got := espTarget(t, emuState); wrote != 0 || !reflect.DeepEqual(got, seed) {
				t.Errorf("%s: %d writes, Graph holds %v; want nothing written (%v)", tt.name, wrote, got, seed)
			}
		}
	})

	t.Run("apply then revert", func(t *testing.T) {
		emuState.Reset()
		before := espAssignment(t, emuState)
		revert := func(id string) events.APIGatewayV2HTTPResponse {
			return d.send(t, id, func(body map[string]any) { asRevert(body) })
		}
		if resp := revert("msg_revert_early"); resp.StatusCode != http.StatusNotFound || problemOf(t, resp).Type != "urn:enrollhook:problem:nothing-to-revert" {
			t.Errorf("a revert before anything was applied: %d %s; want 404 nothing-to-revert", resp.StatusCode, resp.Body)
		}
		if resp := d.send(t, "msg_apply", nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("apply: %d %s", resp.StatusCode, resp.Body)
		}
		if applied := espAssignment(t, emuState); reflect.DeepEqual(applied, before) {
			t.Fatalf("the apply left Graph as it was: %v", applied)
		}
		writes := emuState.Writes()
		resp := revert("msg_revert")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("revert: %d %s", resp.StatusCode, resp.Body)
		}
		var out struct {
			Action  string `json:"action"`
			Ticket  string `json:"ticket"`
			Changes []struct {
				Reverts      string `json:"reverts"`
				AssignmentID string `json:"assignmentId"`
			} `json:"changes"`
		}
		if err := json.Unmarshal([]byte(resp.Body), &out); err != nil || out.Action != "revert" || out.Ticket != "CHG0030042" || len(out.Changes) != 1 ||
			out.Changes[0].AssignmentID != graphemu.AssignmentESPGroup || !strings.Contains(out.Changes[0].Reverts, "msg_apply") {
			t.Errorf("revert answer %s (%v); want the apply msg_apply put back", resp.Body, err)
		}
		if n := emuState.Writes() - writes; n != 1 {
			t.Errorf("the revert made %d Graph writes, want 1", n)
		}
		if after := espAssignment(t, emuState); !reflect.DeepEqual(after, before) {
			t.Errorf("after the revert Graph holds %v, want what it held before the apply: %v", after, before)
		}
		// The revert is recorded: the ticket has nothing standing now.
		writes = emuState.Writes()
		if resp := revert("msg_revert_again"); resp.StatusCode != http.StatusNotFound || problemOf(t, resp).Type != "urn:enrollhook:problem:nothing-to-revert" ||
			emuState.Writes() != writes {
			t.Errorf("a second revert: %d %s, %d writes; want 404 nothing-to-revert and no write", resp.StatusCode, resp.Body, emuState.Writes()-writes)
		}
	})

	t.Run("drift", func(t *testing.T) {
		emuState.Reset()
		const ticket = "CHG0032001"
		if resp := d.send(t, "msg_drift_apply", func(body map[string]any) { ticketOf(body)["id"] = ticket }); resp.StatusCode != http.StatusOK {
			t.Fatalf("apply: %d %s", resp.StatusCode, resp.Body)
		}
		// Another ticket changes the same assignment: another group.
		if resp := d.send(t, "msg_drift_other", func(body map[string]any) {
			ticketOf(body)["id"] = "CHG0032099"
			body["assignment"].(map[string]any)["target"].(map[string]any)["groupId"] = graphemu.GroupPlatform
		}); resp.StatusCode != http.StatusOK {
			t.Fatalf("the other ticket: %d %s", resp.StatusCode, resp.Body)
		}
		standing := espAssignment(t, emuState)
		writes := emuState.Writes()
		resp := d.send(t, "msg_drift_revert", func(body map[string]any) {
			ticketOf(body)["id"] = ticket
			asRevert(body)
		})
		if p := problemOf(t, resp); resp.StatusCode != http.StatusConflict || p.Type != "urn:enrollhook:problem:drifted" ||
			!strings.Contains(p.Detail, graphemu.GroupCorporate) || !strings.Contains(p.Detail, graphemu.GroupPlatform) {
			t.Errorf("revert after drift: %d %s; want 409 drifted showing the recorded (%s) and current (%s) groups",
				resp.StatusCode, resp.Body, graphemu.GroupCorporate, graphemu.GroupPlatform)
		}
		if n := emuState.Writes() - writes; n != 0 || !reflect.DeepEqual(espAssignment(t, emuState), standing) {
			t.Errorf("the drifted revert made %d writes; Graph holds %v, want the other ticket's %v", n, espAssignment(t, emuState), standing)
		}
	})
}

// deliverer signs generic-approved.json, changed, as new deliveries.
type deliverer struct {
	fn     *rieFunc
	sample []byte
}

// send invokes the function with the sample whose envelope edit changed
// (nil: as it is), as delivery id, signed with rieSecret at time.Now().
func (d *deliverer) send(t *testing.T, id string, edit func(body map[string]any)) events.APIGatewayV2HTTPResponse {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(d.sample, &ev); err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(ev["body"].(string)), &body); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(body)
	}
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	ev["body"] = string(b)
	header(ev)["webhook-id"] = id
	ev["requestContext"].(map[string]any)["requestId"] = "req-" + id
	raw, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return d.fn.invoke(t, resign(t, raw, rieSecret, false))
}

func ticketOf(body map[string]any) map[string]any { return body["ticket"].(map[string]any) }

// asRevert makes body a revert of its ticket: the contract's revert names
// the ticket only.
func asRevert(body map[string]any) {
	body["action"] = "revert"
	delete(body, "configurationId")
	delete(body, "assignmentId")
	delete(body, "assignment")
}

type rieProblem struct {
	Type   string `json:"type"`
	Detail string `json:"detail"`
}

// problemOf reads an answer as a problem document.
func problemOf(t *testing.T, resp events.APIGatewayV2HTTPResponse) rieProblem {
	t.Helper()
	var p rieProblem
	if resp.Headers["Content-Type"] != "application/problem+json" || json.Unmarshal([]byte(resp.Body), &p) != nil {
		t.Errorf("answer %d %v %s is not a problem document", resp.StatusCode, resp.Headers, resp.Body)
	}
	return p
}

// espAssignment is the sample's assignment as the emulator holds it.
func espAssignment(t *testing.T, e *graphemu.Server) map[string]any {
	t.Helper()
	raw, ok := e.Assignment(graphemu.ConfigESP, graphemu.AssignmentESPGroup)
	if !ok {
		t.Fatal("the emulator lost the sample's assignment")
	}
	var a map[string]any
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatal(err)
	}
	return a
}

// espTarget is espAssignment's target.
func espTarget(t *testing.T, e *graphemu.Server) map[string]any {
	t.Helper()
	target, _ := espAssignment(t, e)["target"].(map[string]any)
	return target
}

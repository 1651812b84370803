package graphemu

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestWriteLimitLikeIntune(t *testing.T) {
	s := New(nil)
	now := time.Unix(1000, 0)
	s.SetWriteLimit(3, 20*time.Second, func() time.Time { return now })
	srv := httptest.NewServer(s)
	defer srv.Close()
	token := issueToken(t, srv.URL)
	patch := func() *http.Response {
		req, _ := http.NewRequest(http.MethodPatch, srv.URL+"/beta/deviceManagement/deviceEnrollmentConfigurations/"+ConfigESP+"/assignments/"+AssignmentESPGroup,
			strings.NewReader(`{"target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"`+GroupCorporate+`"}}`))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for i := 0; i < 3; i++ {
		if r := patch(); r.StatusCode != 200 {
			t.Fatalf("write %d: %d", i, r.StatusCode)
		}
		now = now.Add(5 * time.Second)
	}
	// t=15s: 3 writes in the window (at 0, 5, 10); the oldest leaves at 20s.
	r := patch()
	if r.StatusCode != 429 || r.Header.Get("Retry-After") != "5" {
		t.Fatalf("4th write: %d Retry-After %q, want 429 and 5", r.StatusCode, r.Header.Get("Retry-After"))
	}
	now = now.Add(5 * time.Second) // t=20s
	if r := patch(); r.StatusCode != 200 {
		t.Fatalf("after the window moved: %d", r.StatusCode)
	}
	if s.WriteLimitThrottled() != 1 || s.Writes() != 4 {
		t.Errorf("throttled %d, writes %d; want 1 and 4", s.WriteLimitThrottled(), s.Writes())
	}
	// Reads are not limited.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/beta/deviceManagement/deviceEnrollmentConfigurations/"+ConfigESP+"/assignments", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("read: %v %v", resp, err)
	}
	resp.Body.Close()
}

func issueToken(t *testing.T, root string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, root+TokenPath+"?api-version="+IdentityAPIVersion+"&resource=https%3A%2F%2Fgraph.microsoft.com", nil)
	req.Header.Set(IdentityHeaderName, DefaultIdentityHeader)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.AccessToken == "" {
		t.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	return body.AccessToken
}

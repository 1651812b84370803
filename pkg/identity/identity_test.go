package identity

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/enrollhook/enrollhook/pkg/graphemu"
)

// TestManagedIdentityAgainstALocalEndpoint runs azidentity's
// ManagedIdentityCredential against the emulator's App Service-shaped
// endpoint: system-assigned, then user-assigned by client id. The token is
// fetched once per identity and then served from the cache.
func TestManagedIdentityAgainstALocalEndpoint(t *testing.T) {
	emu := graphemu.New(nil)
	var mu sync.Mutex
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		queries = append(queries, r.URL.RawQuery)
		mu.Unlock()
		emu.ServeHTTP(w, r)
	}))
	defer srv.Close()
	t.Setenv("IDENTITY_ENDPOINT", srv.URL+graphemu.TokenPath)
	t.Setenv("IDENTITY_HEADER", graphemu.DefaultIdentityHeader)
	opts := policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.us/.default"}}

	system, err := New(ModeManagedIdentity, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		tok, err := system.GetToken(context.Background(), opts)
		if err != nil || tok.Token == "" {
			t.Fatalf("GetToken = %v", err)
		}
	}
	if n := emu.TokenRequests(); n != 1 {
		t.Errorf("token requests = %d, want 1 (cached after the first)", n)
	}

	user, err := New("", "11111111-2222-3333-4444-555555555555", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := user.GetToken(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(queries) != 2 {
		t.Fatalf("token requests = %d, want 2 (one per identity)", len(queries))
	}
	if q := queries[1]; !strings.Contains(q, "client_id=11111111-2222-3333-4444-555555555555") || !strings.Contains(q, "resource=https%3A%2F%2Fgraph.microsoft.us") {
		t.Errorf("user-assigned token request query = %q", q)
	}
}

func TestUnknownModeFails(t *testing.T) {
	if _, err := New("client-secret", "", nil); err == nil || !strings.Contains(err.Error(), "not available") {
		t.Fatalf("New(client-secret) = %v", err)
	}
}

package preflight

import (
	"encoding/base64"
	"strings"
	"testing"
)

func TestTokenRoles(t *testing.T) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		token string
		roles []string
		ok    bool
	}{
		{"graphemu.opaque", nil, false},
		{enc(`{"alg":"RS256"}`) + "." + enc(`{"roles":["DeviceManagementServiceConfig.ReadWrite.All"]}`) + ".sig", []string{"DeviceManagementServiceConfig.ReadWrite.All"}, true},
		{enc(`{}`) + "." + enc(`{"aud":"https://graph.microsoft.com"}`) + ".sig", nil, true},
		{"a.!!!.c", nil, false},
	}
	for _, tt := range tests {
		roles, ok := tokenRoles(tt.token)
		if ok != tt.ok || strings.Join(roles, ",") != strings.Join(tt.roles, ",") {
			t.Errorf("tokenRoles(%q) = %v %v, want %v %v", tt.token, roles, ok, tt.roles, tt.ok)
		}
	}
}

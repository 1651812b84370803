package webhook

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/enrollhook/enrollhook/pkg/change"
)

// A dry run (?dryRun=true, Prefer: dry-run, the chat command plan) runs
// every step of a change but the write (apply.Job.DryRun). It does spend
// its delivery id (the flag is outside every signature): the same delivery
// sent later without the flag is refused as delivery-was-dry-run, and a dry
// run of a delivery that was already applied gets that delivery's real
// answer, not a plan.

// wantsDryRun reports whether the request asks for a dry run in any
// spelling, failing closed: the flag is outside every signature, so a
// request meant as a dry run must never be read as a real one. It is a dry
// run when the raw query has a parameter whose name, folded to lower case
// without '-', '_' and '.', is "dryrun" and whose value is anything but
// exactly "false" (a value that does not unescape counts as a dry run); the
// query is split on '&' and ';' by hand, since url.Query drops a pair that
// holds a ';' or a bad escape. Or when a Prefer header names the dry-run
// preference, with or without a value or parameters (RFC 7240: the token
// before '=' or ';').
func wantsDryRun(r *http.Request) bool {
	for _, pair := range strings.FieldsFunc(r.URL.RawQuery, func(c rune) bool { return c == '&' || c == ';' }) {
		name, value, _ := strings.Cut(pair, "=")
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
		if !change.IsDryRunName(name) {
			continue
		}
		v, err := url.QueryUnescape(value)
		if err != nil || v != "false" {
			return true
		}
	}
	for _, p := range r.Header.Values("Prefer") {
		for _, pref := range strings.Split(p, ",") {
			token, _, _ := strings.Cut(pref, ";")
			token, _, _ = strings.Cut(token, "=")
			if strings.EqualFold(strings.TrimSpace(token), "dry-run") {
				return true
			}
		}
	}
	return false
}

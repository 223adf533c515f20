package attack

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// identityHeaders are the headers some route sets from claims, folded
// (lower case, "_" read as "-"): docs/reference.md §3.5 strips them from every
// request on every route before anything else.
var identityHeaders = map[string]string{
	"x-user-id":     "X-User-Id",
	"x-user-roles":  "X-User-Roles",
	"x-auth-claims": "X-Auth-Claims",
}

func fold(name string) string { return strings.ToLower(strings.ReplaceAll(name, "_", "-")) }

// wantIdentity checks that every identity header the upstream got, in any
// spelling, is the gateway's own: want maps the canonical name to the one
// value the gateway sets; a name absent from want must not arrive at all.
func wantIdentity(want map[string]string) func(*testing.T, *http.Response, []byte, []record) {
	return func(t *testing.T, _ *http.Response, _ []byte, recs []record) {
		t.Helper()
		r := recs[0]
		seen := map[string]bool{}
		for k, vals := range r.Header {
			canon, ok := identityHeaders[fold(k)]
			if !ok {
				continue
			}
			w, set := want[canon]
			switch {
			case !set:
				t.Errorf("upstream got client identity header %s: %q, want none", k, vals)
			case k != canon:
				t.Errorf("upstream got %s: %q next to the gateway's %s, want only the gateway's", k, vals, canon)
			case len(vals) != 1 || vals[0] != w:
				t.Errorf("upstream %s: got %q, want [%q]", k, vals, w)
			default:
				seen[canon] = true
			}
		}
		for name := range want {
			if !seen[name] && !slices.Contains(r.Header.Values(name), want[name]) {
				t.Errorf("upstream %s: got %q, want [%q] (the gateway's)", name, r.Header.Values(name), want[name])
			}
		}
	}
}

// testIdentity: a client can never supply identity headers, in any
// spelling, on any route kind, and cannot make the gateway drop its own
// (docs/reference.md §3.5). Each spelling on its own is proxy's TestHeaderSpoofing
// table; here every spelling at once goes through the real binary on every
// kind of route.
func testIdentity(t *testing.T, f *fixture) {
	tok := f.good(t, nil)
	adminTok := f.good(t, map[string]any{"scope": "read admin"})
	payload := strings.Split(tok, ".")[1]
	adminPayload := strings.Split(adminTok, ".")[1]
	forged := b64(`{"sub":"admin","roles":["admin"],"scope":"admin"}`)

	spoofs := []struct {
		name  string
		lines []string
	}{
		{"canonical", []string{"X-User-Id: mallory", "X-User-Roles: admin", "X-Auth-Claims: " + forged}},
		{"lower case", []string{"x-user-id: mallory", "x-user-roles: admin", "x-auth-claims: " + forged}},
		{"upper case", []string{"X-USER-ID: mallory", "X-USER-ROLES: admin", "X-AUTH-CLAIMS: " + forged}},
		{"underscores", []string{"X_User_Id: mallory", "X_User_Roles: admin", "X_Auth_Claims: " + forged}},
		{"lower-case underscores", []string{"x_user_id: mallory", "x_user_roles: admin", "x_auth_claims: " + forged}},
		{"mixed - and _", []string{"X-User_Id: mallory", "X_User-Roles: admin", "X-Auth_Claims: " + forged}},
		{"duplicates", []string{"X-User-Id: mallory", "X-User-Id: root", "X-User-Roles: admin", "X-User-Roles: root", "X-Auth-Claims: " + forged, "X-Auth-Claims: " + forged}},
		{"comma list", []string{"X-User-Id: mallory, alice", "X-User-Roles: admin,root"}},
		{"obs-fold value", []string{"X-User-Id: mal\r\n lory", "X-Auth-Claims: " + forged[:10] + "\r\n\t" + forged[10:]}},
		{"empty values", []string{"X-User-Id:", "X-User-Roles:", "X-Auth-Claims:"}},
	}
	var all []string
	for _, s := range spoofs {
		all = append(all, s.lines...)
	}
	connection := "Connection: X-User-Id, X-User-Roles, X-Auth-Claims"

	routes := []struct {
		name   string
		method string
		target string
		lines  []string
		status int
		fwd    string
		want   map[string]string
	}{
		{"public", "GET", "/public/id", nil, 200, "GET /public/id", nil},
		{"required with a token", "GET", "/api/id", []string{bearer(tok)}, 200, "GET /api/id",
			map[string]string{"X-User-Id": "alice", "X-User-Roles": "reader", "X-Auth-Claims": payload}},
		{"scope-guarded with a token", "GET", "/admin/id", []string{bearer(adminTok)}, 200, "GET /admin/id",
			map[string]string{"X-User-Id": "alice"}},
		{"optional, anonymous", "GET", "/opt/id", nil, 200, "GET /opt/id", nil},
		{"optional with a token", "GET", "/opt/id", []string{bearer(adminTok)}, 200, "GET /opt/id",
			map[string]string{"X-User-Id": "alice", "X-Auth-Claims": adminPayload}},
		{"host-restricted fallback", "GET", "/vhost/id", []string{"Host: other.example"}, 200, "GET /vhost/id", nil},
		{"method-restricted", "GET", "/readonly/id", nil, 200, "GET /readonly/id", nil},
		{"strip_prefix", "GET", "/strip/id", nil, 200, "GET /base/id", nil},
		{"public prefix of a guarded one", "POST", "/files/id", nil, 200, "POST /files/id", nil},
		{"WebSocket with a token", "GET", "/ws/id", []string{bearer(tok), "Connection: Upgrade", "Upgrade: websocket",
			"Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="}, 101, "GET /ws/id",
			map[string]string{"X-User-Id": "alice"}},
	}

	var cases []tcase
	for _, r := range routes {
		build := func(name string, extra []string) tcase {
			return tcase{name: r.name + ", " + name, req: request(r.method, r.target, slices.Concat(r.lines, extra)...),
				status: r.status, fwd: []string{r.fwd}, check: wantIdentity(r.want)}
		}
		cases = append(cases, build("every spelling at once", all))
		if r.want != nil {
			// The gateway's own headers survive a client naming them as
			// hop-by-hop.
			cases = append(cases, build("identity headers named in Connection", []string{connection, "X-User-Id: mallory"}))
		}
	}
	f.run(t, cases)
}

package headers

import "testing"

func TestReserved(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"Authorization", true},
		{"authorization", true},
		{"COOKIE", true},
		{"x-forwarded-for", true},
		{"X-Forwarded-Client-Cert", true},
		{"x-request-id", true},
		{"Te", true},
		{"X-User-Id", false},
		{"X-Auth-Claims", false},
		{"Forwarded-By", false},
		{"X_User_Id", false},
		{"Forwarded", true},
		{"X-Forwarded-Prefix", true},
		{"X_Forwarded_Prefix", true},
		{"x-real-ip", true},
		{"X_Real_IP", true},
		{"True-Client-IP", true},
		{"X-Client-IP", true},
		{"CF-Connecting-IP", true},
		{"X-HTTP-Method-Override", true},
		{"X-HTTP-Method", true},
		{"X-Method-Override", true},
		{"X-Original-URL", true},
		{"X-Original_URL", true},
		{"X-Rewrite-URL", true},
		{"X-Original-URI", true},
		{"HTTP2-Settings", true},
		{"Proxy", true},
		{"Transfer_Encoding", true},
		{"X_Request_Id", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Reserved(tc.name); got != tc.want {
				t.Errorf("Reserved(%q): got %v, want %v", tc.name, got, tc.want)
			}
		})
	}
}

// TestDropped checks the client headers removed from every request: any
// X-Forwarded-* suffix and the listed names, in canonical form.
func TestDropped(t *testing.T) {
	for _, tc := range []struct {
		canon string
		want  bool
	}{
		{"X-Forwarded-For", true}, {"X-Forwarded-Port", true}, {"X-Forwarded-Ssl", true}, {"X-Forwarded-", true},
		{"Forwarded", true}, {"X-Real-Ip", true}, {"True-Client-Ip", true}, {"X-Client-Ip", true},
		{"Cf-Connecting-Ip", true}, {"X-Http-Method-Override", true}, {"X-Http-Method", true},
		{"X-Method-Override", true}, {"X-Original-Url", true}, {"X-Rewrite-Url", true}, {"X-Original-Uri", true},
		{"Http2-Settings", true}, {"Proxy", true},
		{"X-Forwarded", false}, {"X-Forwardedfor", false}, {"Authorization", false}, {"X-User-Id", false},
		{"Upgrade", false}, {"Proxy-Authorization", false}, {"X-Real-Ip-Extra", false},
	} {
		t.Run(tc.canon, func(t *testing.T) {
			if got := Dropped(tc.canon); got != tc.want {
				t.Errorf("Dropped(%q): got %v, want %v", tc.canon, got, tc.want)
			}
			if tc.want && !Reserved(tc.canon) {
				t.Errorf("Reserved(%q): got false, want true for a dropped header", tc.canon)
			}
		})
	}
}

func TestIsToken(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"X-User-Id", true},
		{"GET", true},
		{"x_user.id~!", true},
		{"", false},
		{"X User", false},
		{"X:User", false},
		{"X-Üser", false},
		{"X-User\r\n", false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := IsToken(tc.in); got != tc.want {
				t.Errorf("IsToken(%q): got %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestCanonicalOrigin(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{name: "as is", in: "https://app.example.com", want: "https://app.example.com"},
		{name: "upper case", in: "HTTPS://App.Example.COM", want: "https://app.example.com"},
		{name: "default https port", in: "https://app.example.com:443", want: "https://app.example.com"},
		{name: "default http port", in: "http://localhost:80", want: "http://localhost"},
		{name: "other port kept", in: "http://localhost:5173", want: "http://localhost:5173"},
		{name: "http on 443 kept", in: "http://app.example.com:443", want: "http://app.example.com:443"},
		{name: "trailing slash", in: "https://app.example.com/", want: "https://app.example.com"},
		{name: "IPv6", in: "http://[::1]:3000", want: "http://[::1]:3000"},
	}
	for _, bad := range []string{"https://*.example.com", "https://app.example.com/path", "https://u@app.example.com", "app.example.com", "https://app.example.com?x=1",
		"ftp://app.example.com", "chrome-extension://abc"} {
		tests = append(tests, struct{ name, in, want string }{name: "refused " + bad, in: bad})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CanonicalOrigin(tt.in)
			if tt.want == "" {
				if err == nil {
					t.Errorf("CanonicalOrigin(%q): got %q, want an error", tt.in, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("CanonicalOrigin(%q): got %q, %v, want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

package httpurl

import "testing"

func TestParse(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{name: "http", in: "http://api:8080"},
		{name: "https with path and query", in: "https://idp.example.com/keys?v=1"},
		{name: "upper-case scheme", in: "HTTPS://idp.example.com"},
		{name: "empty", in: "", want: "must be an absolute URL"},
		{name: "relative", in: "/keys", want: "must be an absolute URL"},
		{name: "relative, no leading slash", in: "keys/v1", want: "must be an absolute URL"},
		{name: "ftp", in: "ftp://files", want: "scheme must be http or https"},
		{name: "host:port without scheme", in: "orders:8080", want: "must be an absolute URL; write http://orders:8080"},
		{name: "localhost:port without scheme", in: "localhost:3000", want: "must be an absolute URL; write http://localhost:3000"},
		{name: "localhost without scheme", in: "localhost", want: "must be an absolute URL; write http://localhost"},
		{name: "IP address without scheme", in: "10.0.0.7:8080", want: "must be an absolute URL; write http://10.0.0.7:8080"},
		{name: "single word: not completed", in: "orders", want: "must be an absolute URL"},
		{name: "scheme-relative public name", in: "//api.example.com", want: "must be an absolute URL; write https://api.example.com"},
		{name: "host and path without scheme, path not quoted", in: "idp.example.com/keys?key=secret", want: "must be an absolute URL; write https://idp.example.com/…"},
		{name: "user information without scheme: no hint", in: "user:pw@api", want: "scheme must be http or https"},
		{name: "other scheme without slashes", in: "mailto:a@example.com", want: "scheme must be http or https"},
		{name: "no host", in: "http://", want: "must be an absolute URL"},
		{name: "opaque", in: "http:api", want: "must be an absolute URL"},
		{name: "user information", in: "http://user:pw@api", want: "must not contain user information"},
		{name: "bad escape", in: "https://idp.example.com/%zz", want: "must be an absolute URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := Parse(tt.in)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("got %v, want no error", err)
			case tt.want == "" && u == nil:
				t.Fatal("got a nil URL, want one")
			case tt.want != "" && (err == nil || err.Error() != tt.want):
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}

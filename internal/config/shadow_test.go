package config

import (
	"slices"
	"testing"
)

func TestShadows(t *testing.T) {
	tests := []struct {
		name string
		a, b Match
		want bool
	}{
		{"catch-all prefix covers everything", Match{PathPrefix: "/"}, Match{Path: "/x", Host: "h", Methods: []string{"GET"}}, true},
		{"segment-boundary prefix covers a longer prefix", Match{PathPrefix: "/api"}, Match{PathPrefix: "/api/orders"}, true},
		{"equal prefixes", Match{PathPrefix: "/api"}, Match{PathPrefix: "/api"}, true},
		{"prefix covers an exact path below it", Match{PathPrefix: "/api"}, Match{Path: "/api/me"}, true},
		{"prefix covers its own path with a trailing slash", Match{PathPrefix: "/api"}, Match{Path: "/api/"}, true},
		{"not a segment boundary", Match{PathPrefix: "/api"}, Match{PathPrefix: "/apiv2"}, false},
		{"shorter prefix is not covered", Match{PathPrefix: "/api/orders"}, Match{PathPrefix: "/api"}, false},
		{"equal exact paths", Match{Path: "/x"}, Match{Path: "/x"}, true},
		{"exact path does not cover a prefix", Match{Path: "/x"}, Match{PathPrefix: "/x"}, false},
		{"different exact paths", Match{Path: "/x"}, Match{Path: "/x/"}, false},
		{"host-specific does not cover any host", Match{PathPrefix: "/", Host: "a.example.com"}, Match{PathPrefix: "/x"}, false},
		{"same host, case-insensitive", Match{PathPrefix: "/", Host: "a.example.com"}, Match{PathPrefix: "/x", Host: "A.example.com"}, true},
		{"other host", Match{PathPrefix: "/", Host: "a.example.com"}, Match{PathPrefix: "/x", Host: "b.example.com"}, false},
		{"method superset", Match{PathPrefix: "/", Methods: []string{"GET", "POST"}}, Match{Path: "/x", Methods: []string{"POST"}}, true},
		{"method subset", Match{PathPrefix: "/", Methods: []string{"GET"}}, Match{Path: "/x", Methods: []string{"GET", "POST"}}, false},
		{"methods do not cover any method", Match{PathPrefix: "/", Methods: []string{"GET"}}, Match{Path: "/x"}, false},
		{"invalid earlier match shadows nothing", Match{PathPrefix: "/", Path: "/"}, Match{Path: "/x"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := shadows(tt.a, tt.b); got != tt.want {
				t.Errorf("got %t, want %t", got, tt.want)
			}
		})
	}
}

func TestShadowWarnings(t *testing.T) {
	cfg, err := Parse("config.yaml", []byte(issuersBlock+`routes:
  - { name: public, match: { path_prefix: /public }, upstream: { url: http://api }, auth: { mode: none } }
  - name: api
    match: { path_prefix: /api/ }
    upstream: { url: http://api }
  - { name: api-get, match: { path_prefix: /api, methods: [GET] }, upstream: { url: http://api } }
  - { name: me, match: { path: /api/me }, upstream: { url: http://api } }
  - { name: public-x, match: { path: /public/x, host: x.example.com }, upstream: { url: http://api } }
  - { name: other, match: { path_prefix: /apis }, upstream: { url: http://api } }
`), noEnv)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := []string{
		`config.yaml:10: routes[2]: never matches: shadowed by routes[1] "api"`,
		`config.yaml:11: routes[3]: never matches: shadowed by routes[1] "api"`,
		`config.yaml:12: routes[4]: never matches: shadowed by routes[0] "public"`,
	}
	if !slices.Equal(cfg.Warnings, want) {
		t.Errorf("got %q, want %q", cfg.Warnings, want)
	}
}

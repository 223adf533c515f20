package testkit

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// get fetches url with hdr and returns the status, the response header and
// the body.
func get(t *testing.T, client *http.Client, url string, hdr http.Header) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// discovery returns the issuer and jwks_uri that is's document names.
func discovery(t *testing.T, is *Issuer) (iss, jwksURI string) {
	t.Helper()
	status, _, body := get(t, is.Client(), is.URL+DiscoveryPath, nil)
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal([]byte(body), &doc); status != http.StatusOK || err != nil {
		t.Fatalf("discovery: got %d %q (%v), want 200 and a document", status, body, err)
	}
	return doc.Issuer, doc.JWKSURI
}

// TestIssuerMount: issuers mounted on one server answer under their own
// paths with their own keys and documents, count only their own requests,
// and leave the server's own issuer alone.
func TestIssuerMount(t *testing.T) {
	root := NewIssuer(t)
	a := root.Mount("/a", NewECKey(t, "a1"))
	deep := root.Mount("/realms/shop", NewECKey(t, "s1"))
	deeper := root.Mount("/realms/shop/sub", NewECKey(t, "x1")) // the longest mounted path wins
	deep.SetDiscoveryIssuer(deep.URL + "/")

	for _, tc := range []struct {
		name string
		is   *Issuer
		url  string // want
		iss  string // the document's issuer, want
		kid  string // of the published key, want
	}{
		{"root", root, root.Server.URL, root.Server.URL, "k1"},
		{"one segment", a, root.Server.URL + "/a", root.Server.URL + "/a", "a1"},
		{"two segments, document with a trailing slash", deep, root.Server.URL + "/realms/shop", root.Server.URL + "/realms/shop/", "s1"},
		{"under another mounted path", deeper, root.Server.URL + "/realms/shop/sub", root.Server.URL + "/realms/shop/sub", "x1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.is.URL != tc.url {
				t.Errorf("URL: got %q, want %q", tc.is.URL, tc.url)
			}
			iss, uri := discovery(t, tc.is)
			if iss != tc.iss || uri != tc.url+JWKSPath {
				t.Errorf("document: got issuer %q jwks_uri %q, want %q and %q", iss, uri, tc.iss, tc.url+JWKSPath)
			}
			if _, _, body := get(t, tc.is.Client(), tc.is.JWKSURL(), nil); !strings.Contains(body, `"kid":"`+tc.kid+`"`) {
				t.Errorf("key set: got %s, want kid %q", body, tc.kid)
			}
			if got := tc.is.Hits(DiscoveryPath) + tc.is.Hits(JWKSPath); got != 2 {
				t.Errorf("hits: got %d, want 2", got)
			}
		})
	}
	for _, is := range []*Issuer{root, a, deep, deeper} {
		if got := is.TotalHits(); got != 2 {
			t.Errorf("%s: total hits: got %d, want 2 (its own requests only)", is.URL, got)
		}
	}
	// A fault of a mounted issuer sees the path under its own.
	a.SetFault(ErrorFault(http.StatusTeapot, JWKSPath))
	if status, _, _ := get(t, a.Client(), a.JWKSURL(), nil); status != http.StatusTeapot {
		t.Errorf("mounted fault: got %d, want %d", status, http.StatusTeapot)
	}
	if status, _, _ := get(t, root.Client(), root.JWKSURL(), nil); status != http.StatusOK {
		t.Errorf("root with a mounted issuer's fault: got %d, want 200", status)
	}
}

// TestIssuerKnobs: the key set honours ETag and Cache-Control, the
// discovery document names what it is told, LastHeader and Hits record
// requests, and a delay holds answers back.
func TestIssuerKnobs(t *testing.T) {
	is := NewIssuer(t)
	is.SetETag(`"v1"`)
	is.SetCacheControl("max-age=60")
	for _, tc := range []struct {
		name   string
		inm    string // If-None-Match sent
		status int
	}{
		{"no condition", "", http.StatusOK},
		{"matching tag", `"v1"`, http.StatusNotModified},
		{"other tag", `"v0"`, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := http.Header{}
			if tc.inm != "" {
				hdr.Set("If-None-Match", tc.inm)
			}
			status, h, body := get(t, is.Client(), is.JWKSURL(), hdr)
			if status != tc.status || h.Get("ETag") != `"v1"` || h.Get("Cache-Control") != "max-age=60" {
				t.Errorf("got %d ETag %q Cache-Control %q, want %d with both set", status, h.Get("ETag"), h.Get("Cache-Control"), tc.status)
			}
			if (status == http.StatusNotModified) != (body == "") {
				t.Errorf("body: got %q for status %d", body, status)
			}
			if got := is.LastHeader(JWKSPath).Get("If-None-Match"); got != tc.inm {
				t.Errorf("LastHeader If-None-Match: got %q, want %q", got, tc.inm)
			}
		})
	}
	if got := is.Hits(JWKSPath); got != 3 {
		t.Errorf("hits: got %d, want 3", got)
	}
	if is.LastHeader("/never") != nil {
		t.Error("LastHeader of a path never requested: got a header, want nil")
	}

	is.SetDiscoveryJWKSURI("https://keys.example/set")
	if _, uri := discovery(t, is); uri != "https://keys.example/set" {
		t.Errorf("jwks_uri: got %q, want the one set", uri)
	}

	is.SetDelay(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", is.JWKSURL(), nil)
	if resp, err := is.Client().Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("with a delay of an hour: got %d at once, want the client to give up", resp.StatusCode)
	}
	is.SetDelay(0)
}

// TestTLSIssuer: a TLS issuer names its https URL and its client trusts it.
func TestTLSIssuer(t *testing.T) {
	is := NewTLSIssuer(t)
	if !strings.HasPrefix(is.URL, "https://") {
		t.Fatalf("URL: got %q, want https", is.URL)
	}
	if iss, uri := discovery(t, is); iss != is.URL || uri != is.JWKSURL() {
		t.Errorf("document: got %q %q, want %q %q", iss, uri, is.URL, is.JWKSURL())
	}
}

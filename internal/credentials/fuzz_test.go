package credentials

import (
	"strings"
	"testing"
)

// FuzzParseResponse: whatever a token endpoint answers, parsing neither
// panics nor puts the secret in an error, and a token comes with a
// lifetime of at least MinLifetime.
func FuzzParseResponse(f *testing.F) {
	f.Add(200, "application/json", []byte(`{"access_token":"a","token_type":"Bearer","expires_in":3600}`))
	f.Add(200, "application/json; charset=utf-8", []byte(`{"access_token":"a","expires_in":"60"}`))
	f.Add(200, "", []byte(`{"access_token":"a","expires_in":-1}`))
	f.Add(200, "text/html", []byte(`<html>`))
	f.Add(400, "application/json", []byte(`{"error":"invalid_client","error_description":"`+testSecret+`"}`))
	f.Add(401, "application/json", []byte(`{"error":"invalid\u0000client"}`))
	f.Add(500, "", []byte(testSecret))
	f.Add(400, "", []byte(`{"error":"`+testSecret+`"}`))
	c := &endpoint{o: Options{Name: "b"}, secret: testSecret}
	f.Fuzz(func(t *testing.T, status int, ctype string, body []byte) {
		tok, life, err := c.parseResponse(status, ctype, body)
		if err != nil {
			if strings.Contains(err.Error(), testSecret) {
				t.Fatalf("error holds the secret: %v", err)
			}
			return
		}
		if tok == "" || life < MinLifetime {
			t.Fatalf("got token %q with lifetime %v", tok, life)
		}
	})
}

// FuzzTokenExp: tokenExp never panics, and a time it returns is one a
// positive exp gives.
func FuzzTokenExp(f *testing.F) {
	f.Add("eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjE3MDAwMDAwMDB9.c2ln")
	f.Add("a.b.c")
	f.Add("..")
	f.Add("a.eyJleHAiOjFlMzAwfQ.c")
	f.Fuzz(func(t *testing.T, tok string) {
		if exp, ok := tokenExp(tok); ok && exp.Unix() < 0 {
			t.Fatalf("got exp %v", exp)
		}
	})
}

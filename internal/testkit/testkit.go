// Package testkit holds helpers that tests in several packages share. It is
// imported only from _test.go files.
package testkit

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jws/jwsbb"
)

// SignJWS makes a compact JWS over the exact payload bytes with jws.Sign,
// alg spelled as RFC 7518 spells it ("RS256"); hdr members (kid, typ, crit,
// jku, jwk, …) go into the protected header next to alg. It fails the test
// on error. Tests name algorithms as strings so that only this package and
// the code under test depend on the JOSE library's types.
func SignJWS(tb testing.TB, alg string, key any, hdr map[string]any, payload []byte) string {
	tb.Helper()
	a, ok := jwa.LookupSignatureAlgorithm(alg)
	if !ok {
		tb.Fatalf("unknown algorithm %q", alg)
	}
	h := jws.NewHeaders()
	for name, v := range hdr {
		if err := h.Set(name, v); err != nil {
			tb.Fatalf("header %s: %v", name, err)
		}
	}
	tok, err := jws.Sign(payload, jws.WithKey(a, key, jws.WithProtectedHeaders(h)))
	if err != nil {
		tb.Fatalf("jws.Sign(%s): %v", alg, err)
	}
	return string(tok)
}

// SignInput signs the exact signing input (BASE64URL(header) "."
// BASE64URL(payload)) with alg and returns the compact JWS, for tokens that
// jws.Sign would not produce: a header given verbatim, an alg that differs
// from the signing algorithm, duplicate members, odd encodings.
func SignInput(tb testing.TB, alg string, key any, signingInput string) string {
	tb.Helper()
	sig, err := jwsbb.Sign(key, alg, []byte(signingInput), nil)
	if err != nil {
		tb.Fatalf("sign %s: %v", alg, err)
	}
	return signingInput + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// LogBuffer is a goroutine-safe sink for a logger (or a child process's
// output) that tests read while the code under test still writes to it.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Lines decodes the JSON log lines whose msg is msg ("" for all); a line
// that is not JSON fails the test.
func (b *LogBuffer) Lines(tb testing.TB, msg string) []map[string]any {
	tb.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(b.String()))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			tb.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if msg == "" || m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// Access waits for the access line ("request") of requestID: it is written
// after the response, so it may trail the client by a moment.
func (b *LogBuffer) Access(tb testing.TB, requestID string) map[string]any {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, m := range b.Lines(tb, "request") {
			if m["request_id"] == requestID {
				return m
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("no access line for request id %q in:\n%s", requestID, b)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ParallelGET benchmarks GET url with a bearer token from b.RunParallel's
// goroutines on client; any status but 200 fails the benchmark.
func ParallelGET(b *testing.B, client *http.Client, url, token string) {
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("GET", url, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status: got %d, want 200", resp.StatusCode)
				return
			}
		}
	})
}

package credentials

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const testSecret = "s3cr:et+&/value"

// tokenServer is a loopback token endpoint that counts requests, records
// the last one and answers as its fields say.
type tokenServer struct {
	*httptest.Server
	n atomic.Int32

	mu       sync.Mutex
	last     *http.Request
	lastForm url.Values
	// status, if non-zero, is answered with body instead of a token.
	status int
	body   string
	// expiresIn is sent unless omitExpiry; delay is slept first.
	expiresIn  int
	omitExpiry bool
	delay      time.Duration
}

func newTokenServer(t *testing.T) *tokenServer {
	ts := &tokenServer{expiresIn: 3600}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := ts.n.Add(1)
		_ = r.ParseForm()
		ts.mu.Lock()
		ts.last, ts.lastForm = r, r.PostForm
		status, body, exp, omit, delay := ts.status, ts.body, ts.expiresIn, ts.omitExpiry, ts.delay
		ts.mu.Unlock()
		time.Sleep(delay)
		w.Header().Set("Content-Type", "application/json")
		if status != 0 {
			w.WriteHeader(status)
			fmt.Fprint(w, body)
			return
		}
		resp := map[string]any{"access_token": fmt.Sprintf("tok-%d", n), "token_type": "bearer"}
		if !omit {
			resp["expires_in"] = exp
		}
		_ = json.NewEncoder(w).Encode(resp)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *tokenServer) set(f func(*tokenServer)) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	f(ts)
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// timers is an After that the test fires: each call is announced on waits
// with its duration and returns a channel fired by fire.
type timers struct {
	waits chan time.Duration
	fires chan chan time.Time
}

func newTimers() *timers {
	return &timers{waits: make(chan time.Duration, 16), fires: make(chan chan time.Time, 16)}
}

func (tm *timers) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	tm.fires <- ch
	tm.waits <- d
	return ch
}

// next waits for Run to arm a timer and returns its duration and trigger.
func (tm *timers) next(t *testing.T) (time.Duration, func()) {
	t.Helper()
	select {
	case d := <-tm.waits:
		ch := <-tm.fires
		return d, func() { ch <- time.Time{} }
	case <-time.After(5 * time.Second):
		t.Fatal("Run armed no timer")
		return 0, nil
	}
}

type fixture struct {
	ts    *tokenServer
	clk   *clock
	tm    *timers
	logs  *bytes.Buffer
	logMu *sync.Mutex
	c     *ClientCredentials
}

type syncWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func newFixture(t *testing.T, edit func(*Options)) *fixture {
	t.Helper()
	f := &fixture{ts: newTokenServer(t), clk: &clock{t: time.Unix(1_700_000_000, 0)}, tm: newTimers(), logs: &bytes.Buffer{}, logMu: &sync.Mutex{}}
	o := Options{
		Name: "billing", TokenURL: f.ts.URL + "/token", ClientID: "gate way", SecretEnv: "BILLING_SECRET",
		Getenv: func(string) string { return testSecret },
		Now:    f.clk.Now, After: f.tm.After,
		Logger: slog.New(slog.NewTextHandler(syncWriter{f.logMu, f.logs}, nil)),
	}
	if edit != nil {
		edit(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	f.c = c
	return f
}

func (f *fixture) logText() string { f.logMu.Lock(); defer f.logMu.Unlock(); return f.logs.String() }

// run starts Run and stops it at cleanup.
func (f *fixture) run(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func TestConcurrentTokenCallsShareOneFetch(t *testing.T) {
	f := newFixture(t, nil)
	f.ts.set(func(ts *tokenServer) { ts.delay = 50 * time.Millisecond })
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for range 200 {
		wg.Go(func() {
			tok, err := f.c.Token(context.Background(), "")
			if err == nil && tok != "tok-1" {
				err = fmt.Errorf("got %q, want %q", tok, "tok-1")
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := f.ts.n.Load(); n != 1 {
		t.Errorf("got %d fetches, want 1", n)
	}
}

func TestCancelledCallerDoesNotAbortSharedFetch(t *testing.T) {
	f := newFixture(t, nil)
	f.ts.set(func(ts *tokenServer) { ts.delay = 100 * time.Millisecond })
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	if _, err := f.c.Token(ctx, ""); !errors.Is(err, context.Canceled) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("got %v, want a cancellation wrapping ErrUnavailable", err)
	}
	tok, err := f.c.Token(context.Background(), "")
	if err != nil || tok != "tok-1" {
		t.Fatalf("got %q, %v, want tok-1 from the fetch the cancelled caller started", tok, err)
	}
	if n := f.ts.n.Load(); n != 1 {
		t.Errorf("got %d fetches, want 1", n)
	}
}

func TestRunRefreshesAheadOfExpiry(t *testing.T) {
	f := newFixture(t, nil) // expires_in 3600, refresh_before 60s
	f.run(t)
	// Run fetches at once, then arms the refresh timer.
	d, fire := f.tm.next(t)
	if lo, hi := 3600*time.Second-66*time.Second, 3600*time.Second-54*time.Second; d < lo || d > hi {
		t.Errorf("refresh in %v, want within [%v, %v] (refresh_before 60s ± 10%%)", d, lo, hi)
	}
	if tok, _ := f.c.Token(context.Background(), ""); tok != "tok-1" {
		t.Fatalf("got %q, want tok-1", tok)
	}
	// Shortly before expiry the refresh happens with no request waiting.
	f.clk.Add(d)
	fire()
	_, _ = f.tm.next(t) // armed again: the refresh is done
	if n := f.ts.n.Load(); n != 2 {
		t.Fatalf("got %d fetches, want 2", n)
	}
	tok, err := f.c.Token(context.Background(), "")
	if err != nil || tok != "tok-2" {
		t.Errorf("got %q, %v, want tok-2", tok, err)
	}
	if n := f.ts.n.Load(); n != 2 {
		t.Errorf("Token fetched: got %d fetches, want 2", n)
	}
}

func TestMissingExpiresInUsesDefaultLifetime(t *testing.T) {
	f := newFixture(t, nil)
	f.ts.set(func(ts *tokenServer) { ts.omitExpiry = true })
	var expiry time.Time
	f.c.o.Expires = func(t time.Time) { expiry = t }
	start := f.clk.Now()
	if _, err := f.c.Token(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	if want := start.Add(DefaultLifetime); !expiry.Equal(want) {
		t.Errorf("got expiry %v, want %v", expiry, want)
	}
	f.clk.Add(DefaultLifetime - time.Second)
	_, _ = f.c.Token(context.Background(), "")
	if n := f.ts.n.Load(); n != 1 {
		t.Errorf("got %d fetches before the default lifetime ends, want 1", n)
	}
	f.clk.Add(time.Second)
	tok, _ := f.c.Token(context.Background(), "")
	if tok != "tok-2" {
		t.Errorf("after the default lifetime got %q, want tok-2", tok)
	}
}

func TestShortLifetimeIsFloored(t *testing.T) {
	f := newFixture(t, nil)
	f.ts.set(func(ts *tokenServer) { ts.expiresIn = 0 })
	f.run(t)
	d, _ := f.tm.next(t)
	if d < MinLifetime/2 {
		t.Errorf("refresh in %v for expires_in 0, want at least %v", d, MinLifetime/2)
	}
}

func TestBackoffServesOldTokenThenFails(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Fetched = nil })
	var ok, bad atomic.Int32
	f.c.o.Fetched = func(good bool) {
		if good {
			ok.Add(1)
		} else {
			bad.Add(1)
		}
	}
	f.ts.set(func(ts *tokenServer) { ts.expiresIn = 120 })
	f.run(t)
	d, fire := f.tm.next(t)
	f.ts.set(func(ts *tokenServer) { ts.status, ts.body = 503, "unavailable "+testSecret })
	f.clk.Add(d)
	fire()
	var waits []time.Duration
	for range 3 {
		w, fire := f.tm.next(t)
		waits = append(waits, w)
		tok, err := f.c.Token(context.Background(), "")
		if err != nil || tok != "tok-1" {
			t.Fatalf("during backoff got %q, %v, want the old tok-1", tok, err)
		}
		fire()
	}
	if want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}; fmt.Sprint(waits) != fmt.Sprint(want) {
		t.Errorf("got backoff %v, want %v", waits, want)
	}
	_, fire = f.tm.next(t)
	f.clk.Add(time.Hour)
	_, err := f.c.Token(context.Background(), "")
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), `"billing"`) || !strings.Contains(err.Error(), "503") {
		t.Errorf("after expiry got %v, want an error naming the credential and the status", err)
	}
	if strings.Contains(err.Error(), testSecret) {
		t.Errorf("error holds the secret: %v", err)
	}
	logs := f.logText()
	if got := strings.Count(logs, "credential refresh failed"); got < 3 {
		t.Errorf("got %d failure lines, want one per backoff step (>= 3):\n%s", got, logs)
	}
	if strings.Contains(logs, testSecret) || strings.Contains(logs, url.QueryEscape(testSecret)) {
		t.Errorf("logs hold the secret:\n%s", logs)
	}
	if ok.Load() != 1 || bad.Load() < 4 {
		t.Errorf("got %d successes, %d failures observed, want 1 and at least 4", ok.Load(), bad.Load())
	}

	// The endpoint recovers: the next backoff step fetches, and says so.
	f.ts.set(func(ts *tokenServer) { ts.status = 0 })
	f.clk.Add(2 * time.Second) // past the failure Token just had
	fire()
	_, _ = f.tm.next(t)
	if tok, err := f.c.Token(context.Background(), ""); err != nil || tok == "tok-1" {
		t.Errorf("after recovery got %q, %v, want a new token", tok, err)
	}
	if !strings.Contains(f.logText(), "credential refresh recovered") {
		t.Errorf("no recovery line:\n%s", f.logText())
	}
}

func TestInvalidate(t *testing.T) {
	f := newFixture(t, nil)
	tok1, _ := f.c.Token(context.Background(), "")
	f.c.Invalidate("client", "not-the-cached-one")
	if tok, _ := f.c.Token(context.Background(), ""); tok != tok1 || f.ts.n.Load() != 1 {
		t.Fatalf("invalidating another token: got %q after %d fetches, want %q after 1", tok, f.ts.n.Load(), tok1)
	}
	f.c.Invalidate("", tok1)
	tok2, _ := f.c.Token(context.Background(), "")
	if tok2 != "tok-2" {
		t.Fatalf("after Invalidate got %q, want tok-2", tok2)
	}
	// A late 401 for the older token must not drop the newer one.
	f.c.Invalidate("", tok1)
	if tok, _ := f.c.Token(context.Background(), ""); tok != tok2 || f.ts.n.Load() != 2 {
		t.Errorf("invalidating the old token: got %q after %d fetches, want %q after 2", tok, f.ts.n.Load(), tok2)
	}
}

func TestAuthMethods(t *testing.T) {
	for _, tc := range []struct {
		name   string
		method string
	}{{"basic", AuthBasic}, {"default is basic", ""}, {"post", AuthPost}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(o *Options) {
				o.AuthMethod = tc.method
				o.Scopes = []string{"invoices:read", "invoices:write"}
				o.Audience = "https://billing.example.com"
				o.Resource = []string{"https://a.example.com", "https://b.example.com"}
			})
			if _, err := f.c.Token(context.Background(), ""); err != nil {
				t.Fatal(err)
			}
			f.ts.mu.Lock()
			r, form := f.ts.last, f.ts.lastForm
			f.ts.mu.Unlock()
			if got, want := r.Header.Get("Content-Type"), "application/x-www-form-urlencoded"; got != want {
				t.Errorf("Content-Type: got %q, want %q", got, want)
			}
			want := url.Values{
				"grant_type": {"client_credentials"},
				"scope":      {"invoices:read invoices:write"},
				"audience":   {"https://billing.example.com"},
				"resource":   {"https://a.example.com", "https://b.example.com"},
			}
			if tc.method == AuthPost {
				want["client_id"] = []string{"gate way"}
				want["client_secret"] = []string{testSecret}
				if h := r.Header.Get("Authorization"); h != "" {
					t.Errorf("post sent Authorization %q", h)
				}
			} else {
				// RFC 6749 §2.3.1: form-urlencoded, then Basic.
				wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte("gate+way:s3cr%3Aet%2B%26%2Fvalue"))
				if got := r.Header.Get("Authorization"); got != wantAuth {
					t.Errorf("Authorization: got %q, want %q", got, wantAuth)
				}
			}
			if got, w := form.Encode(), want.Encode(); got != w {
				t.Errorf("form: got %q, want %q", got, w)
			}
		})
	}
}

func TestTokenResponses(t *testing.T) {
	long := strings.Repeat("d", 300)
	for _, tc := range []struct {
		name, body string
		status     int
		want       []string // substrings of the error
		not        []string
	}{
		{name: "oauth error", status: 401, body: `{"error":"invalid_client","error_description":"` + long + `"}`,
			want: []string{`"billing"`, "invalid_client", strings.Repeat("d", 200)}, not: []string{strings.Repeat("d", 201)}},
		{name: "description echoing the secret", status: 400, body: `{"error":"invalid_request","error_description":"bad ` + testSecret + `"}`,
			want: []string{"invalid_request"}, not: []string{testSecret}},
		{name: "not oauth", status: 500, body: "oops " + testSecret, want: []string{"500"}, not: []string{"oops", testSecret}},
		{name: "no access_token", status: 200, body: `{"token_type":"Bearer"}`, want: []string{"no access_token"}},
		{name: "not bearer", status: 200, body: `{"access_token":"x","token_type":"mac"}`, want: []string{"not Bearer"}},
		{name: "redirect not followed", status: 307, body: "", want: []string{"307"}},
		{name: "not json", status: 200, body: `<html>` + testSecret, want: []string{"not a JSON"}, not: []string{testSecret}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				if tc.status == 307 {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			}))
			defer ts.Close()
			c, err := New(Options{Name: "billing", TokenURL: ts.URL, ClientID: "gw", SecretEnv: "S", Getenv: func(string) string { return testSecret }})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Token(context.Background(), "")
			if err == nil {
				t.Fatal("got no error")
			}
			for _, s := range tc.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("got %q, want it to contain %q", err, s)
				}
			}
			for _, s := range tc.not {
				if strings.Contains(err.Error(), s) {
					t.Errorf("got %q, want it not to contain %q", err, s)
				}
			}
		})
	}
}

func TestFailureIsNotRefetchedByEveryRequest(t *testing.T) {
	f := newFixture(t, nil)
	f.ts.set(func(ts *tokenServer) { ts.status, ts.body = 503, "" })
	for range 10 {
		if _, err := f.c.Token(context.Background(), ""); err == nil {
			t.Fatal("got no error")
		}
	}
	if n := f.ts.n.Load(); n != 1 {
		t.Errorf("got %d fetches within %v of a failure, want 1", n, retryAfterFailure)
	}
}

func TestSecretSources(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "secret")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := Options{Name: "b", TokenURL: "https://idp.example.com/token", ClientID: "gw"}
	for _, tc := range []struct {
		name    string
		edit    func(*Options)
		secret  string
		wantErr string
	}{
		{"file, newline trimmed", func(o *Options) { o.SecretFile = file }, "from-file", ""},
		{"env", func(o *Options) { o.SecretEnv = "X"; o.Getenv = func(string) string { return "from-env" } }, "from-env", ""},
		{"missing file", func(o *Options) { o.SecretFile = filepath.Join(dir, "nope") }, "", "client_credentials.client_secret_file: client secret unavailable: open " + filepath.Join(dir, "nope")},
		{"empty file", func(o *Options) { o.SecretFile = empty }, "", "client_credentials.client_secret_file: client secret unavailable: " + empty + " is empty"},
		{"unset env", func(o *Options) { o.SecretEnv = "X"; o.Getenv = func(string) string { return "" } }, "", "client_credentials.client_secret_env: client secret unavailable: environment variable X is unset or empty"},
		{"both", func(o *Options) { o.SecretEnv = "X"; o.SecretFile = file }, "", "client_credentials: set exactly one of client_secret_file or client_secret_env"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			tc.edit(&o)
			c, err := New(o)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want %q", err, tc.wantErr)
				}
				if secretErr := !strings.Contains(tc.wantErr, "exactly one"); errors.Is(err, ErrSecretUnavailable) != secretErr {
					t.Errorf("errors.Is(%v, ErrSecretUnavailable) = %v, want %v", err, !secretErr, secretErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.secret != tc.secret {
				t.Errorf("got secret %q, want %q", c.secret, tc.secret)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	o := Options{TokenURL: "idp/token", SecretEnv: "bad name", AuthMethod: "private_key_jwt",
		Scopes: []string{"ok", "two words"}, Resource: []string{"urn:x", "/relative"}, RefreshBefore: -time.Second}
	err := o.Validate()
	for _, want := range []string{
		"client_credentials.token_url: must be an absolute URL",
		"client_credentials.client_id: must not be empty",
		"client_credentials.client_secret_env: must be an environment variable name",
		"client_credentials.auth_method: must be client_secret_basic or client_secret_post",
		"client_credentials.scopes[1]: must be a scope token",
		"client_credentials.resource[1]: must be an absolute URI without a fragment",
		"client_credentials.refresh_before: must not be negative",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want it to contain %q", err, want)
		}
	}
}

package credentials

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// clientJWT is a compact JWS whose payload has exp and a marker; its
// signature is not checked by TokenExchange (the proxy verified it).
func clientJWT(exp time.Time, marker string) string {
	enc := base64.RawURLEncoding.EncodeToString
	payload := fmt.Sprintf(`{"sub":%q,"exp":%d}`, marker, exp.Unix())
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(payload)) + ".c2ln"
}

type exFixture struct {
	ts      *tokenServer
	x       *TokenExchange
	clock   *clock
	logs    *bytes.Buffer
	fetched struct {
		sync.Mutex
		ok, bad int
	}
}

func newExchange(t *testing.T, edit func(*ExchangeOptions)) *exFixture {
	t.Helper()
	f := &exFixture{ts: newTokenServer(t), clock: &clock{t: time.Unix(1_700_000_000, 0)}, logs: &bytes.Buffer{}}
	o := ExchangeOptions{Options: Options{
		Name: "drive", TokenURL: f.ts.URL + "/token", ClientID: "gw", SecretEnv: "SECRET",
		Audience: "https://drive.example.com", Resource: []string{"https://a.example/", "https://b.example/"},
		Scopes: []string{"files:read", "files:write"},
		Getenv: func(string) string { return testSecret }, Now: f.clock.Now,
		Logger: slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Fetched: func(ok bool) {
			f.fetched.Lock()
			defer f.fetched.Unlock()
			if ok {
				f.fetched.ok++
			} else {
				f.fetched.bad++
			}
		},
	}}
	if edit != nil {
		edit(&o)
	}
	x, err := NewTokenExchange(o)
	if err != nil {
		t.Fatal(err)
	}
	f.x = x
	return f
}

func TestExchangeForm(t *testing.T) {
	for _, tc := range []struct {
		name   string
		method string
	}{
		{"basic", AuthBasic},
		{"post", AuthPost},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newExchange(t, func(o *ExchangeOptions) { o.AuthMethod = tc.method })
			ct := clientJWT(f.clock.Now().Add(time.Hour), "alice")
			tok, err := f.x.Token(context.Background(), ct)
			if err != nil || tok != "tok-1" {
				t.Fatalf("got %q, %v; want tok-1", tok, err)
			}
			f.ts.mu.Lock()
			form, req := f.ts.lastForm, f.ts.last
			f.ts.mu.Unlock()
			want := map[string][]string{
				"grant_type":         {"urn:ietf:params:oauth:grant-type:token-exchange"},
				"subject_token":      {ct},
				"subject_token_type": {"urn:ietf:params:oauth:token-type:access_token"},
				"audience":           {"https://drive.example.com"},
				"resource":           {"https://a.example/", "https://b.example/"},
				"scope":              {"files:read files:write"},
			}
			if tc.method == AuthPost {
				want["client_id"] = []string{"gw"}
				want["client_secret"] = []string{testSecret}
			}
			if len(form) != len(want) {
				t.Errorf("got form keys %v, want %d keys", form, len(want))
			}
			for k, v := range want {
				if got := strings.Join(form[k], "|"); got != strings.Join(v, "|") {
					t.Errorf("%s: got %q, want %q", k, got, strings.Join(v, "|"))
				}
			}
			id, secret, ok := req.BasicAuth()
			if tc.method == AuthBasic && (!ok || id != "gw" || secret != "s3cr%3Aet%2B%26%2Fvalue") {
				t.Errorf("got basic auth %q %q %v, want gw and the form-encoded secret", id, secret, ok)
			}
			if tc.method == AuthPost && ok {
				t.Error("client_secret_post sent Basic credentials")
			}
		})
	}
}

func TestExchangeAnonymous(t *testing.T) {
	f := newExchange(t, nil)
	tok, err := f.x.Token(context.Background(), "")
	if tok != "" || err != nil {
		t.Fatalf("got %q, %v; want \"\", nil", tok, err)
	}
	if n := f.ts.n.Load(); n != 0 {
		t.Errorf("got %d exchanges, want 0", n)
	}
}

func TestExchangeCachedPerClientToken(t *testing.T) {
	f := newExchange(t, nil)
	ctx := context.Background()
	a := clientJWT(f.clock.Now().Add(time.Hour), "alice")
	b := clientJWT(f.clock.Now().Add(time.Hour), "bob")
	for i, tc := range []struct {
		client, want string
		n            int32
	}{
		{a, "tok-1", 1},
		{a, "tok-1", 1}, // cached
		{b, "tok-2", 2}, // another client token: a new exchange
		{b, "tok-2", 2},
		{a, "tok-1", 2},
	} {
		tok, err := f.x.Token(ctx, tc.client)
		if err != nil || tok != tc.want {
			t.Fatalf("%d: got %q, %v; want %q", i, tok, err, tc.want)
		}
		if n := f.ts.n.Load(); n != tc.n {
			t.Fatalf("%d: got %d exchanges, want %d", i, n, tc.n)
		}
	}
	// An upstream 401 drops the entry: the next Token exchanges anew. An
	// older token does not drop the newer one.
	f.x.Invalidate(a, "tok-old")
	if tok, _ := f.x.Token(ctx, a); tok != "tok-1" {
		t.Fatalf("got %q after invalidating another token, want tok-1", tok)
	}
	f.x.Invalidate(a, "tok-1")
	if tok, _ := f.x.Token(ctx, a); tok != "tok-3" {
		t.Fatalf("got %q after Invalidate, want tok-3", tok)
	}
	if f.fetched.ok != 3 || f.fetched.bad != 0 {
		t.Errorf("got %d/%d fetches counted, want 3/0", f.fetched.ok, f.fetched.bad)
	}
}

func TestExchangeCoalesced(t *testing.T) {
	f := newExchange(t, nil)
	f.ts.set(func(ts *tokenServer) { ts.delay = 100 * time.Millisecond })
	ct := clientJWT(f.clock.Now().Add(time.Hour), "alice")
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if tok, err := f.x.Token(context.Background(), ct); err != nil || tok != "tok-1" {
				errs <- fmt.Errorf("got %q, %v; want tok-1", tok, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := f.ts.n.Load(); n != 1 {
		t.Errorf("got %d exchanges, want 1", n)
	}
}

func TestExchangeExpiry(t *testing.T) {
	for _, tc := range []struct {
		name      string
		expiresIn int // 0: omitted
		clientExp time.Duration
		valid     time.Duration // the entry is used before this, not at it
	}{
		{"expires_in first", 60, time.Hour, 60 * time.Second},
		{"client exp first", 3600, 90 * time.Second, 90 * time.Second},
		{"default lifetime", 0, time.Hour, DefaultLifetime},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newExchange(t, nil)
			f.ts.set(func(ts *tokenServer) { ts.expiresIn, ts.omitExpiry = tc.expiresIn, tc.expiresIn == 0 })
			ct := clientJWT(f.clock.Now().Add(tc.clientExp), "alice")
			ctx := context.Background()
			if _, err := f.x.Token(ctx, ct); err != nil {
				t.Fatal(err)
			}
			f.clock.Add(tc.valid - time.Second)
			if tok, _ := f.x.Token(ctx, ct); tok != "tok-1" {
				t.Fatalf("got %q a second before expiry, want the cached tok-1", tok)
			}
			f.clock.Add(time.Second)
			if tok, _ := f.x.Token(ctx, ct); tok != "tok-2" {
				t.Fatalf("got %q at expiry, want a new exchange (tok-2)", tok)
			}
		})
	}
}

func TestExchangeCacheBound(t *testing.T) {
	f := newExchange(t, func(o *ExchangeOptions) { o.CacheSize = 16 })
	ctx := context.Background()
	exp := f.clock.Now().Add(time.Hour)
	for i := range 500 {
		if _, err := f.x.Token(ctx, clientJWT(exp, fmt.Sprint("user-", i))); err != nil {
			t.Fatal(err)
		}
		if n := f.x.Len(); n > 16 {
			t.Fatalf("after %d client tokens: %d entries, want at most 16", i+1, n)
		}
	}
	// The most recent are kept; the oldest were evicted.
	before := f.ts.n.Load()
	if _, err := f.x.Token(ctx, clientJWT(exp, "user-499")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.x.Token(ctx, clientJWT(exp, "user-0")); err != nil {
		t.Fatal(err)
	}
	if got := f.ts.n.Load() - before; got != 1 {
		t.Errorf("got %d exchanges for the newest and oldest, want 1 (the oldest)", got)
	}
}

func TestExchangeRefusals(t *testing.T) {
	for _, tc := range []struct {
		status  int
		code    string
		refused bool
	}{
		{400, "invalid_grant", true},
		{400, "invalid_target", true},
		{400, "invalid_scope", true},
		{400, "invalid_request", false},
		{401, "invalid_client", false},
		{400, "unauthorized_client", false},
		{500, "", false},
		{400, "invalid_grant echo", true}, // the description quotes the subject token
	} {
		t.Run(fmt.Sprint(tc.status, tc.code), func(t *testing.T) {
			f := newExchange(t, nil)
			body := "oops " + testSecret
			ct := clientJWT(f.clock.Now().Add(time.Hour), "alice")
			switch {
			case strings.HasSuffix(tc.code, " echo"):
				tc.code = strings.TrimSuffix(tc.code, " echo")
				body = fmt.Sprintf(`{"error":%q,"error_description":"bad token %s"}`, tc.code, ct)
			case tc.code != "":
				body = fmt.Sprintf(`{"error":%q,"error_description":"no %s"}`, tc.code, testSecret)
			}
			f.ts.set(func(ts *tokenServer) { ts.status, ts.body = tc.status, body })
			tok, err := f.x.Token(context.Background(), ct)
			if err == nil || tok != "" {
				t.Fatalf("got %q, %v; want an error", tok, err)
			}
			var r interface{ Refused() bool }
			isRefused := errors.As(err, &r) && r.Refused()
			if isRefused != tc.refused || errors.Is(err, ErrRefused) != tc.refused || errors.Is(err, ErrUnavailable) == tc.refused {
				t.Errorf("got refused %v (%v), want %v", isRefused, err, tc.refused)
			}
			if !strings.Contains(err.Error(), `"drive"`) {
				t.Errorf("got %q, want the credential named", err)
			}
			if strings.Contains(err.Error(), testSecret) || strings.Contains(err.Error(), ct) {
				t.Errorf("error holds the secret or the client token: %v", err)
			}
			if f.x.Len() != 0 {
				t.Error("a refusal was cached")
			}
			if f.fetched.bad != 1 {
				t.Errorf("got %d failed fetches counted, want 1", f.fetched.bad)
			}
		})
	}
}

func TestExchangeOptionsValidate(t *testing.T) {
	err := ExchangeOptions{CacheSize: -1}.Validate()
	for _, want := range []string{"token_exchange.token_url", "token_exchange.client_id", "token_exchange.cache_size"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want an error naming %s", err, want)
		}
	}
	_, err = NewTokenExchange(ExchangeOptions{Options: Options{Name: "d", TokenURL: "https://idp/t", ClientID: "c", SecretEnv: "E",
		Getenv: func(string) string { return "" }}})
	if !errors.Is(err, ErrSecretUnavailable) || !strings.Contains(err.Error(), "token_exchange.client_secret_env") {
		t.Errorf("got %v, want ErrSecretUnavailable at token_exchange.client_secret_env", err)
	}
}

func TestTokenExp(t *testing.T) {
	exp := time.Unix(1_700_000_000, 0)
	for _, tc := range []struct {
		tok string
		ok  bool
	}{
		{clientJWT(exp, "a"), true},
		{"a.b", false},
		{"a.!!.c", false},
		{"a." + base64.RawURLEncoding.EncodeToString([]byte(`{"exp":"x"}`)) + ".c", false},
		{"a." + base64.RawURLEncoding.EncodeToString([]byte(`{}`)) + ".c", false},
	} {
		got, ok := tokenExp(tc.tok)
		if ok != tc.ok || ok && !got.Equal(exp) {
			t.Errorf("tokenExp(%q): got %v %v, want ok %v", tc.tok, got, ok, tc.ok)
		}
	}
}

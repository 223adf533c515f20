package credentials

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxDescription bounds the error_description an error carries.
const maxDescription = 200

// endpoint is a token endpoint with the gateway's client authentication:
// the code both grants share (the form post, client authentication,
// response parsing and secret handling).
type endpoint struct {
	o      Options
	path   string // configuration path of the credential's grant block
	secret string
	digest [sha256.Size]byte
	client *http.Client
}

// newEndpoint validates nothing: it fills o's defaults and reads the
// secret; path names the grant block in errors (client_credentials).
func newEndpoint(o Options, path string) (*endpoint, error) {
	o = o.withDefaults()
	secret, err := o.readSecret(path)
	if err != nil {
		return nil, err
	}
	return &endpoint{
		o:      o,
		path:   path,
		secret: secret,
		digest: sha256.Sum256([]byte(secret)),
		client: &http.Client{
			Timeout: o.Timeout, Transport: o.Transport,
			// A redirect is answered as it is (an error naming its status):
			// following a 307 or 308 would post client_secret to wherever
			// it points.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}, nil
}

// Name is the configured credential name.
func (c *endpoint) Name() string { return c.o.Name }

// SecretDigest is the SHA-256 of the secret New read: a reload compares it
// to decide whether a source whose settings are unchanged must be rebuilt
// because its secret changed. It reveals nothing usable about the secret.
func (c *endpoint) SecretDigest() [sha256.Size]byte { return c.digest }

// request posts form (its grant_type and grant parameters) with the
// configured scope, audience and resource parameters and the client
// authentication, and returns the access token and its lifetime. Its
// errors never hold the secret, the token URL's query nor the response
// body; a refusal is an *OAuthError.
func (c *endpoint) request(ctx context.Context, form url.Values) (string, time.Duration, error) {
	if len(c.o.Scopes) > 0 {
		form.Set("scope", strings.Join(c.o.Scopes, " "))
	}
	if c.o.Audience != "" {
		form.Set("audience", c.o.Audience)
	}
	for _, r := range c.o.Resource {
		form.Add("resource", r) // RFC 8707 §2: once per resource
	}
	if c.o.AuthMethod == AuthPost {
		form.Set("client_id", c.o.ClientID)
		form.Set("client_secret", c.secret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.o.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, errors.New("cannot make the token request")
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if c.o.AuthMethod == AuthBasic {
		// RFC 6749 §2.3.1: both form-urlencoded before Basic encoding,
		// which SetBasicAuth does not do.
		cred := url.QueryEscape(c.o.ClientID) + ":" + url.QueryEscape(c.secret)
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(cred)))
	}
	resp, err := c.client.Do(req)
	if err != nil {
		// *url.Error quotes the URL, whose query the operator may have
		// put a key in; keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", 0, fmt.Errorf("token endpoint unreachable: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return "", 0, fmt.Errorf("reading the token response: %w", err)
	}
	if len(body) > maxBody {
		return "", 0, fmt.Errorf("token response larger than %d bytes", maxBody)
	}
	return c.parseResponse(resp.StatusCode, resp.Header.Get("Content-Type"), body)
}

// parseResponse reads a token endpoint's answer: a successful response
// (RFC 6749 §5.1) gives the access token and its lifetime, anything else
// an error (see oauthError).
func (c *endpoint) parseResponse(status int, contentType string, body []byte) (string, time.Duration, error) {
	if status != http.StatusOK {
		return "", 0, c.oauthError(status, body)
	}
	if mt, _, _ := mime.ParseMediaType(contentType); mt != "" && mt != "application/json" {
		return "", 0, fmt.Errorf("token response is %s, not application/json", printable(mt, 64))
	}
	var tr struct {
		AccessToken string      `json:"access_token"`
		TokenType   string      `json:"token_type"`
		ExpiresIn   json.Number `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &tr); err != nil {
		// The decoder's message may quote the body; say only what failed.
		return "", 0, errors.New("token response is not a JSON token response (RFC 6749 §5.1)")
	}
	if tr.AccessToken == "" {
		return "", 0, errors.New("token response has no access_token")
	}
	if tr.TokenType != "" && !strings.EqualFold(tr.TokenType, "Bearer") {
		return "", 0, fmt.Errorf("token_type is %q, not Bearer", printable(tr.TokenType, 32))
	}
	return tr.AccessToken, lifetime(tr.ExpiresIn), nil
}

// lifetime reads expires_in: absent or unreadable, DefaultLifetime; below
// MinLifetime, MinLifetime.
func lifetime(n json.Number) time.Duration {
	if n == "" {
		return DefaultLifetime
	}
	f, err := n.Float64()
	if err != nil || f < 0 {
		return DefaultLifetime
	}
	d := time.Duration(f * float64(time.Second))
	if f > float64(100*365*24*3600) {
		d = 100 * 365 * 24 * time.Hour
	}
	return max(d, MinLifetime)
}

// oauthError describes a refusal (RFC 6749 §5.2) by its error code and at
// most maxDescription bytes of error_description, unless that echoes the
// secret; any other answer by its status alone, since a body could echo
// the request.
func (c *endpoint) oauthError(status int, body []byte) error {
	var er struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(body, &er) != nil || er.Error == "" || !isErrorCode(er.Error) || len(er.Error) > 64 ||
		strings.Contains(er.Error, c.secret) {
		return fmt.Errorf("token endpoint answered %d", status)
	}
	oe := &OAuthError{Status: status, Code: er.Error}
	if d := printable(er.Description, maxDescription); d != "" && !strings.Contains(er.Description, c.secret) {
		oe.Description = d
	}
	return oe
}

// OAuthError is a token endpoint's refusal (RFC 6749 §5.2): its status,
// error code and at most maxDescription printable bytes of its
// error_description (empty when it would echo the secret).
type OAuthError struct {
	Status      int
	Code        string
	Description string
}

func (e *OAuthError) Error() string {
	msg := fmt.Sprintf("token endpoint refused the request (%d): %s", e.Status, e.Code)
	if e.Description != "" {
		msg += ": " + e.Description
	}
	return msg
}

// isErrorCode reports whether s has the syntax of an RFC 6749 §5.2 error
// code: %x20-21 / %x23-5B / %x5D-7E.
func isErrorCode(s string) bool {
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case b == 0x20, b == 0x21, b >= 0x23 && b <= 0x5b, b >= 0x5d && b <= 0x7e:
		default:
			return false
		}
	}
	return true
}

// printable cuts s to at most n bytes and replaces what is not printable
// ASCII with '?', so that a log line or error cannot be forged with it.
func printable(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}

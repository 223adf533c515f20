package jwks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxBody bounds discovery documents and key sets. Real key sets are a few
// KiB; a larger body is refused rather than truncated into a wrong set.
const maxBody = 1 << 20

// discoveryPath is appended to the issuer (OpenID Connect Discovery 1.0 §4).
const discoveryPath = "/.well-known/openid-configuration"

const userAgent = "authgate-jwks"

// fetched is the outcome of one successful key set exchange.
type fetched struct {
	keys        []Key // nil when notModified
	notModified bool
	etag        string
	header      http.Header
}

// discover reads jwks_uri from the issuer's discovery document.
func (c *Cache) discover(ctx context.Context) (*url.URL, error) {
	resp, body, err := c.get(ctx, c.discoveryURL, "application/json", "")
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("discovery: GET %s: unexpected status %d", redact(c.discoveryURL), resp.StatusCode)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("discovery: GET %s: decode: %w", redact(c.discoveryURL), err)
	}
	// OpenID Connect Discovery 1.0 §4.3 and RFC 8414 §3.3: the document's
	// issuer must be identical to the one it was fetched for, or it must not
	// be used. Otherwise whoever answers the discovery request (a wrong
	// issuer setting, a shared host, a proxy) picks the keys, and the
	// token's iss check no longer ties the keys to the issuer. Compared byte
	// for byte: no case folding, no trailing-slash trimming.
	if doc.Issuer != c.o.Issuer {
		return nil, fmt.Errorf("discovery: GET %s: %w", redact(c.discoveryURL),
			&issuerMismatchError{configured: c.o.Issuer, document: doc.Issuer})
	}
	if doc.JWKSURI == "" {
		return nil, fmt.Errorf("discovery: GET %s: no jwks_uri", redact(c.discoveryURL))
	}
	u, err := parseHTTPURL(doc.JWKSURI)
	if err != nil {
		return nil, fmt.Errorf("discovery: GET %s: jwks_uri %s: %w", redact(c.discoveryURL), redactString(doc.JWKSURI), err)
	}
	// An https issuer handing out an http key set URL would let anyone on the
	// path substitute keys.
	if c.discoveryURL.Scheme == "https" && u.Scheme != "https" {
		return nil, fmt.Errorf("discovery: GET %s: jwks_uri %s is not https", redact(c.discoveryURL), redact(u))
	}
	return u, nil
}

// maxIssuerInError bounds how much of a discovery document's issuer an
// error quotes: the document is the issuer's to write, up to maxBody bytes.
const maxIssuerInError = 256

// issuerMismatchError is a discovery document that names an issuer other
// than the configured one. The fetch fails and jwks_uri is not used. Both
// values are public identifiers, so the error names them.
type issuerMismatchError struct {
	configured, document string
}

func (e *issuerMismatchError) Error() string {
	doc := e.document
	if len(doc) > maxIssuerInError {
		doc = doc[:maxIssuerInError] + "..."
	}
	return fmt.Sprintf("the document names issuer %q, not the configured %q", doc, e.configured)
}

// fetchKeys GETs the key set at u, conditionally when etag is not empty.
func (c *Cache) fetchKeys(ctx context.Context, u *url.URL, etag string) (fetched, error) {
	resp, body, err := c.get(ctx, u, "application/jwk-set+json, application/json", etag)
	if err != nil {
		return fetched{}, err
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotModified:
		if etag == "" {
			return fetched{}, fmt.Errorf("GET %s: 304 Not Modified to an unconditional request", redact(u))
		}
		return fetched{notModified: true, etag: etag, header: resp.Header}, nil
	default:
		return fetched{}, fmt.Errorf("GET %s: unexpected status %d", redact(u), resp.StatusCode)
	}
	keys, err := parseKeySet(body, c.o.Logger)
	if err != nil {
		return fetched{}, fmt.Errorf("GET %s: %w", redact(u), err)
	}
	return fetched{keys: keys, etag: resp.Header.Get("ETag"), header: resp.Header}, nil
}

// get performs one GET bounded by Options.Timeout and returns the response
// with its body read (at most maxBody bytes) and closed. Errors name the URL
// without user info or query.
func (c *Cache) get(ctx context.Context, u *url.URL, accept, etag string) (*http.Response, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: %w", redact(u), err)
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", userAgent)
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := c.o.Client.Do(req)
	if err != nil {
		// url.Error repeats the full URL, query included; keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, nil, fmt.Errorf("GET %s: %w", redact(u), err)
	}
	defer resp.Body.Close()
	// The client follows redirects; one that leaves https would let anyone
	// on the plain leg substitute the document (or redirect on to a host of
	// their choosing), as an http jwks_uri from an https issuer would.
	if u.Scheme == "https" {
		if hop := plainHop(resp); hop != nil {
			return nil, nil, fmt.Errorf("GET %s: redirected to %s, not https", redact(u), redact(hop))
		}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: read body: %w", redact(u), err)
	}
	if len(body) > maxBody {
		return nil, nil, fmt.Errorf("GET %s: response body exceeds %d bytes", redact(u), maxBody)
	}
	return resp, body, nil
}

// plainHop returns the first URL in resp's redirect chain that is not
// https, or nil. Each redirected request records the response that caused
// it, back to the first request.
func plainHop(resp *http.Response) *url.URL {
	var first *url.URL
	for req := resp.Request; req != nil; {
		if req.URL.Scheme != "https" {
			first = req.URL
		}
		if req.Response == nil {
			break
		}
		req = req.Response.Request
	}
	return first
}

// refreshAfter is how long a response may be used before the next refresh:
// its Cache-Control max-age (RFC 9111 §5.2.2.1) clamped to [lo, hi], or hi
// when it has none. no-cache and no-store count as max-age=0.
func refreshAfter(h http.Header, lo, hi time.Duration) time.Duration {
	d, ok := maxAge(h)
	if !ok {
		return hi
	}
	return min(max(d, lo), hi)
}

// maxAge parses the Cache-Control header; ok is false when it gives no
// freshness lifetime.
func maxAge(h http.Header) (d time.Duration, ok bool) {
	for _, v := range h.Values("Cache-Control") {
		for _, dir := range strings.Split(v, ",") {
			name, val, hasVal := strings.Cut(strings.TrimSpace(dir), "=")
			name = strings.ToLower(strings.TrimSpace(name))
			switch {
			case name == "no-store" || name == "no-cache":
				return 0, true
			case name == "max-age" && hasVal:
				n, err := strconv.ParseInt(strings.Trim(strings.TrimSpace(val), `"`), 10, 64)
				if err != nil || n < 0 {
					continue
				}
				// Cap before converting so huge values cannot overflow.
				const capSeconds = 1 << 31
				d, ok = time.Duration(min(n, capSeconds))*time.Second, true
			}
		}
	}
	return d, ok
}

package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/authgate/authgate/internal/config"
	"github.com/authgate/authgate/internal/reason"
	"github.com/authgate/authgate/internal/verify"
	"github.com/authgate/authgate/jwks"
	"github.com/authgate/authgate/proxy"
)

// ExplainQuery says what Runtime.Explain explains: a token on a route named
// directly, or on the route a request would take.
type ExplainQuery struct {
	// Route names the route. When empty, Method and URL select it.
	Route string
	// Method and URL describe a request ("GET",
	// "https://api.example.com/api/orders"); the route is the one the
	// gateway would pick by host, method and decoded path.
	Method, URL string
	// Token is the bearer token without the "Bearer " scheme; "" explains a
	// request that carries none.
	Token string
}

// Report is Runtime.Explain's answer. It never holds the token or its
// signature; Header and Claims are the token's decoded JSON.
type Report struct {
	// Request is the request explained (without query or fragment), nil
	// when the route was named.
	Request *ExplainRequest `json:"request,omitempty"`
	// Route describes the selected route; nil when none was selected.
	Route *RouteReport `json:"route,omitempty"`
	// Keys reports, per issuer of the route, the key set explain fetched.
	Keys []KeyStatus `json:"keys,omitempty"`
	// Header and Claims are the token's decoded JOSE header and payload;
	// unverified unless the verdict allows the request.
	Header json.RawMessage `json:"header,omitempty"`
	Claims json.RawMessage `json:"claims,omitempty"`
	// Steps are docs/reference.md §3.3's steps in order.
	Steps []Step `json:"steps"`
	// Forwarded are the identity headers the upstream would receive.
	Forwarded []proxy.ForwardedHeader `json:"forwarded_headers,omitempty"`
	// Verdict is what the gateway would answer.
	Verdict Verdict `json:"verdict"`
}

// ExplainRequest is the request of an ExplainQuery, safe to print.
type ExplainRequest struct {
	Method string `json:"method"`
	// URL is the request URL without user info, query or fragment, which
	// may hold secrets.
	URL string `json:"url"`
}

// RouteReport describes a route as configured and compiled.
type RouteReport struct {
	Name     string `json:"name"`
	Mode     string `json:"mode"`
	Match    string `json:"match"`
	Upstream string `json:"upstream"`
	// Issuers are the route's issuers with their effective settings.
	Issuers []IssuerReport `json:"issuers,omitempty"`
	// Audiences are the route's audiences that replace the issuers' own;
	// empty when those apply.
	Audiences []string `json:"audiences,omitempty"`
	Scopes    []string `json:"scopes,omitempty"`
	AnyScopes []string `json:"any_scopes,omitempty"`
	// Policy lists the route's requirements (docs/reference.md §3.4) in the order
	// they are checked.
	Policy []string `json:"policy,omitempty"`
}

// IssuerReport is one issuer of a route, as the route's verifier sees it.
type IssuerReport struct {
	Name           string   `json:"name"`
	Issuer         string   `json:"issuer"`
	Audiences      []string `json:"audiences"`
	Algorithms     []string `json:"algorithms"`
	ClockSkew      string   `json:"clock_skew"`
	RequiredClaims []string `json:"required_claims"`
	TokenTypes     []string `json:"token_types,omitempty"`
	ScopeClaims    []string `json:"scope_claims"`
}

// KeyStatus is an issuer's key set as explain found it.
type KeyStatus struct {
	Issuer string `json:"issuer"`
	// URL is the JWKS URL (redacted), "" when discovery failed.
	URL   string `json:"url,omitempty"`
	Ready bool   `json:"ready"`
	Keys  int    `json:"keys"`
	// Error is the last fetch's failure, "" after a success.
	Error string `json:"error,omitempty"`
}

// Step is one check, in docs/reference.md §3.3's order: the handler's decision
// records stage 1 (token), verification 2–6, the route's Authenticator 7
// (policy).
type Step = verify.Step

// Verdict is the gateway's answer to the request.
type Verdict struct {
	// Allowed reports whether the request would be forwarded.
	Allowed bool `json:"allowed"`
	// Status is the HTTP status: 200 standing for whatever the upstream
	// answers when Allowed.
	Status int `json:"status"`
	// Reason is the access log's reason (ok, anonymous, public, or the
	// deny reason); "" for 400 path and 404 refusals.
	Reason reason.Reason `json:"reason,omitempty"`
	// Upstream is where an allowed request goes.
	Upstream string `json:"upstream,omitempty"`
	// Refusal is the gateway's own response when not Allowed.
	Refusal *proxy.Refusal `json:"refusal,omitempty"`
	// DecidedBy names the step that decided a refusal: a Step name,
	// "route" or "forward".
	DecidedBy string `json:"decided_by,omitempty"`
	// Note adds what the response does not say, e.g. why keys are
	// unavailable.
	Note string `json:"note,omitempty"`
	// Fix is one line saying what would make the request pass (who must
	// act, and how), for every deny reason; "" when allowed or refused
	// before authentication (400, 404, 405).
	Fix string `json:"fix,omitempty"`
}

// Explain says step by step what the gateway would do with q. It builds the
// request q describes (its method, URL and Authorization header) and asks
// this runtime's handler for its decision, with a trace: the one Decide that
// serving runs, so the verdict is exactly the gateway's. When the decision
// reaches verification it first fetches the route's issuers' key sets once,
// through their jwks.Cache, as the gateway's background refresh would. The
// error is for a query that cannot be explained (an unknown route name, an
// unparsable URL), never for a refusal.
func (rt *Runtime) Explain(ctx context.Context, q ExplainQuery) (*Report, error) {
	rep := &Report{Steps: []Step{}}
	// On a named route no routing happens: the request is a GET of its
	// own, of which only the Authorization header is read.
	r := &http.Request{Method: http.MethodGet, URL: &url.URL{}, Header: http.Header{}}
	if q.Route == "" {
		req, host, u, err := parseRequest(q.Method, q.URL)
		if err != nil {
			return nil, err
		}
		rep.Request = req
		r.Method, r.Host, r.URL = req.Method, host, u
	}
	if q.Token != "" {
		r.Header.Set("Authorization", "Bearer "+q.Token)
	}
	r = r.WithContext(ctx)
	t := &verify.Trace{Prepare: func(ctx context.Context, v *verify.Verifier) { rep.Keys = rt.fetchKeys(ctx, v) }}

	var d proxy.Decision
	if q.Route == "" {
		d = rt.Handler.Decide(r, t)
	} else {
		var ok bool
		if d, ok = rt.Handler.DecideOn(q.Route, r, t); !ok {
			return nil, fmt.Errorf("no route named %q; the routes are: %s", q.Route, strings.Join(rt.routeNames(), ", "))
		}
	}

	rep.Steps = append(rep.Steps, t.Steps...)
	rep.Header, rep.Claims = t.Header, t.Payload
	if d.Route != nil {
		rep.Route = rt.describeRoute(d.Route)
	}
	rep.Forwarded = d.Headers
	rep.Verdict = rt.verdict(d, t, rep.Keys)
	if !rep.Verdict.Allowed {
		c := fixContext{rt: rt, d: d, t: t}
		if q.Token != "" {
			c.parts = strings.Count(q.Token, ".") + 1
		}
		for _, s := range t.Steps {
			if !s.OK {
				c.step = s
				break
			}
		}
		rep.Verdict.Fix = fix(c)
	}
	return rep, nil
}

// verdict turns the decision into the report's verdict: what the client
// gets, and which step decided a refusal.
func (rt *Runtime) verdict(d proxy.Decision, t *verify.Trace, keys []KeyStatus) Verdict {
	ref := d.Refusal
	if ref == nil {
		return Verdict{Allowed: true, Status: http.StatusOK, Reason: d.Reason, Upstream: d.Route.Upstream.Redacted()}
	}
	v := Verdict{Status: ref.Status, Reason: ref.Reason, Refusal: ref}
	for _, s := range t.Steps {
		if !s.OK {
			v.DecidedBy = s.Name
			break
		}
	}
	switch {
	case d.Route == nil:
		v.DecidedBy = "route" // 405, 400 or 404, before any step
	case v.DecidedBy == "" && d.Reason == reason.UnforwardableClaim:
		// Every step passed: the identity headers refused it, and the
		// refusal's cause names the claim and the header.
		v.DecidedBy = "forward"
		if cause := errors.Unwrap(ref); cause != nil {
			v.Note = cause.Error()
		}
	case d.Reason == reason.KeysUnavailable:
		v.Note = "keys unavailable: " + rt.keysError(keys, d.Issuer)
	}
	return v
}

// parseRequest splits "METHOD URL" input into what routing uses: the host
// and the URL with the decoded path (docs/reference.md §3.1), without user info,
// query or fragment.
func parseRequest(method, raw string) (*ExplainRequest, string, *url.URL, error) {
	if method == "" || strings.ContainsAny(method, " \t") {
		return nil, "", nil, fmt.Errorf("request method %q: want a method such as GET", method)
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes the input, which may hold a query string.
		return nil, "", nil, errors.New("request URL: not a valid URL")
	}
	if u.Scheme != "" && u.Scheme != "http" && u.Scheme != "https" {
		return nil, "", nil, fmt.Errorf("request URL: scheme %q: want http or https", u.Scheme)
	}
	path := u.Path
	if path == "" {
		path = "/"
	}
	safe := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	return &ExplainRequest{Method: method, URL: safe.String()}, u.Host, &url.URL{Path: path, RawPath: u.RawPath}, nil
}

// fetchKeys fetches the key sets of v's issuers once, concurrently, each
// bounded by its jwks.timeout (twice: discovery, then the set), and reports
// them. Build starts no refresh loop, so this first fetch is never held back
// by min_refresh_interval.
func (rt *Runtime) fetchKeys(ctx context.Context, v *verify.Verifier) []KeyStatus {
	vis := v.Issuers()
	out := make([]KeyStatus, len(vis))
	var wg sync.WaitGroup
	for i, vi := range vis {
		is := rt.issuer(vi.Name())
		if is == nil {
			out[i] = KeyStatus{Issuer: vi.Name(), Error: "issuer not found in the runtime"}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			fctx, cancel := context.WithTimeout(ctx, 2*is.cfg.JWKS.Timeout+time.Second)
			defer cancel()
			_, _ = is.cache.RefreshForKID(fctx, "")
			out[i] = keyStatus(is.cfg.Name, is.cache)
		}()
	}
	wg.Wait()
	return out
}

func keyStatus(name string, c *jwks.Cache) KeyStatus {
	st := c.Status()
	return KeyStatus{Issuer: name, URL: st.URL, Ready: c.Ready(), Keys: st.Keys, Error: st.LastError}
}

// keysError says why issuer's keys are unavailable.
func (rt *Runtime) keysError(keys []KeyStatus, issuer string) string {
	for _, k := range keys {
		if k.Issuer == issuer && k.Error != "" {
			return k.Error
		}
	}
	if is := rt.issuer(issuer); is != nil {
		if _, err := is.cache.Keys(); err != nil {
			return err.Error()
		}
	}
	return "no usable key set"
}

func (rt *Runtime) issuer(name string) *issuer {
	for _, is := range rt.issuers {
		if is.cfg.Name == name {
			return is
		}
	}
	return nil
}

func (rt *Runtime) routeNames() []string {
	names := make([]string, 0, len(rt.Config.Routes))
	for _, rc := range rt.Config.Routes {
		names = append(names, rc.Name)
	}
	return names
}

func (rt *Runtime) routeConfig(name string) config.Route {
	for _, rc := range rt.Config.Routes {
		if rc.Name == name {
			return rc
		}
	}
	return config.Route{Name: name}
}

// describeRoute describes r as configured and compiled: its issuers and
// policy are those of the Authenticator it holds.
func (rt *Runtime) describeRoute(r *proxy.Route) *RouteReport {
	rc := rt.routeConfig(r.Name)
	rep := &RouteReport{
		Name:      r.Name,
		Mode:      r.Mode.String(),
		Match:     rc.Match.String(),
		Upstream:  r.Upstream.Redacted(),
		Scopes:    slices.Clone(rc.Auth.Scopes),
		AnyScopes: slices.Clone(rc.Auth.AnyScopes),
	}
	if a := rt.auth[r.Name]; a != nil {
		rep.Issuers, rep.Audiences = describeIssuers(a.Verifier())
		for _, res := range a.Policy().Explain(nil, nil) {
			rep.Policy = append(rep.Policy, res.Requirement)
		}
	}
	return rep
}

func describeIssuers(v *verify.Verifier) ([]IssuerReport, []string) {
	override := v.Audiences()
	var out []IssuerReport
	for _, is := range v.Issuers() {
		o := is.Options()
		auds := o.Audiences
		if override != nil {
			auds = override
		}
		out = append(out, IssuerReport{
			Name: o.Name, Issuer: o.Issuer, Audiences: auds, Algorithms: o.Algorithms,
			ClockSkew: o.ClockSkew.String(), RequiredClaims: o.RequiredClaims,
			TokenTypes: o.TokenTypes, ScopeClaims: o.ScopeClaims,
		})
	}
	return out, override
}

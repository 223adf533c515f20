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
	"github.com/authgate/authgate/policy"
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
	// Steps are CONTRACT §3.3's steps in order.
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
	// Policy lists the route's requirements (CONTRACT §3.4) in the order
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

// Step is one check, in CONTRACT §3.3's order: verification records
// stages 2–6, explain adds 1 (token) and 7 (policy).
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
}

// Explain says step by step what the gateway would do with q, using this
// runtime's own compiled routes, verifiers, policies and handler, so that
// its verdict is exactly the gateway's. For a route with a token it first
// fetches the route's issuers' key sets once, through their jwks.Cache, as
// the gateway's background refresh would. The error is for a query that
// cannot be explained (an unknown route name, an unparsable URL), never for
// a refusal.
func (rt *Runtime) Explain(ctx context.Context, q ExplainQuery) (*Report, error) {
	h := rt.Handler
	rep := &Report{Steps: []Step{}}
	name := q.Route
	if name == "" {
		req, host, path, err := parseRequest(q.Method, q.URL)
		if err != nil {
			return nil, err
		}
		rep.Request = req
		if name, err = h.Route(req.Method, host, path); err != nil {
			return refused(rep, err, "route")
		}
	}
	r, ok := h.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("no route named %q; the routes are: %s", name, strings.Join(rt.routeNames(), ", "))
	}
	rep.Route = describeRoute(r, rt.routeConfig(name))
	upstream := r.Upstream.Redacted()
	token := func(ok bool, detail string) {
		rep.Steps = append(rep.Steps, Step{Stage: 1, Name: "token", OK: ok, Detail: detail})
	}

	// §3.3 step 1 and §3.2, in ServeHTTP's order.
	if r.Mode == policy.None {
		token(true, "not examined: the route's auth mode is none")
		rep.Verdict = Verdict{Allowed: true, Status: http.StatusOK, Reason: reason.Public, Upstream: upstream}
		return rep, nil
	}
	a, ok := authOf(r.Auth)
	if !ok {
		return nil, fmt.Errorf("route %q: its authenticator (%T) cannot be explained", name, r.Auth)
	}
	rep.Route.Issuers, rep.Route.Audiences = describeIssuers(a.verifier)
	for _, res := range a.policy.Explain(nil, nil) {
		rep.Route.Policy = append(rep.Route.Policy, res.Requirement)
	}
	switch {
	case q.Token == "" && r.Mode == policy.Optional:
		token(true, "no token: the route's auth mode is optional, so the request is forwarded without identity")
		rep.Verdict = Verdict{Allowed: true, Status: http.StatusOK, Reason: reason.Anonymous, Upstream: upstream}
		return rep, nil
	case q.Token == "":
		token(false, "no token, and the route's auth mode is required")
		return rt.refuse(rep, name, reason.ErrMissing, "token", ""), nil
	}
	if _, err := h.Bearer("Bearer " + q.Token); err != nil {
		var ref *proxy.Refusal
		detail := err.Error()
		if errors.As(err, &ref) {
			detail = ref.Description
		}
		token(false, detail)
		return refused(rep, err, "token")
	}
	token(true, fmt.Sprintf("bearer token present (auth mode %s)", r.Mode))

	rep.Keys = rt.fetchKeys(ctx, a.verifier)
	id, err := rt.explainAuth(ctx, rep, a, q.Token)
	if err != nil {
		decided, note := "", ""
		for _, s := range rep.Steps {
			if !s.OK {
				decided = s.Name
				break
			}
		}
		if errors.Is(err, reason.ErrKeysUnavailable) {
			note = "keys unavailable: " + rt.keysError(rep.Keys, verify.IssuerOf(err))
		}
		return rt.refuse(rep, name, err, decided, note), nil
	}
	fwd, err := h.IdentityHeaders(name, id)
	if err != nil {
		return rt.refuse(rep, name, err, "forward", err.Error()), nil
	}
	rep.Forwarded = fwd
	rep.Verdict = Verdict{Allowed: true, Status: http.StatusOK, Reason: reason.OK, Upstream: upstream}
	return rep, nil
}

// explainAuth runs §3.3 steps 2–7 as authenticator.Authenticate does, with
// the route's own verifier and policy, and records each step in rep. It
// returns Authenticate's identity and error.
func (rt *Runtime) explainAuth(ctx context.Context, rep *Report, a authenticator, token string) (*verify.Identity, error) {
	id, tr, err := a.verifier.Explain(ctx, token)
	for _, s := range tr.Steps {
		rep.Steps = append(rep.Steps, Step(s))
	}
	rep.Header, rep.Claims = tr.Header, tr.Payload
	if tr.Issuer == "" {
		return id, err // no issuer: no scope claims to read, step 7 cannot be shown
	}
	// Step 7 runs on a verified identity only; after a failure it is shown
	// for information on the unverified claims.
	verified := err == nil
	scopes, claims := tr.Scopes, tr.Claims
	if verified {
		scopes, claims = id.Scopes, id.Claims
	}
	results := a.policy.Explain(scopes, claims)
	if len(results) == 0 {
		rep.Steps = append(rep.Steps, Step{Stage: 7, Name: "policy", OK: true, After: !verified,
			Detail: "the route has no requirements: any verified token passes"})
	}
	for _, res := range results {
		d := res.Requirement
		if !res.OK {
			d += ": " + res.Detail
		}
		rep.Steps = append(rep.Steps, Step{Stage: 7, Name: "policy", OK: res.OK, Detail: d, After: !verified})
	}
	if err != nil {
		return nil, err
	}
	// As authenticator.Authenticate: a policy refusal carries the issuer,
	// like a verification failure.
	if perr := a.policy.Check(id.Scopes, id.Claims); perr != nil {
		return id, &verify.Error{Issuer: id.Issuer, Err: perr}
	}
	return id, nil
}

// refuse sets the verdict to the response the handler gives on route name
// for err.
func (rt *Runtime) refuse(rep *Report, name string, err error, decidedBy, note string) *Report {
	ref := rt.Handler.Refuse(name, err)
	rep.Verdict = Verdict{Status: ref.Status, Reason: ref.Reason, Refusal: ref, DecidedBy: decidedBy, Note: note}
	return rep
}

// refused sets the verdict from a *proxy.Refusal the handler returned as an
// error; any other error is returned as is.
func refused(rep *Report, err error, decidedBy string) (*Report, error) {
	var ref *proxy.Refusal
	if !errors.As(err, &ref) {
		return nil, err
	}
	rep.Verdict = Verdict{Status: ref.Status, Reason: ref.Reason, Refusal: ref, DecidedBy: decidedBy}
	return rep, nil
}

// authOf returns the verifier and policy behind a route's Authenticator as
// Build made it.
func authOf(a proxy.Authenticator) (authenticator, bool) {
	switch a := a.(type) {
	case authenticator:
		return a, true
	case *authenticator:
		return *a, a != nil
	}
	return authenticator{}, false
}

// parseRequest splits "METHOD URL" input into what routing uses: the host
// and the decoded path (CONTRACT §3.1).
func parseRequest(method, raw string) (*ExplainRequest, string, string, error) {
	if method == "" || strings.ContainsAny(method, " \t") {
		return nil, "", "", fmt.Errorf("request method %q: want a method such as GET", method)
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes the input, which may hold a query string.
		return nil, "", "", errors.New("request URL: not a valid URL")
	}
	if u.Scheme != "" && u.Scheme != "http" && u.Scheme != "https" {
		return nil, "", "", fmt.Errorf("request URL: scheme %q: want http or https", u.Scheme)
	}
	path := u.Path
	if path == "" {
		path = "/"
	}
	safe := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	return &ExplainRequest{Method: method, URL: safe.String()}, u.Host, path, nil
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

func describeRoute(r proxy.Route, rc config.Route) *RouteReport {
	return &RouteReport{
		Name:      r.Name,
		Mode:      r.Mode.String(),
		Match:     rc.Match.String(),
		Upstream:  r.Upstream.Redacted(),
		Scopes:    slices.Clone(rc.Auth.Scopes),
		AnyScopes: slices.Clone(rc.Auth.AnyScopes),
	}
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

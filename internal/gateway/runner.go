package gateway

import (
	"context"

	"github.com/authgate/authgate/internal/credentials"
	"github.com/authgate/authgate/jwks"
)

// Runner is a background job that a runtime needs while it serves: today
// the refresh loop of an issuer's key cache (*jwks.Cache) and of an
// upstream credential's token source (*credentials.ClientCredentials). Run works until
// ctx ends and then returns nil; an error means it stopped early, and the
// gateway logs it. A Runner must be safe to use from requests while Run is
// active, and usable (if no longer refreshed) after Run has returned,
// because in-flight requests finish on the runtime they started on.
type Runner interface {
	Run(ctx context.Context) error
}

// job is one runner a runtime lists, with the key that decides its reuse.
// A reused job is the same *job in every runtime that lists it, so the
// gateway tells jobs apart by pointer without knowing the runner's type.
type job struct {
	// key is everything the runner is built from, as a comparable value
	// of a type of its own per kind of runner (keySource for key caches),
	// so that keys of different kinds never compare equal.
	key any
	// what names the job in the log line written if Run fails.
	what   string
	runner Runner
}

// reuse is the one rule by which anything survives a reload: a runner is
// reused, with whatever it holds (a key cache's keys), when the runtime
// being built (rt) or the one it replaces (prev, nil at start) already
// lists one under an equal key; otherwise build makes a new one, not yet
// running. Either way rt lists it. A reused runner keeps the Deps it was
// built with.
//
// The key must hold every setting the runner is built from, and nothing
// that can change without the runner having to change: what is left out
// of the key is kept from the first runtime that built the runner.
//
// Adding a kind of runner is calling reuse from Build with a new key type;
// Gateway.swap starts and stops every kind alike.
func reuse[K comparable, R Runner](rt, prev *Runtime, what string, key K, build func() (R, error)) (R, error) {
	for _, from := range []*Runtime{rt, prev} {
		if from == nil {
			continue
		}
		for _, j := range from.jobs {
			if j.key != any(key) {
				continue
			}
			if r, ok := j.runner.(R); ok {
				if from != rt {
					rt.jobs = append(rt.jobs, j)
				}
				return r, nil
			}
		}
	}
	r, err := build()
	if err != nil {
		return r, err
	}
	rt.jobs = append(rt.jobs, &job{key: key, what: what, runner: r})
	return r, nil
}

var (
	_ Runner = (*jwks.Cache)(nil)
	_ Runner = (*credentials.ClientCredentials)(nil)
	_ Runner = (*credentials.TokenExchange)(nil)
)

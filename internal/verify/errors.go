package verify

// Error is a verification failure attributed to a configured issuer. Verify
// returns one for every failure after the token's iss has selected an issuer
// (docs/reference.md §3.3 step 3), so the issuer metric label can be filled; earlier
// failures are bare reason errors. Err wraps exactly one reason sentinel.
type Error struct {
	// Issuer is the configured issuer name (a bounded label value).
	Issuer string
	// Err is the cause; reason.Of(Err) names the deny reason.
	Err error
}

// Error returns the issuer name and the cause's detail. It is meant for logs,
// not clients: use reason.Describe for client-facing text.
func (e *Error) Error() string { return "issuer " + e.Issuer + ": " + e.Err.Error() }

// Unwrap returns the cause, so errors.Is and reason.Of see its sentinel.
func (e *Error) Unwrap() error { return e.Err }

var _ error = (*Error)(nil)

package policy

import (
	"fmt"
)

// Mode is a route's authentication mode (docs/reference.md §3.3 step 1): what happens
// when a request carries no token.
type Mode int

// The modes. The zero value is Required, so a Mode left unset fails closed.
const (
	// Required refuses a request without a token with 401.
	Required Mode = iota
	// Optional forwards a request without a token, without identity; a token
	// that is present must still verify.
	Optional
	// None forwards every request without looking at the Authorization
	// header at all.
	None
)

// ParseMode parses a configured mode: "required", "optional" or "none".
// The empty string is Required, the configuration's documented default.
// Anything else is an error naming the accepted values, without the field
// name, which the caller adds (auth.mode).
func ParseMode(s string) (Mode, error) {
	switch s {
	case "required", "":
		return Required, nil
	case "optional":
		return Optional, nil
	case "none":
		return None, nil
	}
	return Required, fmt.Errorf("must be required, optional or none, got %q", s)
}

// String returns the configuration spelling of m, as ParseMode accepts it.
func (m Mode) String() string {
	switch m {
	case Required:
		return "required"
	case Optional:
		return "optional"
	case None:
		return "none"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

var _ fmt.Stringer = Mode(0)

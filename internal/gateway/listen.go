package gateway

import (
	"errors"
	"syscall"
)

// ListenError is Serve's error when it cannot open a listener. Setting
// names what sets the address (config.Config.SetBy: "server.listen (or
// AUTHGATE_LISTEN)"; the demo puts its flag there), so that a busy or
// forbidden port says what to change.
type ListenError struct {
	Admin   bool   // the admin listener's, not the gateway's
	Addr    string // the address as configured
	Setting string
	Err     error
}

// Error reads "listen 127.0.0.1:8080: …: address already in use; set
// server.listen (or AUTHGATE_LISTEN) to another address".
func (e *ListenError) Error() string {
	what := "listen"
	if e.Admin {
		what = "admin listen"
	}
	s := what + " " + e.Addr + ": " + e.Err.Error()
	if e.Setting != "" && (errors.Is(e.Err, syscall.EADDRINUSE) || errors.Is(e.Err, syscall.EACCES)) {
		s += "; set " + e.Setting + " to another address"
	}
	return s
}

// Unwrap returns the listener's error.
func (e *ListenError) Unwrap() error { return e.Err }

var _ error = (*ListenError)(nil)

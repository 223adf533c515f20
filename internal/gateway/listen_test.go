package gateway

import (
	"errors"
	"net"
	"syscall"
	"testing"
)

func TestListenError(t *testing.T) {
	other := &net.OpError{Op: "listen", Net: "tcp", Err: &net.AddrError{Err: "x"}}
	inUse := &net.OpError{Op: "listen", Net: "tcp", Err: syscall.EADDRINUSE}
	tests := []struct {
		name string
		err  *ListenError
		want string
	}{
		{"busy port names the setting", &ListenError{Addr: ":8080", Setting: "server.listen (or AUTHGATE_LISTEN)", Err: inUse},
			"listen :8080: listen tcp: address already in use; set server.listen (or AUTHGATE_LISTEN) to another address"},
		{"admin", &ListenError{Admin: true, Addr: ":9090", Setting: "-admin-listen", Err: syscall.EACCES},
			"admin listen :9090: permission denied; set -admin-listen to another address"},
		{"other errors have no hint", &ListenError{Addr: "x:1", Setting: "server.listen", Err: other},
			"listen x:1: listen tcp: x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if !errors.Is(&ListenError{Err: inUse}, syscall.EADDRINUSE) {
		t.Error("errors.Is does not see the listener's error")
	}
}

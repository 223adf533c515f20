package gateway_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine they started is still
// running when they end: a server, transport, body or background loop that
// was not closed.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

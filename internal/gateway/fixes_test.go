package gateway

import (
	"testing"

	"github.com/authgate/authgate/internal/reason"
)

// TestFixesCoverEveryDenyReason: explain has a fix for every reason a
// refusal can carry.
func TestFixesCoverEveryDenyReason(t *testing.T) {
	for _, r := range []reason.Reason{
		reason.Missing, reason.Malformed, reason.UntrustedIssuer, reason.AlgNotAllowed,
		reason.UnknownKey, reason.BadSignature, reason.Expired, reason.NotYetValid,
		reason.BadAudience, reason.MissingClaim, reason.BadType, reason.UnforwardableClaim,
		reason.InsufficientScope, reason.ClaimMismatch, reason.KeysUnavailable,
	} {
		if fixes[r] == nil {
			t.Errorf("no fix for %s", r)
		}
	}
}

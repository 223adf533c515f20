package reason

import (
	"errors"
	"fmt"
	"testing"
)

func TestOfAndDescribe(t *testing.T) {
	wrapped := fmt.Errorf("issuer main: %w", fmt.Errorf("%w: exp is 3m before now", ErrExpired))
	tests := []struct {
		name     string
		err      error
		want     Reason
		wantDesc string
	}{
		{"nil", nil, "", ""},
		{"plain error", errors.New("boom"), "", ""},
		{"sentinel", ErrBadAudience, BadAudience, "the token is not intended for this audience"},
		{"wrapped twice", wrapped, Expired, "the token has expired"},
		{"joined", errors.Join(errors.New("x"), ErrKeysUnavailable), KeysUnavailable, "the issuer's signing keys are temporarily unavailable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Of(tc.err); got != tc.want {
				t.Errorf("Of: got %q, want %q", got, tc.want)
			}
			// Describe never carries the wrapped detail, which may quote
			// claim values.
			if got := Describe(tc.err); got != tc.wantDesc {
				t.Errorf("Describe: got %q, want %q", got, tc.wantDesc)
			}
		})
	}
}

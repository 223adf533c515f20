package verify

// Identity is the outcome of a successful verification: the issuer that
// vouched for the token and the verified payload. It is immutable: the
// verified-token cache (Cache) hands the same Identity to every request
// that presents the token, so callers must not modify it, its Claims (nor
// any value nested in them), its Payload or its Scopes.
type Identity struct {
	// Issuer is the configured name of the issuer (not its iss URL); it is a
	// bounded value, safe as a metric label.
	Issuer string
	// Subject is the sub claim, or "" when absent.
	Subject string
	// Claims is the verified payload decoded with json.Decoder.UseNumber, so
	// numbers are json.Number and integers keep their exact digits.
	Claims map[string]any
	// Payload is the verified payload exactly as signed (JSON bytes).
	Payload []byte
	// Scopes is the union of the scopes granted by the issuer's scope_claims
	// (space-separated strings or arrays of strings), deduplicated, in order
	// of first appearance.
	Scopes []string
	// KeyID is the kid of the key that verified the signature ("" when the
	// key had none).
	KeyID string
}

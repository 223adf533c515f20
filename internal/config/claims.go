package config

import (
	"encoding/json"
	"math"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ClaimRules is auth.claims (docs/reference.md §3.4): a claim name, or an RFC 6901
// JSON Pointer when it starts with "/", mapped to the value the claim must
// equal or contain (a string, number or boolean) or to a list of values one
// of which it must hold. Values are as YAML decodes them (string, bool,
// int, int64, uint64, float64, []any), except that a number YAML would
// decode as a float is kept as its exact text in a json.Number: a token's
// 12345678901234567890123 or 0.1 must be compared with what the file says,
// not with its nearest float64. policy.New compiles the rules.
type ClaimRules map[string]any

// UnmarshalYAML decodes the mapping, keeping float-looking numbers exact.
// The shape check has already made sure n is a mapping with plain keys.
func (c *ClaimRules) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	out := make(ClaimRules, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		v, err := claimValue(n.Content[i+1])
		if err != nil {
			return err
		}
		out[n.Content[i].Value] = v
	}
	*c = out
	return nil
}

// claimValue decodes one value of auth.claims. Objects are decoded too, so
// that validation can refuse them with the field's path and line rather than
// the decoder failing on them.
func claimValue(n *yaml.Node) (any, error) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.SequenceNode:
		list := make([]any, len(n.Content))
		for i, item := range n.Content {
			v, err := claimValue(item)
			if err != nil {
				return nil, err
			}
			list[i] = v
		}
		return list, nil
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, err
		}
		// YAML writes 1_000.5 for 1000.5; infinities and NaN stay
		// float64, which validation refuses (JSON has no such numbers).
		if f, ok := v.(float64); ok && n.ShortTag() == "!!float" && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return json.Number(strings.ReplaceAll(n.Value, "_", "")), nil
		}
		return v, nil
	}
	var v any
	err := n.Decode(&v)
	return v, err
}

var _ yaml.Unmarshaler = (*ClaimRules)(nil)

package policy

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/authgate/authgate/internal/claims"
)

// Details of a failed claim requirement. They describe the token without
// quoting it (a claim value may be personal data, and the detail reaches the
// access log), except where the token holds the rule's value with another
// JSON type: then the detail says so (typeMismatch), since that value is the
// configuration's.
const (
	detailAbsent   = "claim absent"
	detailMismatch = "claim value does not match"
)

// claimReq is one compiled entry of Rules.Claims (docs/reference.md §3.4): the claim
// the selector picks, as a scalar or as the elements of an array, must hold
// at least one of want. A scalar rule is a want of one.
type claimReq struct {
	sel  claims.Selector
	want []value
}

// test reports whether the claim satisfies the rule. Elements that are not
// scalars (null, objects, nested arrays) never match anything.
func (c *claimReq) test(_ []string, payload map[string]any) (bool, string) {
	v, ok := c.sel.Lookup(payload)
	if !ok {
		return false, detailAbsent
	}
	if arr, isArr := v.([]any); isArr {
		for _, e := range arr {
			if c.matches(e) {
				return true, ""
			}
		}
		for _, e := range arr {
			if d := c.typeMismatch(e); d != "" {
				return false, d
			}
		}
		return false, detailMismatch
	}
	if c.matches(v) {
		return true, ""
	}
	if d := c.typeMismatch(v); d != "" {
		return false, d
	}
	return false, detailMismatch
}

// typeMismatch words a claim value that would match a wanted value but for
// its JSON type (docs/reference.md §3.4: "true" is not true, "1" is not 1):
// `claim value does not match: the token holds the string "true", the rule
// wants the boolean true`. It is "" when there is no such value.
func (c *claimReq) typeMismatch(v any) string {
	got, ok := scalarValue(v)
	if !ok {
		return ""
	}
	for _, w := range c.want {
		if got.k != w.k && sameText(got, w) {
			return detailMismatch + ": the token holds the " + got.k.noun() + " " + shorten(got.String()) +
				", the rule wants the " + w.k.noun() + " " + shorten(w.String())
		}
	}
	return ""
}

// sameText reports whether two values of different kinds read the same: a
// string and the boolean it spells, or a string and the number it spells.
func sameText(a, b value) bool {
	if b.k == kindString {
		a, b = b, a
	}
	if a.k != kindString {
		return false // boolean and number never read the same
	}
	switch b.k {
	case kindBool:
		return a.s == b.s
	case kindNumber:
		n, ok := canonNumber(a.s)
		return ok && n == b.s
	}
	return false
}

// noun names a kind as the JSON specification does.
func (k kind) noun() string {
	switch k {
	case kindString:
		return "string"
	case kindBool:
		return "boolean"
	}
	return "number"
}

func (c *claimReq) matches(v any) bool {
	got, ok := scalarValue(v)
	if !ok {
		return false
	}
	for _, w := range c.want {
		if w == got {
			return true
		}
	}
	return false
}

// CompileClaim checks one entry of Rules.Claims exactly as New does and
// returns its condition as Explain prints it after the key: `"org_123"` for a
// scalar, `one of ["admin" "support"]` for a list. The error does not name
// the key; callers put it in front (New writes claims["key"]: …).
// Configuration validation uses it so that `check` refuses what New would.
func CompileClaim(key string, want any) (string, error) {
	_, cond, err := compileClaim(key, want)
	return cond, err
}

// compileClaim compiles key (a claim name, or an RFC 6901 JSON Pointer when
// it starts with "/") and want (a scalar, or a non-empty list of scalars).
func compileClaim(key string, want any) (*claimReq, string, error) {
	sel, err := claims.Compile(key)
	if err != nil {
		return nil, "", err
	}
	var items []any
	list := true
	switch w := want.(type) {
	case []any:
		items = w
	case []string:
		items = make([]any, len(w))
		for i, s := range w {
			items[i] = s
		}
	case map[string]any, map[any]any:
		return nil, "", errors.New(`an object is not allowed: give a value or a list of values, and reach into objects with a JSON Pointer key such as "/realm_access/roles"`)
	default:
		items, list = []any{want}, false
	}
	if list && len(items) == 0 {
		return nil, "", errors.New("empty list: list at least one value")
	}
	c := &claimReq{sel: sel}
	for i, it := range items {
		v, err := configValue(it)
		if err != nil {
			msg := claimValueProblem(err, it)
			if list {
				return nil, "", fmt.Errorf("list item %d: %s", i, msg)
			}
			return nil, "", errors.New(msg)
		}
		if !containsValue(c.want, v) {
			c.want = append(c.want, v)
		}
	}
	if !list {
		return c, c.want[0].String(), nil
	}
	parts := make([]string, len(c.want))
	for i, v := range c.want {
		parts[i] = v.String()
	}
	return c, "one of [" + strings.Join(parts, " ") + "]", nil
}

// claimValueProblem words why a configured value was refused.
func claimValueProblem(err error, v any) string {
	switch {
	case errors.Is(err, errNull):
		return "null value: a claim is never required to be null; give a string, number or boolean"
	case errors.Is(err, errNotScalar):
		return "must be a string, number or boolean, got " + typeNoun(v)
	}
	return err.Error()
}

func typeNoun(v any) string {
	switch v.(type) {
	case []any, []string:
		return "a list"
	case map[string]any, map[any]any:
		return "an object"
	}
	return fmt.Sprintf("a value of type %T", v)
}

func containsValue(list []value, v value) bool {
	for _, w := range list {
		if w == v {
			return true
		}
	}
	return false
}

// claimText is the Requirement of a claim rule: claims["key"]: condition.
func claimText(key, cond string) string {
	return "claims[" + strconv.Quote(key) + "]: " + cond
}

var _ tester = (*claimReq)(nil)

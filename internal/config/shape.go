package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/authgate/authgate/internal/field"
)

// maxShapeNodes bounds the nodes the shape check visits. Aliases are followed,
// so a small file could otherwise expand into billions of nodes ("billion
// laughs"); real configurations stay far below this.
const maxShapeNodes = 200_000

var (
	configType   = reflect.TypeFor[Config]()
	durationType = reflect.TypeFor[time.Duration]()
)

// shapeChecker walks the YAML tree against the Config types before decoding.
// It is the strict mode of the decoder: an unknown or duplicate key, or a
// value of the wrong kind, is reported with its line and field path, which
// yaml.v3's own KnownFields cannot do for a yaml.Node. On the way it records
// each field's line and whether the file set it (for defaults).
type shapeChecker struct {
	loc    *locator
	p      *problems
	budget int
	// blocked are the fields an unknown key was probably meant to be:
	// validation's findings about them (a required field missing) would
	// only repeat the typo's error.
	blocked []string
}

// check verifies n against type t. merged marks content pulled in by a YAML
// merge key (<<), whose lines must not replace those of keys written in place.
func (sc *shapeChecker) check(n *yaml.Node, t reflect.Type, path string, merged bool) {
	if sc.budget--; sc.budget == 0 {
		sc.p.errs = append(sc.p.errs, &FieldError{File: sc.loc.file, Line: n.Line, Msg: "document too large or too deeply aliased"})
	}
	if sc.budget <= 0 {
		return
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // null leaves the field absent: zero value, then the default
	}
	if path != "" {
		sc.loc.present[path] = true
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}

	switch {
	case t == durationType:
		if sc.want(n, yaml.ScalarNode, path, "a duration") {
			if _, err := time.ParseDuration(n.Value); err != nil {
				sc.p.add(path, `invalid duration %q: use Go syntax such as "30s" or "15m"`, n.Value)
				return
			}
			// yaml.v3 refuses an untagged 0 for a Duration; the text is
			// what counts, so mark it a string.
			n.Tag = "!!str"
		}
	case t.Kind() == reflect.Struct:
		if sc.want(n, yaml.MappingNode, path, "a mapping") {
			sc.checkStruct(n, t, path, merged)
		}
	case t.Kind() == reflect.Slice:
		if sc.want(n, yaml.SequenceNode, path, "a list") {
			for i, item := range n.Content {
				ip := field.Index(path, i)
				sc.setLine(ip, item.Line, merged)
				sc.check(item, t.Elem(), ip, merged)
			}
		}
	case t.Kind() == reflect.Map:
		if sc.want(n, yaml.MappingNode, path, "a mapping") {
			sc.checkMap(n, t, path, merged)
		}
	case t.Kind() == reflect.Interface:
		// Free-form (auth.claims values): anything YAML can hold.
	default:
		if sc.want(n, yaml.ScalarNode, path, kindNoun(t)) {
			if err := n.Decode(reflect.New(t).Interface()); err != nil {
				sc.p.add(path, "must be %s, got %s", kindNoun(t), describeNode(n))
			}
		}
	}
}

// want reports whether n has kind k, recording an error if not.
func (sc *shapeChecker) want(n *yaml.Node, k yaml.Kind, path, noun string) bool {
	if n.Kind == k {
		return true
	}
	msg := fmt.Sprintf("must be %s, got %s", noun, describeNode(n))
	if path == "" { // the document itself: no field to place it by
		sc.p.errs = append(sc.p.errs, &FieldError{File: sc.loc.file, Line: n.Line, Msg: msg})
	} else {
		sc.p.add(path, "%s", msg)
	}
	return false
}

func (sc *shapeChecker) setLine(path string, line int, merged bool) {
	if _, ok := sc.loc.lines[path]; ok && merged {
		return
	}
	sc.loc.lines[path] = line
}

func (sc *shapeChecker) checkStruct(n *yaml.Node, t reflect.Type, path string, merged bool) {
	fields := yamlFields(t)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			sc.checkMerge(v, t, path)
			continue
		}
		kp := field.Key(path, k.Value)
		if k.Kind != yaml.ScalarNode {
			sc.p.errs = append(sc.p.errs, &FieldError{File: sc.loc.file, Line: k.Line, Path: path, Msg: "keys must be plain names"})
			continue
		}
		if first, dup := seen[k.Value]; dup {
			sc.p.errs = append(sc.p.errs, &FieldError{File: sc.loc.file, Line: k.Line, Path: kp, Msg: fmt.Sprintf("duplicate key (first at line %d)", first)})
			continue
		}
		seen[k.Value] = k.Line
		ft, ok := fields[k.Value]
		if !ok {
			sc.unknownField(k, kp, path, sortedKeys(fields))
			continue
		}
		sc.setLine(kp, k.Line, merged)
		sc.check(v, ft, kp, merged)
	}
}

func (sc *shapeChecker) checkMap(n *yaml.Node, t reflect.Type, path string, merged bool) {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
			sc.p.errs = append(sc.p.errs, &FieldError{File: sc.loc.file, Line: k.Line, Path: path, Msg: "keys must be plain strings"})
			continue
		}
		kp := field.Key(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			sc.p.errs = append(sc.p.errs, &FieldError{File: sc.loc.file, Line: k.Line, Path: kp, Msg: fmt.Sprintf("duplicate key (first at line %d)", first)})
			continue
		}
		seen[k.Value] = k.Line
		sc.setLine(kp, k.Line, merged)
		sc.check(v, t.Elem(), kp, merged)
	}
}

// unknownField reports the key k (at path kp) that the struct at path does
// not have. A key near a valid one (a typo) gets "did you mean …?" and
// that field is recorded, so that validation does not also report it as
// missing; otherwise the valid keys are listed.
func (sc *shapeChecker) unknownField(k *yaml.Node, kp, path string, valid []string) {
	msg := "unknown field (valid: " + strings.Join(valid, ", ") + ")"
	if s := closest(k.Value, valid); s != "" {
		msg = "unknown field; did you mean " + s + "?"
		sc.blocked = append(sc.blocked, field.Key(path, s))
	}
	sc.p.errs = append(sc.p.errs, &FieldError{File: sc.loc.file, Line: k.Line, Path: kp, Msg: msg})
}

// checkMerge handles "<<: *anchor" and "<<: [*a, *b]": the merged mappings
// are checked against the same struct type as the mapping that merges them.
func (sc *shapeChecker) checkMerge(v *yaml.Node, t reflect.Type, path string) {
	if v.Kind == yaml.AliasNode && v.Alias != nil {
		v = v.Alias
	}
	switch v.Kind {
	case yaml.MappingNode:
		sc.check(v, t, path, true)
	case yaml.SequenceNode:
		for _, m := range v.Content {
			sc.checkMerge(m, t, path)
		}
	default:
		sc.p.add(path, "a merge key (<<) needs a mapping or a list of mappings, got %s", describeNode(v))
	}
}

// fieldCache maps a struct type to its YAML keys and their field types.
var fieldCache sync.Map // reflect.Type → map[string]reflect.Type

func yamlFields(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := map[string]reflect.Type{}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = f.Type
	}
	fieldCache.Store(t, m)
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// kindNoun names what a scalar field of type t accepts.
func kindNoun(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	}
	return "a string"
}

// describeNode names what the file holds at n, for "must be X, got Y". It
// never quotes the value itself beyond its kind, except for short scalars
// that cannot be secrets because they failed to be numbers or booleans.
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	switch n.ShortTag() {
	case "!!int", "!!float":
		return "the number " + n.Value
	case "!!bool":
		return n.Value
	}
	return "a string"
}

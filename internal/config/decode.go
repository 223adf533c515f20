package config

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/authgate/authgate/internal/envvar"

	"go.yaml.in/yaml/v3"

	"github.com/authgate/authgate/internal/field"
)

// decodeFile turns the YAML in data into a Config: syntax check, ${NAME}
// expansion, the strict shape check that records every field's line, then
// the decode itself. Every error it returns carries the file name and, where
// the YAML library can tell, the line.
func decodeFile(name string, data []byte, env Env) (*Config, *locator, error) {
	loc := newLocator(name)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			// An empty file is a valid, empty configuration; validation
			// then says what is missing.
			return &Config{}, loc, nil
		}
		return nil, nil, yamlError(name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, nil, yamlError(name, err)
		}
		return nil, nil, &FieldError{File: name, Line: extra.Line, Msg: "only one YAML document is allowed"}
	}
	root := &doc
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		root = doc.Content[0]
	}

	p := &problems{loc: loc}
	expandTree(root, "", env, p, name)
	if len(p.errs) > 0 {
		return nil, nil, joinSorted(p.errs)
	}
	sc := &shapeChecker{loc: loc, p: p, budget: maxShapeNodes}
	sc.check(root, configType, "", false)
	if len(p.errs) > 0 {
		return nil, nil, joinSorted(p.errs)
	}
	var cfg Config
	if err := root.Decode(&cfg); err != nil {
		return nil, nil, yamlError(name, err)
	}
	return &cfg, loc, nil
}

// lineMsg matches the "line N: msg" form the YAML library uses, with or
// without its "yaml: " prefix.
var lineMsg = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// parserProblems are the messages of yaml.v3's parser (as opposed to its
// scanner). For these it reports the 0-based line of the construct being
// parsed, and no line at all for the first line, so yamlError adds one;
// scanner errors are already 1-based. TestDecodeErrors pins this behaviour.
var parserProblems = map[string]bool{
	"did not find expected <stream-start>":   true,
	"did not find expected <document start>": true,
	"did not find expected node content":     true,
	"did not find expected '-' indicator":    true,
	"did not find expected key":              true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"found undefined tag handle":             true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found duplicate %TAG directive":         true,
}

// yamlError converts an error of the YAML library into FieldErrors in the
// "file:line: msg" form.
func yamlError(name string, err error) error {
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	out := make([]*FieldError, 0, len(msgs))
	for _, m := range msgs {
		fe := &FieldError{File: name, Msg: strings.TrimPrefix(m, "yaml: ")}
		if sm := lineMsg.FindStringSubmatch(m); sm != nil {
			fe.Line, _ = strconv.Atoi(sm[1])
			fe.Msg = sm[2]
			if parserProblems[fe.Msg] {
				fe.Line++
			}
		} else if parserProblems[fe.Msg] {
			fe.Line = 1
		}
		out = append(out, fe)
	}
	return joinSorted(out)
}

// expandTree replaces ${NAME} in every scalar value (never in keys) below n.
// Alias nodes are skipped: their anchor is expanded where it is defined.
func expandTree(n *yaml.Node, path string, env Env, p *problems, file string) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			expandTree(c, path, env, p, file)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			expandTree(n.Content[i+1], field.Key(path, n.Content[i].Value), env, p, file)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			expandTree(c, field.Index(path, i), env, p, file)
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "$") {
			return
		}
		s, err := expand(n.Value, env)
		if err != nil {
			p.errs = append(p.errs, &FieldError{File: file, Line: n.Line, Path: path, Msg: err.Error()})
			return
		}
		if s == n.Value {
			return
		}
		n.Value = s
		// A plain scalar is typed by its text, so re-resolve it: a
		// variable may hold a number or a boolean (max_header_bytes:
		// ${MAX}). Quoted and explicitly tagged scalars keep their type.
		if n.Style&(yaml.TaggedStyle|yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
			n.Tag = ""
			n.Tag = n.ShortTag()
		}
	}
}

// expand replaces ${NAME} in s with the variable's value (CONTRACT §2.2).
// "$$" is a literal "$"; a "$" followed by anything else stays as it is. An
// unset variable is an error; a variable set to "" expands to "".
func expand(s string, env Env) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", errors.New(`unterminated "${" (write "$$" for a literal "$")`)
			}
			name := s[i+2 : i+2+end]
			if !envvar.ValidName(name) {
				return "", errors.New("invalid environment variable name " + strconv.Quote(name) + " in ${...}")
			}
			v, ok := env(name)
			if !ok {
				return "", errors.New("environment variable " + name + " is not set")
			}
			b.WriteString(v)
			i += 2 + end
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

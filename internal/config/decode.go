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

// decoded is what decodeFile makes of a file that is valid YAML: the
// Config as far as it could be decoded, the errors found on the way (each
// with the file and line), and the field paths validation must not report
// again (see blockedBy).
type decoded struct {
	cfg     *Config
	loc     *locator
	errs    []*FieldError
	blocked []string
}

// decodeFile turns the YAML in data into a Config: syntax check, ${NAME}
// expansion, the strict shape check that records every field's line, then
// the decode itself. A syntax error is returned as err, and nothing else
// can be known; every other problem is in decoded.errs, the Config decoded
// around it, so that validation can still report the rest of the file in
// the same run. Every error carries the file name and, where the YAML
// library can tell, the line.
func decodeFile(name string, data []byte, env Env) (*decoded, error) {
	loc := newLocator(name)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			// An empty file is a valid, empty configuration; validation
			// then says what is missing.
			return &decoded{cfg: &Config{}, loc: loc}, nil
		}
		return nil, yamlError(name, data, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, yamlError(name, data, err)
		}
		return nil, &FieldError{File: name, Line: extra.Line, Msg: "only one YAML document is allowed"}
	}
	root := &doc
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		root = doc.Content[0]
	}

	p := &problems{loc: loc}
	expandTree(root, "", env, p, name)
	sc := &shapeChecker{loc: loc, p: p, budget: maxShapeNodes}
	sc.check(root, configType, "", false)
	d := &decoded{cfg: &Config{}, loc: loc, errs: p.errs, blocked: sc.blocked}
	for _, e := range p.errs {
		d.blocked = append(d.blocked, e.Path)
	}
	if root.Kind != yaml.MappingNode || sc.budget <= 0 {
		return d, nil // nothing more can be decoded
	}
	// The shape check has reported every value of the wrong kind with its
	// path; the decoder skips those (and unknown keys) and fills the rest,
	// so its own error repeats what is already reported.
	if err := root.Decode(d.cfg); err != nil && len(p.errs) == 0 {
		d.errs = append(d.errs, yamlErrors(name, data, err)...)
	}
	return d, nil
}

// blockedBy reports whether path is one of blocked or lies inside one:
// a field whose value the decoder could not take, or a field an unknown key
// was probably meant to be. Validation's findings there would only repeat
// the decoder's ("must be positive" for a duration that did not parse).
func blockedBy(path string, blocked []string) bool {
	for _, b := range blocked {
		switch {
		case b == "", path == b:
			return true
		case strings.HasPrefix(path, b) && (path[len(b)] == '.' || path[len(b)] == '['):
			return true
		}
	}
	return false
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
// "file:line: msg" form, joined.
func yamlError(name string, data []byte, err error) error {
	return joinSorted(yamlErrors(name, data, err))
}

// yamlErrors converts an error of the YAML library into FieldErrors in the
// "file:line: msg" form, with a hint where the message is really about
// indentation or tabs (see syntaxHint).
func yamlErrors(name string, data []byte, err error) []*FieldError {
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
		if te == nil {
			fe.Line, fe.Msg = syntaxHint(data, fe.Line, fe.Msg)
		}
		out = append(out, fe)
	}
	return out
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

// expand replaces ${NAME} in s with the variable's value (docs/reference.md §2.2).
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

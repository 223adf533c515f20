package config

import (
	"bytes"
	"strings"
)

// YAML syntax errors that are really about indentation say so, with the line
// the reader has to fix; the YAML library's own words ("did not find
// expected key") name a parser state, and its line is often that of the
// enclosing block rather than of the misindented line.
const (
	hintTab    = "found a tab character; YAML indents with spaces only"
	hintIndent = " — is the line indented like its siblings?"
)

// syntaxHint rewrites the YAML library's syntax error msg at line (1-based,
// 0 when it gave none) into one that names the fix, when it is one of the
// indentation or tab problems; other errors are returned unchanged.
func syntaxHint(data []byte, line int, msg string) (int, string) {
	lines := strings.Split(string(bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))), "\n")
	switch {
	case msg == "found character that cannot start any token":
		// A tab where indentation is expected, or another character
		// (@, `) at the start of a value: only the first is a tab problem.
		if line > 0 && line <= len(lines) && tabIndented(lines[line-1]) {
			return line, hintTab
		}
	case strings.Contains(msg, "tab character"):
		// The library sometimes reports a tab at the line before it; the
		// first line from there indented with a tab is the one to fix.
		for i := max(line-1, 0); i < len(lines); i++ {
			if tabIndented(lines[i]) {
				return i + 1, hintTab
			}
		}
		return line, hintTab
	case strings.HasPrefix(msg, "mapping values are not allowed"):
		// Its line is the offending one; none means the first.
		return max(line, 1), "mapping values are not allowed here" + hintIndent
	case msg == "did not find expected key", msg == "did not find expected '-' indicator":
		// Its line is the start of the block that went wrong.
		if l := misindented(lines, line); l > 0 {
			line = l
		}
		return line, msg + hintIndent
	}
	return line, msg
}

// tabIndented reports whether the indentation of l holds a tab.
func tabIndented(l string) bool {
	return strings.Contains(l[:len(l)-len(strings.TrimLeft(l, " \t"))], "\t")
}

// misindented returns the 1-based number of the first line at or after
// from whose indentation matches no enclosing block: deeper than the line
// before it although that line opens nothing, or shallower than its
// siblings yet deeper than their parent. It returns 0 when it finds none;
// block scalars and multi-line flow values are beyond this simple reading.
func misindented(lines []string, from int) int {
	levels := []int{0} // indentations of the open blocks, innermost last
	opens := false     // the previous line ends in ":" or is a "- " item
	for i, l := range lines {
		text := strings.TrimLeft(l, " ")
		if text == "" || text[0] == '#' {
			continue
		}
		ind := len(l) - len(text)
		top := levels[len(levels)-1]
		switch {
		case ind > top && opens:
			levels = append(levels, ind)
		case ind > top:
			if i+1 >= from {
				return i + 1
			}
		default:
			for len(levels) > 1 && levels[len(levels)-1] > ind {
				levels = levels[:len(levels)-1]
			}
			if levels[len(levels)-1] != ind && i+1 >= from {
				return i + 1
			}
		}
		body := text
		if c := strings.Index(body, " #"); c >= 0 {
			body = body[:c]
		}
		body = strings.TrimRight(body, " ")
		opens = strings.HasSuffix(body, ":")
		// The keys of a mapping inside a list item sit after "- ".
		for strings.HasPrefix(text, "- ") {
			d := 2 + len(text[2:]) - len(strings.TrimLeft(text[2:], " "))
			ind += d
			text = text[d:]
			levels = append(levels, ind)
			opens = opens || text == ""
		}
	}
	return 0
}

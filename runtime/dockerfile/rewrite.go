package dockerfile

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/distribution/reference"
)

// RewriteFrom returns the Dockerfile with the image of every FROM whose
// reference (as written, after ARG expansion) is a key of refs replaced by
// refs[key]. FROM lines naming an earlier stage are left alone even if the
// name is a key. Only the image word changes: flags, the AS clause, comments,
// line continuations and all other bytes are kept as they are. If nothing
// matches, contents is returned unchanged.
func RewriteFrom(contents []byte, buildArgs map[string]string, refs map[string]string) ([]byte, error) {
	if len(refs) == 0 {
		return contents, nil
	}
	p, err := parse(contents, buildArgs)
	if err != nil {
		return nil, err
	}
	type edit struct {
		start, end int
		repl       string
	}
	var edits []edit
	lines := lineOffsets(contents)
	for i, st := range p.info.Stages {
		if st.BaseStage >= 0 {
			continue
		}
		repl, ok := refs[st.BaseName]
		if !ok {
			continue
		}
		// Only an image reference may be written in: anything else (blanks, quotes, $, bytes
		// that are not UTF-8) could change how the line parses.
		if _, err := reference.ParseNormalizedNamed(repl); err != nil {
			return nil, &Error{Line: st.Line, Err: fmt.Errorf("invalid replacement image reference %q for %q", repl, st.BaseName)}
		}
		n := p.nodes[i]
		if n.Next == nil {
			return nil, &Error{Line: st.Line, Err: fmt.Errorf("FROM without an image")}
		}
		start, end, err := locateFromImage(contents, lines, n.StartLine, n.EndLine, p.res.EscapeToken, n.Next.Value)
		if err != nil {
			return nil, &Error{Line: st.Line, Err: err}
		}
		edits = append(edits, edit{start, end, repl})
	}
	if len(edits) == 0 {
		return contents, nil
	}
	var out bytes.Buffer
	out.Grow(len(contents) + 64*len(edits))
	last := 0
	for _, e := range edits { // stages, hence edits, are in file order
		out.Write(contents[last:e.start])
		out.WriteString(e.repl)
		last = e.end
	}
	out.Write(contents[last:])
	return out.Bytes(), nil
}

// lineOffsets returns the byte offset of the start of each line; index 0 is
// line 1. A final entry holds len(contents).
func lineOffsets(b []byte) []int {
	offs := []int{0}
	for i, c := range b {
		if c == '\n' {
			offs = append(offs, i+1)
		}
	}
	if offs[len(offs)-1] != len(b) {
		offs = append(offs, len(b))
	}
	return offs
}

// locateFromImage finds the byte range of the image word of the FROM
// instruction spanning lines [startLine, endLine] (1-based). It skips the
// keyword, any --flags, line continuations and comment or blank lines inside
// them, the way BuildKit's parser does, and checks that the word it finds is
// the one the parser read.
func locateFromImage(b []byte, lines []int, startLine, endLine int, escape rune, want string) (int, int, error) {
	if startLine < 1 || endLine < startLine || endLine >= len(lines) {
		return 0, 0, fmt.Errorf("FROM instruction out of range")
	}
	lo, hi := lines[startLine-1], lines[endLine] // hi: start of the next line
	if lo == 0 && bytes.HasPrefix(b, []byte("\xEF\xBB\xBF")) {
		lo = 3 // the parser discards a byte-order mark
	}
	esc := byte(escape)
	i := lo
	// continuation reports whether position j starts an escape+newline
	// continuation (trailing blanks after the escape are allowed).
	continuation := func(j int) (int, bool) {
		if j >= hi || b[j] != esc {
			return 0, false
		}
		k := j + 1
		for k < hi && (b[k] == ' ' || b[k] == '\t' || b[k] == '\r') {
			k++
		}
		if k < hi && b[k] == '\n' {
			return k + 1, true
		}
		if k == hi {
			return k, true
		}
		return 0, false
	}
	// skipBlank skips blanks, continuations, and whole comment or empty
	// lines that follow a continuation.
	skipBlank := func() {
		for i < hi {
			switch c := b[i]; {
			case blank(c):
				i++
			default:
				if next, ok := continuation(i); ok {
					i = next
					// Comment and empty lines inside a continuation are dropped by the parser.
					for i < hi {
						k := i
						for k < hi && (b[k] == ' ' || b[k] == '\t' || b[k] == '\r') {
							k++
						}
						if k < hi && b[k] == '#' {
							for k < hi && b[k] != '\n' {
								k++
							}
							if k < hi {
								k++
							}
							i = k
							continue
						}
						if k < hi && b[k] == '\n' {
							i = k + 1
							continue
						}
						break
					}
					continue
				}
				return
			}
		}
	}
	word := func() (int, int) {
		s := i
		for i < hi {
			c := b[i]
			if blank(c) || c == '\n' {
				break
			}
			if _, ok := continuation(i); ok {
				break
			}
			i++
		}
		return s, i
	}
	skipBlank()
	if s, e := word(); !strings.EqualFold(string(b[s:e]), "from") {
		return 0, 0, fmt.Errorf("cannot find the FROM keyword")
	}
	for {
		skipBlank()
		s, e := word()
		if s == e {
			return 0, 0, fmt.Errorf("cannot find the image of FROM")
		}
		w := string(b[s:e])
		if strings.HasPrefix(w, "--") && w != want {
			continue
		}
		if w != want {
			return 0, 0, fmt.Errorf("cannot rewrite FROM: image %q is split across lines", want)
		}
		return s, e, nil
	}
}

// blank reports whether c separates words on a Dockerfile line, as BuildKit's parser splits
// them ([\t\v\f\r ]).
func blank(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'
}

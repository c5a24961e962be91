// Package k8syaml decodes YAML streams into Kubernetes objects and encodes them back. Errors
// name the source and the line of the stream where the problem is.
package k8syaml

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// DecodeStream parses every document of a YAML stream into JSON-compatible values
// (map[string]any, []any, string, bool, nil, and json.Number, so integers stay exact).
// Documents that are empty, hold only comments, or are null are dropped. source names the
// stream in errors (a project-relative file name, or a description such as "helm chart
// charts/web").
func DecodeStream(source string, stream []byte) ([]any, error) {
	var out []any
	err := eachDocument(source, stream, func(n *yaml.Node) error {
		v, err := nodeValue(n)
		if err != nil {
			return sourced(source, err)
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

// eachDocument calls fn with the root node of every document of the stream that is not null.
// The yaml.v3 decoder splits the stream: a document may start on its "---" line, "..." ends
// one, and node lines count from the start of the stream.
func eachDocument(source string, stream []byte, fn func(*yaml.Node) error) error {
	dec := yaml.NewDecoder(bytes.NewReader(stream))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return syntaxError(source, stream, err)
		}
		if len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			continue // blank, comment-only, or an explicit null
		}
		if err := fn(root); err != nil {
			return err
		}
	}
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// parserProblems are the messages of yaml.v3's parser (not scanner) errors. For those it
// prints the 0-based line, and no line at all for the first; scanner errors are 1-based.
var parserProblems = map[string]bool{
	"did not find expected <stream-start>": true, "did not find expected <document start>": true,
	"did not find expected node content": true, "did not find expected key": true,
	"did not find expected '-' indicator": true, "did not find expected ',' or ']'": true,
	"did not find expected ',' or '}'": true, "found duplicate %YAML directive": true,
	"found incompatible YAML document": true, "found duplicate %TAG directive": true,
	"found undefined tag handle": true,
}

// syntaxError turns the decoder's "yaml: line N: msg" into "source:N: invalid YAML: msg".
// The scanner's errors without a line are about bytes it refuses; name the line of the first
// such byte.
func syntaxError(source string, stream []byte, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = err.Error()[len(m[0]):]
	}
	switch {
	case parserProblems[msg]:
		// A problem found at the end of the stream is on its last line.
		line = min(line+1, lineCount(stream))
	case line == 0:
		line = badByteLine(stream)
	}
	return fmt.Errorf("%s:%d: invalid YAML: %s", source, line, msg)
}

// lineCount is the number of lines of the stream, at least 1.
func lineCount(stream []byte) int {
	n := bytes.Count(stream, []byte("\n"))
	if len(stream) == 0 || stream[len(stream)-1] != '\n' {
		n++
	}
	return n
}

// badByteLine is the line of the first invalid UTF-8 sequence or control character YAML
// does not allow, or 1.
func badByteLine(stream []byte) int {
	line := 1
	for i := 0; i < len(stream); {
		r, size := utf8.DecodeRune(stream[i:])
		if r == utf8.RuneError && size == 1 || r < 0x20 && r != '\n' && r != '\r' && r != '\t' || r == 0x7f {
			return line
		}
		if r == '\n' {
			line++
		}
		i += size
	}
	return 1
}

// lineError is an error at a line of the stream.
type lineError struct {
	line int
	msg  string
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

func errorAt(n *yaml.Node, format string, args ...any) error {
	return &lineError{line: n.Line, msg: fmt.Sprintf(format, args...)}
}

// sourced prefixes a lineError with the source: "source:line: invalid YAML: msg".
func sourced(source string, err error) error {
	var le *lineError
	if errors.As(err, &le) {
		return fmt.Errorf("%s:%d: invalid YAML: %s", source, le.line, le.msg)
	}
	return fmt.Errorf("%s: invalid YAML: %v", source, err)
}

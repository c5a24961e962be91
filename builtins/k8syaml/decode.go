// Package k8syaml decodes YAML streams into Kubernetes objects and encodes them back. Errors
// name the source and the line of the stream where the bad document is.
package k8syaml

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/kiln-dev/kiln/runtime/plan"
	"sigs.k8s.io/yaml"
)

// Document is one YAML document of a stream and the line it starts on (1-based).
type Document struct {
	Text string
	Line int
}

// SplitDocuments splits a YAML stream on "---" separator lines. Documents that hold only
// comments or whitespace are dropped.
func SplitDocuments(stream []byte) []Document {
	var docs []Document
	var cur strings.Builder
	start := 1
	line := 0
	flush := func() {
		if !isBlank(cur.String()) {
			docs = append(docs, Document{Text: cur.String(), Line: start})
		}
		cur.Reset()
	}
	for _, l := range strings.SplitAfter(string(stream), "\n") {
		if l == "" {
			continue
		}
		line++
		if isSeparator(l) {
			flush()
			start = line + 1
			continue
		}
		if strings.HasPrefix(l, "...") && strings.TrimSpace(l) == "..." {
			continue // document end marker
		}
		cur.WriteString(l)
	}
	flush()
	return docs
}

func isSeparator(l string) bool {
	if !strings.HasPrefix(l, "---") {
		return false
	}
	rest := strings.TrimRight(l[3:], "\r\n")
	return rest == "" || rest[0] == ' ' || rest[0] == '\t' || rest[0] == '#'
}

func isBlank(doc string) bool {
	for _, l := range strings.Split(doc, "\n") {
		t := strings.TrimSpace(l)
		if t != "" && !strings.HasPrefix(t, "#") {
			return false
		}
	}
	return true
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// DecodeValue parses one YAML document into JSON-compatible values. Numbers are kept exact
// (json.Number), so integers don't turn into floats.
func DecodeValue(doc string) (any, error) {
	js, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// DecodeStream parses every document of a YAML stream. source names the stream in errors
// (a project-relative file name, or a description such as "helm chart charts/web").
func DecodeStream(source string, stream []byte) ([]any, error) {
	var out []any
	for _, d := range SplitDocuments(stream) {
		v, err := DecodeValue(d.Text)
		if err != nil {
			return nil, lineError(source, d.Line, err)
		}
		if v != nil {
			out = append(out, v)
		}
	}
	return out, nil
}

// lineError rebases go-yaml's "line N" (relative to the document) onto the stream.
func lineError(source string, docLine int, err error) error {
	msg := strings.TrimPrefix(err.Error(), "error converting YAML to JSON: ")
	line := docLine
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		line = docLine + n - 1
		msg = strings.Replace(msg, "line "+m[1]+": ", "", 1)
	}
	return fmt.Errorf("%s:%d: invalid YAML: %s", source, line, msg)
}

// DecodeObjects parses a YAML stream of Kubernetes objects. "List" objects are expanded into
// their items. Every object must have apiVersion, kind and metadata.name.
func DecodeObjects(source string, stream []byte) ([]plan.Object, error) {
	var out []plan.Object
	for _, d := range SplitDocuments(stream) {
		v, err := DecodeValue(d.Text)
		if err != nil {
			return nil, lineError(source, d.Line, err)
		}
		if v == nil {
			continue
		}
		objs, err := toObjects(v)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", source, d.Line, err)
		}
		out = append(out, objs...)
	}
	return out, nil
}

func toObjects(v any) ([]plan.Object, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("a Kubernetes object must be a mapping, got %s", describe(v))
	}
	obj := plan.Object(m)
	if strings.HasSuffix(obj.Kind(), "List") && obj.APIVersion() == "v1" {
		if items, ok := m["items"].([]any); ok {
			var out []plan.Object
			for _, it := range items {
				objs, err := toObjects(it)
				if err != nil {
					return nil, err
				}
				out = append(out, objs...)
			}
			return out, nil
		}
	}
	if err := Validate(obj); err != nil {
		return nil, err
	}
	return []plan.Object{obj}, nil
}

// Validate checks the fields every object needs.
func Validate(obj plan.Object) error {
	if obj.APIVersion() == "" {
		return fmt.Errorf("object has no apiVersion: every Kubernetes object needs apiVersion and kind")
	}
	if obj.Kind() == "" {
		return fmt.Errorf("object has no kind: every Kubernetes object needs apiVersion and kind")
	}
	md, ok := obj["metadata"].(map[string]any)
	if !ok {
		return fmt.Errorf("%s has no metadata: add metadata.name", obj.Kind())
	}
	if _, ok := md["name"].(string); !ok {
		return fmt.Errorf("%s has no metadata.name: add one (generateName is not supported, objects must be addressable)", obj.Kind())
	}
	return nil
}

func describe(v any) string {
	switch v.(type) {
	case []any:
		return "a list"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", v)
}

// EncodeObjects prints objects as one YAML stream with sorted keys.
func EncodeObjects(objs []plan.Object) ([]byte, error) {
	var buf bytes.Buffer
	for i, o := range objs {
		if i > 0 {
			buf.WriteString("---\n")
		}
		out, err := yaml.Marshal(map[string]any(o))
		if err != nil {
			return nil, err
		}
		buf.Write(out)
	}
	return buf.Bytes(), nil
}

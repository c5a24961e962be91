package k8syaml

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/kiln-dev/kiln/runtime/plan"
	"go.yaml.in/yaml/v3"
)

// DecodeObjects parses a YAML stream of Kubernetes objects. "List" objects are expanded into
// their items. Every object must have apiVersion, kind and metadata.name; an error names the
// line where the offending object starts.
func DecodeObjects(source string, stream []byte) ([]plan.Object, error) {
	var out []plan.Object
	err := eachDocument(source, stream, func(n *yaml.Node) error {
		v, err := nodeValue(n)
		if err != nil {
			return sourced(source, err)
		}
		objs, bad := toObjects(v, n, n.Line)
		if bad != nil {
			return fmt.Errorf("%s:%d: %s", source, bad.line, bad.msg)
		}
		out = append(out, objs...)
		return nil
	})
	return out, err
}

// toObjects checks one decoded document, or expands a List. n is v's node, for the line of an
// error; when it is nil (not known), the error is at line.
func toObjects(v any, n *yaml.Node, line int) ([]plan.Object, *lineError) {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n != nil {
		line = n.Line
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &lineError{line, "a Kubernetes object must be a mapping, got " + describe(v)}
	}
	obj := plan.Object(m)
	if strings.HasSuffix(obj.Kind(), "List") && obj.APIVersion() == "v1" {
		if items, ok := m["items"].([]any); ok {
			nodes := listItems(n, len(items))
			var out []plan.Object
			for i, it := range items {
				objs, err := toObjects(it, nodes[i], line)
				if err != nil {
					return nil, err
				}
				out = append(out, objs...)
			}
			return out, nil
		}
	}
	if err := Validate(obj); err != nil {
		return nil, &lineError{line, err.Error()}
	}
	return []plan.Object{obj}, nil
}

// listItems returns the nodes of a List's items, or nils when they cannot be matched to the
// decoded items one for one (the items came through a merge key, say).
func listItems(list *yaml.Node, count int) []*yaml.Node {
	nodes := make([]*yaml.Node, count)
	if list == nil || list.Kind != yaml.MappingNode {
		return nodes
	}
	for i := 0; i+1 < len(list.Content); i += 2 {
		if list.Content[i].Value != "items" {
			continue
		}
		seq := list.Content[i+1]
		for seq.Kind == yaml.AliasNode {
			seq = seq.Alias
		}
		if seq.Kind == yaml.SequenceNode && len(seq.Content) == count {
			copy(nodes, seq.Content)
		}
	}
	return nodes
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
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// EncodeObjects prints objects as one YAML stream, formatted as `kiln render` prints them.
func EncodeObjects(objs []plan.Object) ([]byte, error) {
	return plan.EncodeYAMLStream(objs)
}

package k8syaml

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/kiln-dev/kiln/runtime/plan"
	"go.yaml.in/yaml/v3"
)

// nodeValue converts a document's node tree into the values encoding/json decodes into:
// map[string]any, []any, string, bool, nil and json.Number. Scalars resolve as kubectl
// resolves them, which is YAML 1.1: a plain yes, no, on or off is a boolean. Aliases expand
// (a YAML bomb is refused), merge keys (<<) merge, and a repeated key keeps its last value.
func nodeValue(root *yaml.Node) (any, error) {
	c := &converter{
		budget:    aliasRatio*countNodes(root) + aliasSlack,
		expanding: map[*yaml.Node]bool{},
	}
	return c.value(root)
}

// A document may expand to aliasRatio times its own node count, plus aliasSlack values. Real
// manifests reuse an anchor a few times; "billion laughs" asks for 10^9.
const (
	aliasRatio = 100
	aliasSlack = 10000
)

type converter struct {
	budget    int                 // values still allowed, counting every alias expansion
	expanding map[*yaml.Node]bool // anchors being expanded: one inside itself is a cycle
}

// countNodes counts a tree's nodes as written, not following aliases.
func countNodes(n *yaml.Node) int {
	count := 1
	if n.Kind != yaml.AliasNode {
		for _, c := range n.Content {
			count += countNodes(c)
		}
	}
	return count
}

func (c *converter) value(n *yaml.Node) (any, error) {
	if c.budget--; c.budget < 0 {
		return nil, errorAt(n, "the document's aliases expand to too many values")
	}
	switch n.Kind {
	case yaml.AliasNode:
		if c.expanding[n.Alias] {
			return nil, errorAt(n, "anchor %q contains itself", n.Value)
		}
		c.expanding[n.Alias] = true
		defer delete(c.expanding, n.Alias)
		return c.value(n.Alias)
	case yaml.ScalarNode:
		return scalarValue(n)
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, item := range n.Content {
			v, err := c.value(item)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case yaml.MappingNode:
		return c.mapping(n)
	}
	return nil, errorAt(n, "unexpected YAML node")
}

// mapping converts a mapping. Keys the mapping sets itself win over merged ones (<<), and of
// several merged mappings the first wins, as the YAML merge key spec says.
func (c *converter) mapping(n *yaml.Node) (map[string]any, error) {
	out := make(map[string]any, len(n.Content)/2)
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			merges = append(merges, v)
			continue
		}
		key, err := c.key(k)
		if err != nil {
			return nil, err
		}
		val, err := c.value(v)
		if err != nil {
			return nil, err
		}
		out[key] = val
	}
	for _, m := range merges {
		v, err := c.value(m)
		if err != nil {
			return nil, err
		}
		sources, ok := v.([]any)
		if !ok {
			sources = []any{v}
		}
		for _, src := range sources {
			fields, ok := src.(map[string]any)
			if !ok {
				return nil, errorAt(m, "a merge key (<<) needs a mapping or a list of mappings")
			}
			for k, v := range fields {
				if _, set := out[k]; !set {
					out[k] = v
				}
			}
		}
	}
	return out, nil
}

// key converts a mapping key to the string JSON needs: a number, boolean or null key becomes
// its JSON text ("1", "true", "null").
func (c *converter) key(n *yaml.Node) (string, error) {
	v, err := c.value(n)
	if err != nil {
		return "", err
	}
	switch v := v.(type) {
	case string:
		return v, nil
	case json.Number:
		return v.String(), nil
	case bool:
		return strconv.FormatBool(v), nil
	case nil:
		return "null", nil
	}
	return "", errorAt(n, "a mapping key must be a string, number or boolean, not %s", describe(v))
}

// scalarValue resolves a scalar by its tag. yaml.v3 tags by YAML 1.2 rules, so plain YAML 1.1
// booleans arrive as strings and are resolved here.
func scalarValue(n *yaml.Node) (any, error) {
	if n.Style == 0 && n.Tag == "!!str" { // plain: neither quoted nor explicitly tagged
		if b, ok := plan.YAML11Bool(n.Value); ok {
			return b, nil
		}
	}
	switch n.Tag {
	case "!!str", "!!timestamp": // a timestamp stays the text it was, as with kubectl
		return n.Value, nil
	case "!!null":
		return nil, nil
	case "!!bool", "!!int", "!!float", "!!binary":
		return decodeScalar(n)
	}
	return n.Value, nil // a custom tag (!Ref and the like) means nothing to Kubernetes
}

// decodeScalar resolves a tagged scalar, taking a fast path for integers in canonical decimal
// form (the most common scalar after strings; not 0755, which is octal).
func decodeScalar(n *yaml.Node) (any, error) {
	if n.Tag == "!!int" {
		if i, err := strconv.ParseInt(n.Value, 10, 64); err == nil && strconv.FormatInt(i, 10) == n.Value {
			return json.Number(n.Value), nil
		}
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, errorAt(n, "%s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	switch v := v.(type) {
	case int:
		return json.Number(strconv.Itoa(v)), nil
	case int64:
		return json.Number(strconv.FormatInt(v, 10)), nil
	case uint64:
		return json.Number(strconv.FormatUint(v, 10)), nil
	case float64:
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return nil, errorAt(n, "%s is not a number JSON can hold", n.Value)
		}
		text, _ := json.Marshal(v) // the shortest form, as a JSON decoder would see it
		return json.Number(text), nil
	}
	return v, nil // bool, or the bytes of !!binary as a string
}

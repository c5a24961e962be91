package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// EncodeYAML prints an object as YAML with sorted keys, two-space indents and compact
// sequences, as kubectl does. It builds the YAML node tree directly: going through JSON, as
// sigs.k8s.io/yaml does, costs three times as much on large plans.
func EncodeYAML(v any) ([]byte, error) {
	node, err := toNode(v)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	enc.CompactSeqIndent()
	if err := enc.Encode(node); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func scalar(tag, value string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value}
}

func toNode(v any) (*yaml.Node, error) {
	switch v := v.(type) {
	case nil:
		return scalar("!!null", "null"), nil
	case string:
		return scalar("!!str", v), nil
	case bool:
		return scalar("!!bool", strconv.FormatBool(v)), nil
	case json.Number:
		if _, err := v.Int64(); err == nil {
			return scalar("!!int", v.String()), nil
		}
		f, err := v.Float64()
		if err != nil {
			return nil, fmt.Errorf("bad number %q", v)
		}
		return floatNode(f), nil
	case int:
		return scalar("!!int", strconv.Itoa(v)), nil
	case int64:
		return scalar("!!int", strconv.FormatInt(v, 10)), nil
	case float64:
		return floatNode(v), nil
	case map[string]any:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			val, err := toNode(v[k])
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, scalar("!!str", k), val)
		}
		return n, nil
	case Object:
		return toNode(map[string]any(v))
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, x := range v {
			val, err := toNode(x)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, val)
		}
		return n, nil
	}
	return nil, fmt.Errorf("cannot encode %T as YAML", v)
}

func floatNode(f float64) *yaml.Node {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return scalar("!!int", strconv.FormatInt(int64(f), 10))
	}
	return scalar("!!float", strconv.FormatFloat(f, 'g', -1, 64))
}

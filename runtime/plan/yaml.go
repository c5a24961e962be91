package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// EncodeYAML prints an object as YAML with sorted keys, two-space indents and compact
// sequences, as kubectl does. It is kiln's one YAML emitter: `kiln render`, encode_yaml and
// every YAML text kiln builds from objects go through it, so they all format alike. It builds
// the YAML node tree directly: going through JSON, as sigs.k8s.io/yaml does, costs three times
// as much on large plans.
func EncodeYAML(v any) ([]byte, error) {
	return EncodeYAMLStream([]any{v})
}

// EncodeYAMLStream prints each value as one YAML document, joined by "---" lines.
func EncodeYAMLStream[T any](docs []T) ([]byte, error) {
	var buf bytes.Buffer
	for i, v := range docs {
		node, err := toNode(v)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		enc.CompactSeqIndent()
		if err := enc.Encode(node); err != nil {
			return nil, err
		}
		if err := enc.Close(); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

func scalar(tag, value string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value}
}

// yaml11Bools are the plain scalars that YAML 1.1 reads as booleans and YAML 1.2 as strings.
// kubectl reads YAML 1.1 (through sigs.k8s.io/yaml), and so does kiln's decoder.
var yaml11Bools = map[string]bool{
	"y": true, "Y": true, "yes": true, "Yes": true, "YES": true, "on": true, "On": true, "ON": true,
	"true": true, "True": true, "TRUE": true,
	"n": false, "N": false, "no": false, "No": false, "NO": false, "off": false, "Off": false, "OFF": false,
	"false": false, "False": false, "FALSE": false,
}

// YAML11Bool reports whether a plain (unquoted, untagged) scalar is a YAML 1.1 boolean, and
// its value.
func YAML11Bool(plain string) (value, ok bool) {
	value, ok = yaml11Bools[plain]
	return value, ok
}

// str is a string scalar, quoted when a YAML 1.1 reader would take it for a boolean: the
// YAML 1.2 emitter leaves "yes" and "on" plain, and kubectl would read them back as true.
func str(s string) *yaml.Node {
	n := scalar("!!str", s)
	if _, ok := yaml11Bools[s]; ok {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

func toNode(v any) (*yaml.Node, error) {
	switch v := v.(type) {
	case nil:
		return scalar("!!null", "null"), nil
	case string:
		return str(v), nil
	case bool:
		return scalar("!!bool", strconv.FormatBool(v)), nil
	case json.Number:
		if isInteger(v.String()) { // as written, even past int64: a float would round it
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
			n.Content = append(n.Content, str(k), val)
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

// isInteger reports whether a JSON number is an integer literal: an optional minus, digits.
func isInteger(num string) bool {
	digits := strings.TrimPrefix(num, "-")
	if digits == "" {
		return false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

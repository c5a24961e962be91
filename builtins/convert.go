package builtins

import (
	"fmt"
	"math"
	"math/big"
	"sort"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// maxDataDepth is how deeply toGo follows nested lists and dicts: far deeper than any
// manifest, and shallow enough that encoding the result can never exhaust the Go stack.
const maxDataDepth = 1000

// toGo converts a Starlark value into JSON-compatible Go values (map[string]any, []any,
// string, int64, float64, bool, nil), for encoding and for Kubernetes objects. A list or dict
// that contains itself is an error naming where, not an endless recursion.
func toGo(v starlark.Value) (any, error) {
	c := converter{onPath: map[starlark.Value]bool{}}
	out, err := c.convert(v, 0)
	if err != nil && len(c.path) > 0 {
		return nil, fmt.Errorf("at %s: %w", strings.Join(reversed(c.path), ""), err)
	}
	return out, err
}

// converter walks a value, keeping the containers on the current path to detect cycles, and,
// when it fails, the path to the failure (innermost first).
type converter struct {
	onPath map[starlark.Value]bool
	path   []string
}

// enter marks a container as being converted; it fails if it already is (a cycle) or if the
// nesting is too deep.
func (c *converter) enter(v starlark.Value, depth int) error {
	if depth >= maxDataDepth {
		return fmt.Errorf("the value is nested more than %d levels deep", maxDataDepth)
	}
	if !mutable(v) {
		return nil // a cycle always passes through a list or a dict
	}
	if c.onPath[v] {
		return fmt.Errorf("the %s contains itself, so it has no JSON or YAML form", v.Type())
	}
	c.onPath[v] = true
	return nil
}

func (c *converter) leave(v starlark.Value) {
	if mutable(v) {
		delete(c.onPath, v)
	}
}

// mutable reports whether v is a list or a dict: the values that can be made to contain
// themselves, and the only ones usable as map keys here (a tuple is a slice).
func mutable(v starlark.Value) bool {
	switch v.(type) {
	case *starlark.List, *starlark.Dict:
		return true
	}
	return false
}

func (c *converter) fail(step string, err error) error {
	c.path = append(c.path, step)
	return err
}

func (c *converter) convert(v starlark.Value, depth int) (any, error) {
	switch v := v.(type) {
	case starlark.NoneType:
		return nil, nil
	case starlark.Bool:
		return bool(v), nil
	case starlark.Int:
		if i, ok := v.Int64(); ok {
			return i, nil
		}
		return nil, fmt.Errorf("integer %s is too large", v)
	case starlark.Float:
		return float64(v), nil
	case starlark.String:
		return string(v), nil
	case Blob:
		return v.Text, nil
	case *starlark.Dict:
		if err := c.enter(v, depth); err != nil {
			return nil, err
		}
		defer c.leave(v)
		out := make(map[string]any, v.Len())
		for _, item := range v.Items() {
			k, ok := starlark.AsString(item[0])
			if !ok {
				return nil, fmt.Errorf("dict keys must be strings, got %s", item[0].Type())
			}
			val, err := c.convert(item[1], depth+1)
			if err != nil {
				return nil, c.fail(fmt.Sprintf("[%q]", k), err)
			}
			out[k] = val
		}
		return out, nil
	case *starlarkstruct.Struct:
		if depth >= maxDataDepth {
			return nil, fmt.Errorf("the value is nested more than %d levels deep", maxDataDepth)
		}
		d := starlark.StringDict{}
		v.ToStringDict(d)
		out := make(map[string]any, len(d))
		for k, fv := range d {
			val, err := c.convert(fv, depth+1)
			if err != nil {
				return nil, c.fail("."+k, err)
			}
			out[k] = val
		}
		return out, nil
	case starlark.Indexable: // list, tuple
		if err := c.enter(v, depth); err != nil {
			return nil, err
		}
		defer c.leave(v)
		out := make([]any, v.Len())
		for i := 0; i < v.Len(); i++ {
			val, err := c.convert(v.Index(i), depth+1)
			if err != nil {
				return nil, c.fail(fmt.Sprintf("[%d]", i), err)
			}
			out[i] = val
		}
		return out, nil
	case *starlark.Set:
		var out []any
		it := v.Iterate()
		defer it.Done()
		var x starlark.Value
		for it.Next(&x) {
			val, err := c.convert(x, depth+1) // set elements are hashable: never containers of itself
			if err != nil {
				return nil, err
			}
			out = append(out, val)
		}
		return out, nil
	}
	return nil, fmt.Errorf("cannot convert %s to data", v.Type())
}

func reversed(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[len(s)-1-i] = x
	}
	return out
}

// fromGo converts decoded JSON or YAML values into Starlark values. Map keys are sorted so
// that dict iteration order is deterministic.
func fromGo(v any) starlark.Value {
	switch v := v.(type) {
	case nil:
		return starlark.None
	case bool:
		return starlark.Bool(v)
	case int:
		return starlark.MakeInt(v)
	case int64:
		return starlark.MakeInt64(v)
	case uint64:
		return starlark.MakeUint64(v)
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return starlark.MakeInt64(int64(v))
		}
		return starlark.Float(v)
	case *big.Int:
		return starlark.MakeBigInt(v)
	case string:
		return starlark.String(v)
	case []any:
		items := make([]starlark.Value, len(v))
		for i, x := range v {
			items[i] = fromGo(x)
		}
		return starlark.NewList(items)
	case map[string]any:
		d := starlark.NewDict(len(v))
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			_ = d.SetKey(starlark.String(k), fromGo(v[k]))
		}
		return d
	}
	return starlark.String(fmt.Sprint(v))
}

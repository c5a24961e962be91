package builtins

import (
	"fmt"
	"math"
	"math/big"
	"sort"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// toGo converts a Starlark value into JSON-compatible Go values (map[string]any, []any,
// string, int64, float64, bool, nil), for encoding and for Kubernetes objects.
func toGo(v starlark.Value) (any, error) {
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
		out := make(map[string]any, v.Len())
		for _, item := range v.Items() {
			k, ok := starlark.AsString(item[0])
			if !ok {
				return nil, fmt.Errorf("dict keys must be strings, got %s", item[0].Type())
			}
			val, err := toGo(item[1])
			if err != nil {
				return nil, err
			}
			out[k] = val
		}
		return out, nil
	case *starlarkstruct.Struct:
		d := starlark.StringDict{}
		v.ToStringDict(d)
		out := make(map[string]any, len(d))
		for k, fv := range d {
			val, err := toGo(fv)
			if err != nil {
				return nil, err
			}
			out[k] = val
		}
		return out, nil
	case starlark.Indexable: // list, tuple
		out := make([]any, v.Len())
		for i := 0; i < v.Len(); i++ {
			val, err := toGo(v.Index(i))
			if err != nil {
				return nil, err
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
			val, err := toGo(x)
			if err != nil {
				return nil, err
			}
			out = append(out, val)
		}
		return out, nil
	}
	return nil, fmt.Errorf("cannot convert %s to data", v.Type())
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

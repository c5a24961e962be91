package builtins

import (
	"fmt"
	"sort"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// Blob is Tilt's blob: text (usually YAML) that builtins such as helm() and local() return and
// k8s_yaml() accepts. str(blob) gives the text.
type Blob struct {
	Text string
	// Source names where the text came from, for error messages ("helm chart charts/web").
	Source string
}

var _ starlark.Value = Blob{}

func (b Blob) String() string        { return b.Text }
func (b Blob) Type() string          { return "blob" }
func (b Blob) Freeze()               {}
func (b Blob) Truth() starlark.Bool  { return len(b.Text) > 0 }
func (b Blob) Hash() (uint32, error) { return starlark.String(b.Text).Hash() }

// stringList unpacks a string or a list/tuple of strings, as many Tilt parameters accept.
type stringList []string

func (s *stringList) Unpack(v starlark.Value) error {
	out, err := toStringList(v)
	if err != nil {
		return err
	}
	*s = out
	return nil
}

func toStringList(v starlark.Value) ([]string, error) {
	switch v := v.(type) {
	case starlark.NoneType:
		return nil, nil
	case starlark.String:
		return []string{string(v)}, nil
	case Blob:
		return []string{v.Text}, nil
	case starlark.Iterable:
		var out []string
		it := v.Iterate()
		defer it.Done()
		var x starlark.Value
		for it.Next(&x) {
			s, ok := starlark.AsString(x)
			if !ok {
				return nil, fmt.Errorf("want a string or a list of strings, got a list holding %s", x.Type())
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("want a string or a list of strings, got %s", v.Type())
}

// stringMap unpacks a dict of string to string.
type stringMap map[string]string

func (m *stringMap) Unpack(v starlark.Value) error {
	if v == starlark.None {
		return nil
	}
	d, ok := v.(*starlark.Dict)
	if !ok {
		return fmt.Errorf("want a dict of strings, got %s", v.Type())
	}
	out := make(map[string]string, d.Len())
	for _, item := range d.Items() {
		k, ok1 := starlark.AsString(item[0])
		val, ok2 := starlark.AsString(item[1])
		if !ok1 {
			return fmt.Errorf("want a dict of strings, got a key of type %s", item[0].Type())
		}
		if !ok2 {
			// Tilt accepts numbers and bools as build args and env values; use their text.
			if item[1] == starlark.None {
				continue
			}
			val = item[1].String()
		}
		out[k] = val
	}
	*m = out
	return nil
}

// command unpacks a Tilt command: a string runs through "sh -c", a list is an argv.
type command []string

func (c *command) Unpack(v starlark.Value) error {
	switch v := v.(type) {
	case starlark.NoneType:
		return nil
	case starlark.String:
		if v == "" {
			*c = nil
			return nil
		}
		*c = []string{"sh", "-c", string(v)}
		return nil
	case Blob:
		*c = []string{"sh", "-c", v.Text}
		return nil
	}
	list, err := toStringList(v)
	if err != nil {
		return fmt.Errorf("want a command string or an argv list: %v", err)
	}
	*c = list
	return nil
}

// newStruct makes a struct value like Tilt's struct().
func newStruct(fields starlark.StringDict) *starlarkstruct.Struct {
	return starlarkstruct.FromStringDict(starlarkstruct.Default, fields)
}

// sortedStrings returns the keys of m, sorted.
func sortedStrings[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

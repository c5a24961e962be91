package inject

import (
	"fmt"
	"strconv"
	"strings"
)

// step is one segment of a JSONPath: a field name, an index, or [*].
type step struct {
	field string
	index int // -1 for [*], -2 for a field step
}

// ParsePath parses the JSONPath subset k8s_kind needs: {.a.b[*].c}, {.a[0]}, .a.b.
func ParsePath(path string) ([]step, error) {
	p := strings.TrimSpace(path)
	p = strings.TrimSuffix(strings.TrimPrefix(p, "{"), "}")
	if !strings.HasPrefix(p, ".") {
		return nil, fmt.Errorf("JSONPath %q must start with '.', like {.spec.image}", path)
	}
	var steps []step
	for _, part := range strings.Split(p[1:], ".") {
		name := part
		var idx []string
		if i := strings.Index(part, "["); i >= 0 {
			name = part[:i]
			rest := part[i:]
			for rest != "" {
				if !strings.HasPrefix(rest, "[") || !strings.Contains(rest, "]") {
					return nil, fmt.Errorf("JSONPath %q: bad index in %q", path, part)
				}
				end := strings.Index(rest, "]")
				idx = append(idx, rest[1:end])
				rest = rest[end+1:]
			}
		}
		if name == "" && len(idx) == 0 {
			return nil, fmt.Errorf("JSONPath %q has an empty segment", path)
		}
		if name != "" {
			steps = append(steps, step{field: name, index: -2})
		}
		for _, ix := range idx {
			if ix == "*" {
				steps = append(steps, step{index: -1})
				continue
			}
			// A minus sign is refused even on "-0": there is no counting from the end.
			n, err := strconv.Atoi(ix)
			if err != nil || n < 0 || strings.HasPrefix(ix, "-") {
				return nil, fmt.Errorf("JSONPath %q: index %q is not [*] or a number", path, ix)
			}
			steps = append(steps, step{index: n})
		}
	}
	return steps, nil
}

// visit calls fn for every value the path reaches, with a getter and a setter.
func visit(v any, steps []step, fn func(get func() any, set func(any))) {
	if len(steps) == 0 {
		return
	}
	s, rest := steps[0], steps[1:]
	switch s.index {
	case -2:
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		x, ok := m[s.field]
		if !ok {
			return
		}
		if len(rest) == 0 {
			fn(func() any { return m[s.field] }, func(nv any) { m[s.field] = nv })
			return
		}
		visit(x, rest, fn)
	default:
		list, ok := v.([]any)
		if !ok {
			return
		}
		for i := range list {
			if s.index >= 0 && i != s.index {
				continue
			}
			if len(rest) == 0 {
				i := i
				fn(func() any { return list[i] }, func(nv any) { list[i] = nv })
				continue
			}
			visit(list[i], rest, fn)
		}
	}
}

package inject

import (
	"encoding/json"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"k8s.io/client-go/util/jsonpath"
)

// formatPath writes steps in the braced form ParsePath reads.
func formatPath(steps []step) string {
	var b strings.Builder
	b.WriteString("{")
	for i, s := range steps {
		switch s.index {
		case -2:
			b.WriteString("." + s.field)
		default:
			if i == 0 {
				b.WriteString(".") // a path starts with '.', even before an index
			}
			if s.index == -1 {
				b.WriteString("[*]")
			} else {
				b.WriteString("[" + strconv.Itoa(s.index) + "]")
			}
		}
	}
	b.WriteString("}")
	return b.String()
}

// docFor builds a document that holds leaf at every place steps reach: a map per field, a
// list of two per [*], a list of n+1 per [n] (nil elsewhere). It returns the document and
// how many places the path reaches; ok is false when the lists would be too long.
func docFor(steps []step, leaf any) (doc any, places int, ok bool) {
	if len(steps) == 0 {
		return leaf, 1, true
	}
	s := steps[0]
	switch {
	case s.index == -2:
		inner, n, ok := docFor(steps[1:], leaf)
		decoy, _, _ := docFor(steps[1:], "decoy")
		return map[string]any{s.field: inner, s.field + "-other": decoy}, n, ok
	case s.index == -1:
		a, n, ok := docFor(steps[1:], leaf)
		b, _, _ := docFor(steps[1:], leaf)
		return []any{a, b}, 2 * n, ok
	case s.index > 64:
		return nil, 0, false
	default:
		// Decoys around the place, so that reaching another element shows.
		list := make([]any, s.index+2)
		for i := range list {
			list[i], _, _ = docFor(steps[1:], "decoy")
		}
		inner, n, ok := docFor(steps[1:], leaf)
		list[s.index] = inner
		return list, n, ok
	}
}

var leadingZeros = regexp.MustCompile(`\[\+?0*([0-9])`)

// normalPath is path as formatPath would write it, if ParsePath reads it as written: outer
// blanks and braces trimmed, indices without sign or leading zeros, no '.' before a '['
// except the first.
func normalPath(path string) string {
	p := strings.TrimSpace(path)
	p = strings.TrimSuffix(strings.TrimPrefix(p, "{"), "}")
	p = leadingZeros.ReplaceAllString(p, "[$1")
	if strings.HasPrefix(p, ".[") {
		return "{.[" + strings.ReplaceAll(p[2:], ".[", "[") + "}"
	}
	return "{" + strings.ReplaceAll(p, ".[", "[") + "}"
}

var simpleFields = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// FuzzJSONPath parses random JSONPaths and walks random documents with them. ParsePath and
// visit never panic; an accepted path has no empty field, re-parses from its written form to
// the same steps, and on a document built along it reaches exactly the places it names: each
// getter sees what was there, each setter changes only its place. For paths of plain field
// names, client-go's JSONPath finds the same values.
func FuzzJSONPath(f *testing.F) {
	for _, p := range []string{
		"{.spec.image}", "{.spec.containers[*].image}", "{.spec.template.spec.initContainers[*].image}",
		"{.spec.jobTemplate.spec.template.spec.containers[0].image}", ".spec.image", "{.a[0][1]}",
		"{.items[*][*].x}", "{.[0]}", "{.a}}", "{{.a}", "{.a..b}", "{.}", "", "spec.image", "{.a[}", "{.a[x]}",
		"{.a[-1]}", "{.a[*]b}", "{.a[ 1]}", "{.a[+1]}", "{.a]}", "  {.a.b}  ", "{.a[99999999999999999999]}",
		"{.metadata.annotations['x']}", "{.a[0]}.b", "{.a[0]x}", "{.a[0][*]xb}", "{.a.[0]}", "{.a[007]}",
	} {
		f.Add(p, `{"spec": {"image": "web", "containers": [{"image": "a"}, {"image": "b"}]}, "a": [[1, 2], [3]]}`)
	}
	f.Add("{.a[*]}", `{"a": {"b": 1}}`)
	f.Add("{.a.b}", `{"a": [{"b": 1}]}`)
	f.Add("{.a[1]}", `{"a": [1]}`)
	f.Add("{.a.c}", `{"a": {"b": 1}}`)
	f.Fuzz(func(t *testing.T, path, docJSON string) {
		steps, err := ParsePath(path)
		if err != nil {
			if !strings.Contains(err.Error(), strconv.Quote(path)) {
				t.Fatalf("ParsePath(%q): error %q does not name the path", path, err)
			}
			return
		}
		if len(steps) == 0 {
			t.Fatalf("ParsePath(%q): accepted with no steps", path)
		}
		for _, s := range steps {
			if s.index == -2 && (s.field == "" || strings.ContainsAny(s.field, ".[")) || s.index < -2 {
				t.Fatalf("ParsePath(%q): bad step %+v in %+v", path, s, steps)
			}
		}
		// Each [*] step was written so, and each index and field was written in the path.
		wild := 0
		for _, s := range steps {
			switch {
			case s.index == -1:
				wild++
			case s.index >= 0 && !regexp.MustCompile(`\[\+?0*`+strconv.Itoa(s.index)+`\]`).MatchString(path):
				t.Fatalf("ParsePath(%q): index %d is not in the path", path, s.index)
			case s.index == -2 && !strings.Contains(path, s.field):
				t.Fatalf("ParsePath(%q): field %q is not in the path", path, s.field)
			}
		}
		if wild > strings.Count(path, "[*]") {
			t.Fatalf("ParsePath(%q) = %+v: more [*] steps than the path has", path, steps)
		}
		written := formatPath(steps)
		if want := normalPath(path); written != want {
			t.Fatalf("ParsePath(%q) = %+v, written %q; want %q, as the path says", path, steps, written, want)
		}
		again, err := ParsePath(written)
		if err != nil || !reflect.DeepEqual(again, steps) {
			t.Fatalf("ParsePath(%q) = %+v, written %q, re-parses to %+v, %v", path, steps, written, again, err)
		}

		// A random document: no panic, every setter sets what its getter reads, and setting
		// back what was read gives the document as it was: a walk reaches only what exists.
		var doc any
		if json.Unmarshal([]byte(docJSON), &doc) == nil {
			orig, _ := json.Marshal(doc)
			var restore []func()
			visit(doc, steps, func(get func() any, set func(any)) {
				was := get()
				set("kiln-set")
				if get() != "kiln-set" {
					t.Fatalf("%q: a setter did not change what its getter reads", path)
				}
				restore = append(restore, func() { set(was) })
			})
			for _, r := range restore {
				r()
			}
			if back, _ := json.Marshal(doc); string(back) != string(orig) {
				t.Fatalf("%q: walking %s left %s", path, orig, back)
			}
		}

		// A document built along the path.
		built, places, ok := docFor(steps, "leaf")
		if !ok {
			return
		}
		before, _ := json.Marshal(built)
		reached := 0
		visit(built, steps, func(get func() any, set func(any)) {
			if get() != "leaf" {
				t.Fatalf("%q reached %#v, not a leaf, in %s", path, get(), before)
			}
			set("new-" + strconv.Itoa(reached))
			reached++
		})
		if reached != places {
			t.Fatalf("%q reached %d places in %s, want %d", path, reached, before, places)
		}
		// A second walk reads what the first set, in the same order; setting the leaves back
		// gives the document as it was, so the setters changed their places and nothing else.
		second := 0
		visit(built, steps, func(get func() any, set func(any)) {
			if want := "new-" + strconv.Itoa(second); get() != want {
				t.Fatalf("%q: place %d reads %#v after the first walk, want %q", path, second, get(), want)
			}
			set("leaf")
			second++
		})
		if after, _ := json.Marshal(built); string(after) != string(before) {
			t.Fatalf("%q: the setters changed more than their places:\n%s\n%s", path, before, after)
		}

		// The same values as client-go's JSONPath, for plain field names.
		plain := true
		for _, s := range steps {
			plain = plain && (s.index != -2 || simpleFields.MatchString(s.field))
		}
		if !plain || steps[0].index != -2 {
			return
		}
		built, _, _ = docFor(steps, "leaf")
		jp := jsonpath.New("fuzz").AllowMissingKeys(true)
		if err := jp.Parse(written); err != nil {
			t.Fatalf("client-go cannot parse %q: %v", written, err)
		}
		results, err := jp.FindResults(built)
		if err != nil {
			t.Fatalf("client-go on %q: %v", written, err)
		}
		found := 0
		for _, rs := range results {
			for _, r := range rs {
				if r.Interface() != "leaf" {
					t.Fatalf("client-go finds %#v for %q in %s", r.Interface(), written, before)
				}
				found++
			}
		}
		if found != places {
			t.Fatalf("client-go finds %d values for %q in %s, kiln %d", found, written, before, places)
		}
	})
}

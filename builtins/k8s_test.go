package builtins

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/kiln-dev/kiln/starlark/host"
	"go.starlark.net/starlark"
)

// callK8sYAML calls k8s_yaml(blob) for one ConfigMap named name.
func callK8sYAML(s *State, name string, allowDup bool) error {
	text := fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n", name)
	b := starlark.NewBuiltin("k8s_yaml", s.k8sYAML)
	kwargs := []starlark.Tuple{{starlark.String("allow_duplicates"), starlark.Bool(allowDup)}}
	_, err := s.k8sYAML(&starlark.Thread{}, b, starlark.Tuple{Blob{Text: text, Source: name + ".yaml"}}, kwargs)
	return err
}

func newTestState(t *testing.T) *State {
	return newState(host.New(t.TempDir(), nil), Options{Stdout: io.Discard, Stderr: io.Discard})
}

// TestK8sYAMLDuplicates: a duplicate is refused whether it was declared by an earlier call
// (with or without allow_duplicates) or earlier in the same call, and a refused call records
// nothing.
func TestK8sYAMLDuplicates(t *testing.T) {
	s := newTestState(t)
	if err := callK8sYAML(s, "a", false); err != nil {
		t.Fatal(err)
	}
	if err := callK8sYAML(s, "a", true); err != nil {
		t.Fatalf("allow_duplicates=True: %v", err)
	}
	if err := callK8sYAML(s, "b", true); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		err := callK8sYAML(s, name, false)
		if err == nil || !strings.Contains(err.Error(), "duplicate object "+name+":configmap") {
			t.Errorf("k8s_yaml(%s) again: want a duplicate error, got %v", name, err)
		}
	}
	twice := Blob{Text: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n", Source: "c.yaml"}
	b := starlark.NewBuiltin("k8s_yaml", s.k8sYAML)
	if _, err := s.k8sYAML(&starlark.Thread{}, b, starlark.Tuple{twice}, nil); err == nil {
		t.Error("a duplicate within one call was accepted")
	}
	if len(s.yaml) != 3 {
		t.Errorf("got %d entries, want the 3 accepted calls", len(s.yaml))
	}
	if err := callK8sYAML(s, "c", false); err != nil {
		t.Errorf("a refused call must not record its objects: %v", err)
	}
}

// TestK8sYAMLCostIsPerCall: one k8s_yaml() call costs the same whether 100 or 2,000 objects
// were declared before it. Counting allocations keeps the test exact on a busy machine,
// where timing would be noise: rebuilding the duplicate index on every call allocated a key
// per earlier object, which made 20,000 calls take minutes.
func TestK8sYAMLCostIsPerCall(t *testing.T) {
	allocsAfter := func(n int) float64 {
		s := newTestState(t)
		for i := 0; i < n; i++ {
			if err := callK8sYAML(s, fmt.Sprintf("cm-%d", i), false); err != nil {
				t.Fatal(err)
			}
		}
		i := 0
		return testing.AllocsPerRun(20, func() {
			i++
			if err := callK8sYAML(s, fmt.Sprintf("extra-%d", i), false); err != nil {
				t.Fatal(err)
			}
		})
	}
	few, many := allocsAfter(100), allocsAfter(2000)
	if many > few*1.2+10 {
		t.Errorf("a k8s_yaml() call after 2,000 objects allocates %.0f times, after 100 only %.0f: the cost grows with what came before", many, few)
	}
}

package host

import (
	"strings"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

func panicky(name string) *starlark.Builtin {
	return starlark.NewBuiltin(name, func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
		var p *struct{ x int }
		return starlark.MakeInt(p.x), nil // nil dereference
	})
}

// A panic in a builtin, a module member included, is an error with the Starlark backtrace.
func TestGuardTurnsBuiltinPanicsIntoErrors(t *testing.T) {
	for _, call := range []string{"boom()", "mod.boom()"} {
		h, main, _ := project(t, map[string]string{"Kilnfile": "x = 1\n" + call + "\n"})
		h.Predeclared = Guard(starlark.StringDict{
			"boom": panicky("boom"),
			"mod":  &starlarkstruct.Module{Name: "mod", Members: starlark.StringDict{"boom": panicky("mod.boom")}},
		})
		msg := exec(t, h, main)
		name := strings.TrimSuffix(call, "()")
		want := "Traceback (most recent call last):\n  Kilnfile:2:"
		if !strings.HasPrefix(msg, want) || !strings.Contains(msg, "Error in "+name+": internal error: runtime error: invalid memory address or nil pointer dereference (at github.com/kiln-dev/kiln/starlark/host.") || !strings.Contains(msg, "panicky") {
			t.Fatalf("%s:\n%s", call, msg)
		}
	}
}

func TestGuardKeepsOtherValues(t *testing.T) {
	d := Guard(starlark.StringDict{"n": starlark.MakeInt(1), "s": starlark.String("x")})
	if d["n"] != starlark.MakeInt(1) || d["s"] != starlark.String("x") {
		t.Fatalf("Guard changed plain values: %v", d)
	}
}

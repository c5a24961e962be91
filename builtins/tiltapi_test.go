package builtins

import (
	"context"
	"strings"
	"testing"
)

// Every name of tiltAPI resolves and, for module members, is an attribute at run time: a
// Tiltfile naming any of them evaluates.
func TestTiltAPINamesResolve(t *testing.T) {
	var b strings.Builder
	b.WriteString("names = [\n")
	for _, name := range tiltAPI {
		b.WriteString("    " + name + ",\n")
	}
	b.WriteString("]\n")
	if msg := evalFiles(t, context.Background(), map[string]string{"Kilnfile": b.String()}, Options{}); msg != "" {
		t.Fatalf("naming every Tilt builtin failed:\n%s", msg)
	}
}

// A Tilt builtin kiln lacks fails only when called, naming itself, the call's file:line and
// what to do.
func TestUnsupportedTiltBuiltinFailsWhenCalled(t *testing.T) {
	for _, call := range []string{"v1alpha1.config_map(name='c')", "v1alpha1.kubernetes_apply(name='k')", "v1alpha1.file_watch(name='w')"} {
		name := call[:strings.Index(call, "(")]
		msg := evalFiles(t, context.Background(), map[string]string{"Kilnfile": "x = 1\n" + call + "\n"}, Options{})
		mustContain(t, msg, name+" is a Tilt builtin that kiln does not support yet", "called at Kilnfile:2:", "sys.executable != 'kiln'")
	}
}

// tiltAPI names each entry once.
func TestTiltAPINoRepeats(t *testing.T) {
	seen := map[string]bool{}
	for _, n := range tiltAPI {
		if seen[n] {
			t.Errorf("%s is listed twice", n)
		}
		seen[n] = true
	}
}

package builtins

import (
	"strings"
	"testing"

	"github.com/kiln-dev/kiln/runtime/plan"
	"go.starlark.net/starlark"
)

// TestEncodeYAMLFormatsAsRender: encode_yaml and encode_yaml_stream print exactly what
// `kiln render` prints for the same value (one emitter: plan.EncodeYAML). They used
// sigs.k8s.io/yaml, which folds long strings and left "yes" for kubectl to read as true.
func TestEncodeYAMLFormatsAsRender(t *testing.T) {
	d := starlark.NewDict(3)
	_ = d.SetKey(starlark.String("long"), starlark.String(strings.Repeat("word ", 30)))
	_ = d.SetKey(starlark.String("on"), starlark.String("yes"))
	_ = d.SetKey(starlark.String("list"), starlark.NewList([]starlark.Value{starlark.MakeInt(1), starlark.Float(2.5)}))
	g, err := toGo(d)
	if err != nil {
		t.Fatal(err)
	}
	want, err := plan.EncodeYAML(g)
	if err != nil {
		t.Fatal(err)
	}
	thread := &starlark.Thread{}
	got, err := starlark.Call(thread, starlark.NewBuiltin("encode_yaml", encodeYAML), starlark.Tuple{d}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.(Blob).Text != string(want) {
		t.Errorf("encode_yaml:\n%s\nkiln render:\n%s", got.(Blob).Text, want)
	}
	stream, err := starlark.Call(thread, starlark.NewBuiltin("encode_yaml_stream", encodeYAMLStream), starlark.Tuple{starlark.NewList([]starlark.Value{d, d})}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if stream.(Blob).Text != string(want)+"---\n"+string(want) {
		t.Errorf("encode_yaml_stream:\n%s\nwant each document as kiln render prints it:\n%s", stream.(Blob).Text, want)
	}
}

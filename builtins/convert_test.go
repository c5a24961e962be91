package builtins

import (
	"context"
	"testing"
)

// encode_json and encode_yaml of a value that contains itself crashed the Go runtime with a
// stack overflow (exit 2).
func TestEncodeCyclicValueIsAnError(t *testing.T) {
	for kf, want := range map[string]string{
		"l = [1]\nl.append(l)\nencode_json(l)\n":                       "Error in encode_json: at [1]: the list contains itself",
		"d = {'a': {}}\nd['a']['b'] = d\nencode_yaml(d)\n":             `Error in encode_yaml: at ["a"]["b"]: the dict contains itself`,
		"l = []\nt = (l,)\nl.append(t)\nencode_json({'x': l})\n":       `Error in encode_json: at ["x"][0][0]: the list contains itself`,
		"l = []\nfor i in range(2000):\n    l = [l]\nencode_json(l)\n": "nested more than 1000 levels deep",
	} {
		msg := evalFiles(t, context.Background(), map[string]string{"Kilnfile": kf}, Options{})
		mustContain(t, msg, "Kilnfile:", want)
	}
}

// A value shared twice, without a cycle, converts.
func TestEncodeSharedValue(t *testing.T) {
	kf := "l = [1]\nx = encode_json([l, l, {'a': l, 'b': l}])\nif x.count('1') != 4:\n    fail(x)\n"
	if msg := evalFiles(t, context.Background(), map[string]string{"Kilnfile": kf}, Options{}); msg != "" {
		t.Fatal(msg)
	}
}

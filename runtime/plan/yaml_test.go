package plan

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestEncodeYAMLQuotesYAML11Bools: kubectl reads YAML 1.1, where a plain yes, on or y is a
// boolean. A string with such a value must come out quoted, key or value, or applying the
// rendered YAML turns it into true.
func TestEncodeYAMLQuotesYAML11Bools(t *testing.T) {
	out, err := EncodeYAML(map[string]any{"on": "yes", "y": "n", "flag": true, "text": "yesterday"})
	if err != nil {
		t.Fatal(err)
	}
	want := "flag: true\n\"on\": \"yes\"\ntext: yesterday\n\"y\": \"n\"\n"
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}

// TestEncodeYAMLBigIntegers: an integer past int64 prints as written, not rounded to a float.
func TestEncodeYAMLBigIntegers(t *testing.T) {
	out, err := EncodeYAML(map[string]any{"big": json.Number("12345678901234567890"), "neg": json.Number("-42")})
	if err != nil {
		t.Fatal(err)
	}
	if want := "big: 12345678901234567890\nneg: -42\n"; string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}

// TestEncodeYAMLStream joins documents with "---" lines, each formatted as EncodeYAML does.
func TestEncodeYAMLStream(t *testing.T) {
	long := strings.Repeat("word ", 30)
	out, err := EncodeYAMLStream([]any{map[string]any{"a": long}, []any{"x"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := "a: '" + long + "'\n---\n- x\n"; string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}

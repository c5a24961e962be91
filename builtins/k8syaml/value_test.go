package k8syaml

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestScalarsResolveAsKubectl: scalars mean what kubectl (sigs.k8s.io/yaml, YAML 1.1) reads.
func TestScalarsResolveAsKubectl(t *testing.T) {
	stream := `yes: yes
on: On
no: n
quoted: "yes"
tagged: !!str on
octal: 0755
hex: 0x1F
under: 1_000
float: 1.0
exp: 3.0e2
frac: 1.10
big: 12345678901234567890
neg: -0
stamp: 2001-12-14
null: ~
1: one
1.5: x
true: t
custom: !Ref name
bin: !!binary aGVsbG8=
`
	docs, err := DecodeStream("s.yaml", []byte(stream))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"true": "t", "false": false, "quoted": "yes", "tagged": "on",
		"octal": json.Number("493"), "hex": json.Number("31"), "under": json.Number("1000"),
		"float": json.Number("1"), "exp": json.Number("300"), "frac": json.Number("1.1"),
		"big": json.Number("12345678901234567890"), "neg": json.Number("0"),
		"stamp": "2001-12-14", "null": nil, "1": "one", "1.5": "x",
		"custom": "name", "bin": "hello",
	}
	// yes: yes and on: On are both the key "true", and the later one wins, as with kubectl.
	if got := docs[0]; !reflect.DeepEqual(got, want) {
		t.Errorf("got  %#v\nwant %#v", got, want)
	}
}

// TestAliasesAndMerges: aliases copy, merge keys fill in what a mapping does not set, and a
// repeated key keeps its last value.
func TestAliasesAndMerges(t *testing.T) {
	stream := `base: &base {a: 1, b: 2}
more: &more {b: 3, c: 4}
one: *base
merged:
  <<: [*base, *more]
  a: 0
dup: 1
dup: 2
`
	docs, err := DecodeStream("s.yaml", []byte(stream))
	if err != nil {
		t.Fatal(err)
	}
	m := docs[0].(map[string]any)
	n := func(s string) json.Number { return json.Number(s) }
	if want := map[string]any{"a": n("0"), "b": n("2"), "c": n("4")}; !reflect.DeepEqual(m["merged"], want) {
		t.Errorf("merged = %v, want %v", m["merged"], want)
	}
	if m["dup"] != n("2") {
		t.Errorf("dup = %v, want the last value", m["dup"])
	}
	// An alias is a copy: changing one object must not change another (image injection and
	// helm(namespace=) edit objects in place).
	m["one"].(map[string]any)["a"] = "changed"
	if m["base"].(map[string]any)["a"] != n("1") {
		t.Error("an alias shares its value with its anchor")
	}
}

// TestAliasBomb: a "billion laughs" document is refused at once, not expanded.
func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 10; i++ {
		b.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	start := time.Now()
	_, err := DecodeStream("bomb.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "aliases expand to too many values") {
		t.Fatalf("got %v, want the bomb refused", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("refusing the bomb took %v", d)
	}
}

// TestEncodeRoundTrip: EncodeObjects writes what DecodeObjects reads back the same, strings
// that YAML 1.1 would take for booleans included (a plain key y is one: it reads as "true").
func TestEncodeRoundTrip(t *testing.T) {
	stream := `apiVersion: v1
kind: ConfigMap
metadata: {name: a, labels: {"on": "yes"}}
data: {y: "n", big: "1", text: "line 1\nline 2\n", long: "` + strings.Repeat("word ", 30) + `"}
spec: {replicas: 12345678901234567890}
`
	objs, err := DecodeObjects("s.yaml", []byte(stream))
	if err != nil {
		t.Fatal(err)
	}
	out, err := EncodeObjects(objs)
	if err != nil {
		t.Fatal(err)
	}
	again, err := DecodeObjects("again.yaml", out)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again, objs) {
		t.Errorf("round trip changed the object:\n%s\n got %v\nwant %v", out, again, objs)
	}
	for _, want := range []string{`"on": "yes"`, `"true": "n"`, "replicas: 12345678901234567890\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
}

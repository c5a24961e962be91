package k8syaml

import (
	"reflect"
	"strings"
	"testing"
)

func TestDecodeObjectsLinesAndLists(t *testing.T) {
	stream := "# leading comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  n: \"1\"\n---\n\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata:\n    name: b\n  spec:\n    ports:\n    - port: 80\n"
	objs, err := DecodeObjects("x.yaml", []byte(stream))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 || objs[0].Name() != "a" || objs[1].Kind() != "Service" {
		t.Fatalf("got %v", objs)
	}
	out, err := EncodeObjects(objs)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "port: 80\n") {
		t.Fatalf("integer lost its form:\n%s", out)
	}
}

func TestDecodeObjectsErrorLine(t *testing.T) {
	stream := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n  labels: [x\n"
	_, err := DecodeObjects("bad.yaml", []byte(stream))
	// The bad flow sequence is on line 10 of the stream (line 5 of its document).
	if err == nil || !strings.HasPrefix(err.Error(), "bad.yaml:10: invalid YAML") {
		t.Fatalf("want an error at bad.yaml:10, got %v", err)
	}
	_, err = DecodeObjects("noname.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n"))
	if err == nil || !strings.Contains(err.Error(), "noname.yaml:1: ConfigMap has no metadata.name") {
		t.Fatalf("got %v", err)
	}
}

func FuzzDecodeObjects(f *testing.F) {
	f.Add("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n")
	f.Add("---\n- a\n---\nkind: List\napiVersion: v1\nitems: [1]\n")
	f.Add("a: [\n")
	f.Add("--- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}, data: {on: yes, n: '1'}}\n...\n")
	f.Add("apiVersion: v1\nkind: ConfigMap\nmetadata: &m {name: b}\ndata:\n  <<: *m\n  x: 0x1F\n")
	f.Fuzz(func(t *testing.T, s string) {
		objs, err := DecodeObjects("f.yaml", []byte(s))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.yaml:") {
				t.Fatalf("error does not name the source: %v", err)
			}
			return
		}
		// Whatever decodes must encode and decode again to the same objects.
		out, err := EncodeObjects(objs)
		if err != nil {
			t.Fatal(err)
		}
		again, err := DecodeObjects("g.yaml", out)
		if err != nil {
			t.Fatalf("re-decode: %v\n%s", err, out)
		}
		if len(again) != len(objs) {
			t.Fatalf("round trip changed the object count: %d != %d", len(again), len(objs))
		}
		if !reflect.DeepEqual(again, objs) {
			t.Fatalf("round trip changed the objects:\n%s\n got %v\nwant %v", out, again, objs)
		}
	})
}

// TestDocumentOnSeparatorLine: a document may start on its "---" line; the old splitter took
// the whole line for a separator and dropped the object.
func TestDocumentOnSeparatorLine(t *testing.T) {
	stream := "--- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n" +
		"--- # a comment, then the document\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n" +
		"--- !!map\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
	objs, err := DecodeObjects("s.yaml", []byte(stream))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range objs {
		names = append(names, o.Name())
	}
	if strings.Join(names, ",") != "a,b,c" {
		t.Fatalf("got objects %v, want a, b and c", names)
	}
}

// TestEmptyDocumentsDropped: blank, comment-only and null documents are no objects; "..."
// ends a document.
func TestEmptyDocumentsDropped(t *testing.T) {
	for stream, want := range map[string]int{
		"":                          0,
		"# only a comment\n":        0,
		"---\n---\n# c\n---\n":      0,
		"--- ~\n--- null\n":         0,
		"a: 1\n...\n# after\n":      1,
		"a: 1\n...\n---\nb: 2\n...": 2,
		"--- |\n  text\n":           1,
	} {
		docs, err := DecodeStream("s.yaml", []byte(stream))
		if err != nil || len(docs) != want {
			t.Errorf("DecodeStream(%q) = %d documents, %v; want %d", stream, len(docs), err, want)
		}
	}
}

// TestErrorLines: every error names the line of the stream where the problem is, for the
// parser's errors (which yaml.v3 numbers from 0), the scanner's, and kiln's own.
func TestErrorLines(t *testing.T) {
	for stream, want := range map[string]string{
		"[a":                      "s.yaml:1: invalid YAML: did not find expected ',' or ']'",
		"x:\n  - [a\n":            "s.yaml:2: invalid YAML: did not find expected ',' or ']'",
		"a: 1\n---\nb: [\n  c\n":  "s.yaml:3: invalid YAML: did not find expected ',' or ']'",
		"a: 1\n...\nb: 2\n":       "s.yaml:3: invalid YAML: did not find expected <document start>",
		"a: 1\nb: c: d\n":         "s.yaml:2: invalid YAML: mapping values are not allowed in this context",
		"a: 1\n---\n\tb: 2\n":     "s.yaml:3: invalid YAML: found character that cannot start any token",
		"a: 1\nb: \"\x01\"\n":     "s.yaml:2: invalid YAML: control characters are not allowed",
		"a: 1\n---\nb: .inf\n":    "s.yaml:3: invalid YAML: .inf is not a number JSON can hold",
		"? [a]\n: 1\n":            "s.yaml:1: invalid YAML: a mapping key must be a string, number or boolean, not a list",
		"a: 1\nx: &a [*a]\n":      "s.yaml:2: invalid YAML: anchor \"a\" contains itself",
		"a: &m 1\nb:\n  <<: *m\n": "s.yaml:3: invalid YAML: a merge key (<<) needs a mapping or a list of mappings",
	} {
		_, err := DecodeStream("s.yaml", []byte(stream))
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("DecodeStream(%q):\n got %v\nwant %s...", stream, err, want)
		}
	}
	const pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
	for stream, want := range map[string]string{
		pod + "---\n\n--- [1]\n":            "s.yaml:6: a Kubernetes object must be a mapping, got a list",
		"# c\n\n--- {kind: ConfigMap}\n":    "s.yaml:3: object has no apiVersion",
		pod + "---\n# c\nkind: ConfigMap\n": "s.yaml:6: object has no apiVersion",
		"apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: p}\n- apiVersion: v1\n  kind: Pod\n  metadata: {}\n": "s.yaml:7: Pod has no metadata.name",
	} {
		_, err := DecodeObjects("s.yaml", []byte(stream))
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("DecodeObjects(%q):\n got %v\nwant %s...", stream, err, want)
		}
	}
}

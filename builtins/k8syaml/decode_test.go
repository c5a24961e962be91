package k8syaml

import (
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
	})
}

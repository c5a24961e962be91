package dockerfile

import (
	"reflect"
	"testing"
)

// ParseCached answers as Parse does, from the cache the second time, and keys on build args.
func TestParseCached(t *testing.T) {
	src := []byte("ARG BASE=alpine\nFROM $BASE\nCOPY . /app\n")
	want, wantCopies, err := Parse(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, copies, err := ParseCached(src, nil)
	if err != nil || !reflect.DeepEqual(got, want) || !reflect.DeepEqual(copies, wantCopies) {
		t.Fatalf("ParseCached = %+v %+v %v, want %+v %+v", got, copies, err, want, wantCopies)
	}
	again, _, _ := ParseCached(src, nil)
	if again != got {
		t.Error("a second ParseCached of the same Dockerfile parsed it again")
	}
	other, _, _ := ParseCached(src, map[string]string{"BASE": "debian"})
	if other.Stages[0].BaseName != "debian" {
		t.Errorf("build args are part of the key: FROM %q", other.Stages[0].BaseName)
	}
	if _, _, err := ParseCached([]byte("FROM\n"), nil); err == nil {
		t.Error("a broken Dockerfile parsed")
	}
}

package filememo

import (
	"fmt"
	"testing"
)

// watches is a fake watcher: a token per watched path, replaced when the watch is.
type watches map[string]*int

func (w watches) vouch(p string) any {
	if t, ok := w[p]; ok {
		return t
	}
	return nil
}

func (w watches) watch(paths ...string) {
	for _, p := range paths {
		w[p] = new(int)
	}
}

func TestKeepsWhileWatched(t *testing.T) {
	w := watches{}
	w.watch("/p/a.yaml")
	m := New(w.vouch)
	if _, tk, ok := m.Get("read /p/a.yaml", "/p/a.yaml"); ok {
		t.Fatal("hit on an empty memo")
	} else {
		m.Put(tk, "A", 1)
	}
	v, _, ok := m.Get("read /p/a.yaml", "/p/a.yaml")
	if !ok || v != "A" {
		t.Fatalf("got %v %v, want the value kept", v, ok)
	}
	m.Changed([]string{"/p/b.yaml"})
	if _, _, ok := m.Get("read /p/a.yaml", "/p/a.yaml"); !ok {
		t.Fatal("a change to another file dropped the value")
	}
	m.Changed([]string{"/p/a.yaml"})
	if _, _, ok := m.Get("read /p/a.yaml", "/p/a.yaml"); ok {
		t.Fatal("the value survived a change to its file")
	}
}

func TestUnwatchedIsNeverKept(t *testing.T) {
	w := watches{}
	m := New(w.vouch)
	_, tk, _ := m.Get("k", "/p/a")
	m.Put(tk, "A", 1)
	w.watch("/p/a") // watched only after the read: a change may have fallen in between
	if _, _, ok := m.Get("k", "/p/a"); ok {
		t.Fatal("a value computed before its file was watched was kept")
	}
}

func TestNewWatchEndsTheValue(t *testing.T) {
	w := watches{}
	w.watch("/p/a")
	m := New(w.vouch)
	_, tk, _ := m.Get("k", "/p/a")
	m.Put(tk, "A", 1)
	delete(w, "/p/a") // the watch ends: changes go unseen...
	w.watch("/p/a")   // ...until a new one starts, which reports nothing of them
	if _, _, ok := m.Get("k", "/p/a"); ok {
		t.Fatal("a value outlived the watch that vouched for it")
	}
}

func TestChangeDuringComputeIsRefused(t *testing.T) {
	w := watches{}
	w.watch("/ctx", "/ctx/Dockerfile")
	m := New(w.vouch)
	_, tk, _ := m.Get("ctx", "/ctx", "/ctx/Dockerfile")
	m.Changed([]string{"/ctx/src/main.go"}) // lands while the context is hashed
	m.Put(tk, "digest-before", 1)
	if _, _, ok := m.Get("ctx", "/ctx", "/ctx/Dockerfile"); ok {
		t.Fatal("a value computed across a change was kept")
	}
}

func TestTreesAndRemovedDirectories(t *testing.T) {
	w := watches{}
	w.watch("/p/ctx", "/p/ctx/sub/x.yaml")
	m := New(w.vouch)
	put := func(key string, roots ...string) {
		_, tk, _ := m.Get(key, roots...)
		m.Put(tk, key, 1)
	}
	put("tree", "/p/ctx")
	put("file", "/p/ctx/sub/x.yaml")
	m.Changed([]string{"/p/ctx/deep/er/file.go"})
	if _, _, ok := m.Get("tree", "/p/ctx"); ok {
		t.Error("a change inside a tree kept the tree's value")
	}
	if _, _, ok := m.Get("file", "/p/ctx/sub/x.yaml"); !ok {
		t.Error("a change beside a file dropped the file's value")
	}
	put("tree", "/p/ctx")
	m.Changed([]string{"/p/ctx/sub"}) // the directory removed or renamed as a whole
	if _, _, ok := m.Get("file", "/p/ctx/sub/x.yaml"); ok {
		t.Error("a removed directory kept the value of a file inside it")
	}
	if _, _, ok := m.Get("tree", "/p/ctx"); ok {
		t.Error("a removed subdirectory kept the tree's value")
	}
}

func TestBoundsAndReset(t *testing.T) {
	w := watches{}
	w.watch("/a", "/b")
	m := New(w.vouch)
	m.maxBytes = 10
	_, tk, _ := m.Get("a", "/a")
	m.Put(tk, "A", 8)
	_, tk, _ = m.Get("b", "/b")
	m.Put(tk, "B", 8) // over the bound: not kept
	if m.Len() != 1 {
		t.Fatalf("kept %d values, want 1 within the byte bound", m.Len())
	}
	var paths []string
	for i := 0; i <= resetOver; i++ {
		paths = append(paths, fmt.Sprintf("/elsewhere/%d", i))
	}
	m.Changed(paths) // too many to match one by one: everything goes
	if m.Len() != 0 {
		t.Fatalf("kept %d values after a huge batch, want 0", m.Len())
	}
	_, tk, _ = m.Get("b", "/b")
	m.Put(tk, "B", 8) // the bytes of the dropped value were given back
	if m.Len() != 1 {
		t.Fatal("the byte bound did not recover after the values were dropped")
	}
	m.Reset()
	if m.Len() != 0 {
		t.Fatal("Reset kept a value")
	}
}

func TestNilMemo(t *testing.T) {
	var m *Memo
	_, tk, ok := m.Get("k", "/a")
	m.Put(tk, 1, 1)
	m.Changed([]string{"/a"})
	m.Reset()
	if ok || m.Len() != 0 {
		t.Fatal("a nil memo kept something")
	}
}

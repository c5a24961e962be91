package filewatch

import (
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestBatchSaysWhenEachPathWasLastSeen(t *testing.T) {
	dir := t.TempDir()
	early, late := filepath.Join(dir, "early"), filepath.Join(dir, "late")
	w := newTestWatcher(t, Options{Debounce: 300 * time.Millisecond}, Root{Path: dir})
	before := time.Now()
	write(t, early, "1")
	time.Sleep(100 * time.Millisecond)
	between := time.Now()
	write(t, late, "1")
	write(t, early, "2") // early's latest event comes after late's
	select {
	case b := <-w.Batches():
		after := time.Now()
		if len(b.Seen) != len(b.Paths) {
			t.Fatalf("%d paths, %d times", len(b.Paths), len(b.Seen))
		}
		at := func(p string) time.Time {
			i := slices.Index(b.Paths, p)
			if i < 0 {
				t.Fatalf("batch %v lacks %s", b.Paths, p)
			}
			return b.Seen[i]
		}
		if s := at(late); s.Before(between) || s.After(after) {
			t.Errorf("late seen at %v, want within [%v, %v]", s, between, after)
		}
		if s := at(early); s.Before(at(late)) || s.Before(before) {
			t.Errorf("early seen at %v: its second write, after late's (%v), was not the one kept", s, at(late))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no batch")
	}
}

func TestMergedBatchesKeepTheLatestTime(t *testing.T) {
	t0 := time.Unix(100, 0)
	a := Batch{Paths: []string{"/a", "/b"}, Seen: []time.Time{t0, t0.Add(5 * time.Second)}}
	b := Batch{Paths: []string{"/b", "/c"}, Seen: []time.Time{t0.Add(time.Second), t0.Add(2 * time.Second)}}
	m := mergeBatches(a, b)
	if !slices.Equal(m.Paths, []string{"/a", "/b", "/c"}) {
		t.Fatalf("paths %v", m.Paths)
	}
	want := []time.Time{t0, t0.Add(5 * time.Second), t0.Add(2 * time.Second)}
	if !slices.EqualFunc(m.Seen, want, time.Time.Equal) {
		t.Errorf("seen %v, want %v", m.Seen, want)
	}
}

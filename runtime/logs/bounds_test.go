package logs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeLines writes n numbered lines of local output to resource and closes the writer.
func writeLines(t *testing.T, m *Manager, resource string, n int) {
	t.Helper()
	w := m.Writer(resource)
	for i := 0; i < n; i++ {
		if _, err := fmt.Fprintf(w, "line %d\n", i); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func readTexts(t *testing.T, m *Manager, q Query) []string {
	t.Helper()
	lines, err := m.Lines(q)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var last uint64
	for _, l := range lines {
		if l.Seq < last {
			t.Fatalf("lines out of order: seq %d after %d", l.Seq, last)
		}
		last = l.Seq
		out = append(out, l.Text)
	}
	return out
}

func TestSpillKeepsEveryLineInOrder(t *testing.T) {
	m := newManager(Options{MemoryLines: 10, SpillDir: t.TempDir()}, nil)
	defer m.Close()
	writeLines(t, m, "api", 500)
	got := readTexts(t, m, Query{Resources: []string{"api"}})
	if len(got) != 500 {
		t.Fatalf("read back %d lines of 500 with 10 in memory and a spill directory", len(got))
	}
	for i, s := range got {
		if want := fmt.Sprintf("line %d", i); s != want {
			t.Fatalf("line %d is %q, want %q", i, s, want)
		}
	}
	// After resumes in the spilled part too.
	lines, _ := m.Lines(Query{Resources: []string{"api"}})
	if rest := readTexts(t, m, Query{Resources: []string{"api"}, After: lines[99].Seq}); len(rest) != 400 || rest[0] != "line 100" {
		t.Errorf("after line 99: %d lines starting %q, want 400 from line 100", len(rest), rest[0])
	}
}

func TestWithoutSpillOlderLinesAreDroppedWithAMarker(t *testing.T) {
	m := newManager(Options{MemoryLines: 10}, nil)
	defer m.Close()
	writeLines(t, m, "api", 100)
	got := readTexts(t, m, Query{Resources: []string{"api"}})
	if len(got) != 11 || !strings.Contains(got[0], "90 older lines dropped") || got[1] != "line 90" || got[10] != "line 99" {
		t.Errorf("with 10 lines of memory and no spill, got %d lines: %q", len(got), got)
	}
}

func TestSpillStaysWithinItsBound(t *testing.T) {
	dir := t.TempDir()
	const bound = 256 << 10
	m := newManager(Options{MemoryLines: 10, SpillDir: dir, SpillBytes: bound}, nil)
	defer m.Close()
	w := m.Writer("api")
	long := strings.Repeat("x", 1000)
	for i := 0; i < 2000; i++ { // ~2 MB, eight times the bound
		fmt.Fprintf(w, "%d %s\n", i, long)
	}
	w.Close()
	var size int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			size += fi.Size()
		}
		return nil
	})
	if size > bound+bound/8 {
		t.Errorf("spill files hold %d bytes, bound %d", size, bound)
	}
	got := readTexts(t, m, Query{Resources: []string{"api"}})
	if len(got) == 0 || !strings.Contains(got[0], "older lines dropped") {
		t.Fatalf("no dropped-lines marker first; got %d lines", len(got))
	}
	if last := got[len(got)-1]; !strings.HasPrefix(last, "1999 ") {
		t.Errorf("the newest line is %.20q, want line 1999", last)
	}
}

func TestLongLineIsTruncatedWithAMarker(t *testing.T) {
	m := newManager(Options{MaxLineBytes: 1024}, nil)
	defer m.Close()
	w := m.Writer("api")
	fmt.Fprintf(w, "%s\nafter\n", strings.Repeat("y", 100<<10))
	w.Close()
	got := readTexts(t, m, Query{Resources: []string{"api"}})
	total := 0
	for _, s := range got {
		total += len(s)
		if len(s) > 1024+len(truncatedMarker) {
			t.Errorf("a line of %d bytes got through a 1024-byte bound", len(s))
		}
	}
	if total > 4096 || !strings.Contains(strings.Join(got, "\n"), truncatedMarker) || got[len(got)-1] != "after" {
		t.Errorf("a 100 KiB line with a 1 KiB bound: %d bytes kept in %d lines, last %.30q", total, len(got), got[len(got)-1])
	}
}

func TestSlowSubscriberNeverBlocksAndIsToldWhatItMissed(t *testing.T) {
	m := newManager(Options{SubscriberBuffer: 8}, nil)
	defer m.Close()
	ch, cancel := m.Subscribe(Query{Resources: []string{"api"}})
	defer cancel()
	done := make(chan struct{})
	go func() { writeLines(t, m, "api", 1000); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("writing 1000 lines blocked on a subscriber that reads nothing")
	}
	// The buffer's 8 lines, then the notice: the janitor sends it once there is room, even
	// when no more lines come.
	var overflow *Line
	for i := 0; i < 9 && overflow == nil; i++ {
		select {
		case l := <-ch:
			if l.Overflow {
				overflow = &l
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("after %d lines the subscriber got nothing more", i)
		}
	}
	if overflow == nil {
		t.Fatal("a subscriber that fell behind was not told so")
	}
	if rest := readTexts(t, m, Query{Resources: []string{"api"}, After: overflow.Seq}); len(rest) == 0 || rest[len(rest)-1] != "line 999" {
		t.Errorf("Lines after the overflow notice do not reach the newest line: %d lines", len(rest))
	}
}

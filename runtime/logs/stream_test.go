package logs

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func testManager(t *testing.T, f *fakeKubelet, opts Options) *Manager {
	t.Helper()
	m := newManager(opts, f.open)
	t.Cleanup(m.Close)
	return m
}

func onePod(c Container) []Pod {
	return []Pod{{Resource: "api", Namespace: "ns", Name: "api-1", UID: "u1", Containers: []Container{c}}}
}

// waitLines waits until the store holds n lines of q, and returns them.
func waitLines(t *testing.T, m *Manager, q Query, n int) []Line {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		lines, err := m.Lines(q)
		if err != nil {
			t.Fatal(err)
		}
		if len(lines) >= n || time.Now().After(deadline) {
			if len(lines) < n {
				t.Fatalf("want %d lines, have %d: %v", n, len(lines), texts(lines))
			}
			return lines
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func texts(lines []Line) []string {
	var out []string
	for _, l := range lines {
		out = append(out, l.Text)
	}
	return out
}

// TestReconnectNoGapsNoDuplicates: lines that share timestamps, streams broken again and again
// while the container writes, and every line arrives once, in order.
func TestReconnectNoGapsNoDuplicates(t *testing.T) {
	f := newFakeKubelet()
	m := testManager(t, f, Options{})
	base := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	m.SetPods("api", onePod(Container{Name: "app", Running: true}))
	const n = 300
	for i := 0; i < n; i++ {
		f.write(base.Add(time.Duration(i/7)*time.Millisecond*150), fmt.Sprintf("line %d", i)) // 7 lines a stamp
		if i%23 == 11 {
			opened := f.openCount()
			f.breakStreams()
			for f.openCount() == opened { // the next lines come while it reconnects, or after
				time.Sleep(time.Millisecond)
			}
		}
	}
	lines := waitLines(t, m, Query{}, n)
	time.Sleep(50 * time.Millisecond)
	lines, _ = m.Lines(Query{})
	for i, l := range lines {
		if want := fmt.Sprintf("line %d", i); l.Text != want {
			t.Fatalf("line %d is %q, want %q (%d lines)", i, l.Text, want, len(lines))
		}
	}
	if len(lines) != n {
		t.Fatalf("%d lines, want %d", len(lines), n)
	}
	if f.openCount() < n/23 {
		t.Errorf("only %d opens: the breaks did not force reconnects", f.openCount())
	}
}

// TestRestartShowsPrevious: a container first seen after a crash shows the crashed one's last
// lines, marked Previous, then the new one's; a crash of a container we followed repeats none.
func TestRestartShowsPrevious(t *testing.T) {
	f := newFakeKubelet()
	m := testManager(t, f, Options{PreviousLines: 3})
	base := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	for i := 0; i < 10; i++ {
		f.write(base.Add(time.Duration(i)*time.Millisecond), fmt.Sprintf("old %d", i))
	}
	f.restart()
	f.write(base.Add(time.Second), "new 0")
	m.SetPods("api", onePod(Container{Name: "app", Running: true, Restarts: 1}))
	lines := waitLines(t, m, Query{}, 4)
	want := []string{"old 7", "old 8", "old 9", "new 0"}
	for i, l := range lines {
		if l.Text != want[i] || l.Previous != (i < 3) {
			t.Fatalf("lines = %v (previous %v...), want %v with the first 3 Previous", texts(lines), lines[0].Previous, want)
		}
	}
	// Now it crashes while followed: its lines came live, so the previous fetch adds none.
	f.write(base.Add(2*time.Second), "new 1")
	waitLines(t, m, Query{}, 5)
	f.restart()
	f.write(base.Add(3*time.Second), "newer 0")
	m.SetPods("api", onePod(Container{Name: "app", Running: true, Restarts: 2}))
	lines = waitLines(t, m, Query{}, 6)
	time.Sleep(100 * time.Millisecond)
	lines, _ = m.Lines(Query{})
	if got := strings.Join(texts(lines), ","); got != "old 7,old 8,old 9,new 0,new 1,newer 0" {
		t.Fatalf("after the second crash: %s", got)
	}
}

// TestTerminatedStreamEnds: a finished container (a Job's) is read to its end once; its
// stream is not reopened until it restarts.
func TestTerminatedStreamEnds(t *testing.T) {
	f := newFakeKubelet()
	f.write(time.Unix(100, 0), "done")
	f.setRunning(false)
	m := testManager(t, f, Options{})
	m.SetPods("job", []Pod{{Resource: "job", Namespace: "ns", Name: "job-1", UID: "j", Containers: []Container{{Name: "main", Terminated: true}}}})
	waitLines(t, m, Query{Resources: []string{"job"}}, 1)
	time.Sleep(400 * time.Millisecond) // several backoffs, were it retrying
	if n := f.openCount(); n != 1 {
		t.Errorf("%d opens of a terminated container, want 1", n)
	}
}

// TestSetPodsStopsStreams: a pod no longer listed stops streaming; Close ends every goroutine.
func TestSetPodsStopsStreams(t *testing.T) {
	f := newFakeKubelet()
	m := newManager(Options{}, f.open)
	m.SetPods("api", onePod(Container{Name: "app", Running: true}))
	f.write(time.Unix(100, 0), "one")
	waitLines(t, m, Query{}, 1)
	m.SetPods("api", nil)
	time.Sleep(50 * time.Millisecond)
	f.write(time.Unix(101, 0), "two")
	time.Sleep(50 * time.Millisecond)
	if lines, _ := m.Lines(Query{}); len(lines) != 1 {
		t.Errorf("a removed pod still streams: %v", texts(lines))
	}
	ch, _ := m.Subscribe(Query{})
	done := make(chan struct{})
	go func() { m.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hangs")
	}
	if _, ok := <-ch; ok {
		t.Error("subscription still open after Close")
	}
	if _, err := m.Writer("x").Write([]byte("late\n")); err != ErrClosed {
		t.Errorf("write after Close: %v, want ErrClosed", err)
	}
}

func TestStreamsReportState(t *testing.T) {
	f := newFakeKubelet()
	m := testManager(t, f, Options{})
	base := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	f.write(base, "one")
	f.write(base.Add(time.Second), "two")
	m.SetPods("api", onePod(Container{Name: "app", Running: true}))
	waitLines(t, m, Query{}, 2)
	st := m.Streams()
	if len(st) != 1 || st[0].Resource != "api" || st[0].Pod != "api-1" || st[0].Container != "app" ||
		st[0].State != StreamStreaming || st[0].Lines != 2 || !st[0].LastLine.Equal(base.Add(time.Second)) {
		t.Fatalf("streams %+v", st)
	}
	f.setRunning(false)
	m.SetPods("api", onePod(Container{Name: "app", Terminated: true}))
	deadline := time.Now().Add(5 * time.Second)
	for m.Streams()[0].State != StreamEnded {
		if time.Now().After(deadline) {
			t.Fatalf("a finished container's stream is %+v", m.Streams())
		}
		time.Sleep(5 * time.Millisecond)
	}
	m.SetPods("api", nil)
	if st := m.Streams(); len(st) != 0 {
		t.Fatalf("streams of a pod gone: %+v", st)
	}
}

package logs

import (
	"testing"
	"time"
)

// TestCursorEqualTimestamps: a reconnect replays from the second, and of the lines that share
// the last timestamp exactly those already taken are skipped.
func TestCursorEqualTimestamps(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 500, time.UTC)
	t1 := t0.Add(time.Millisecond)
	var c cursor
	for _, ts := range []time.Time{t0, t1, t1} { // two lines at t1 taken, a third is coming
		if !c.accept(ts) {
			t.Fatal("a first stream takes every line")
		}
	}
	c.reconnect()
	replay := []struct {
		ts   time.Time
		want bool
	}{{t0.Add(-time.Millisecond), false}, {t0, false}, {t1, false}, {t1, false}, {t1, true}, {t1.Add(1), true}}
	for i, r := range replay {
		if got := c.accept(r.ts); got != r.want {
			t.Errorf("replay line %d at %v: accept = %v, want %v", i, r.ts, got, r.want)
		}
	}
	// A second reconnect at the new last stamp skips only the one line there.
	c.reconnect()
	if c.accept(t1.Add(1)) || !c.accept(t1.Add(2)) {
		t.Error("second replay: want the line at the last stamp skipped and the next taken")
	}
}

func TestCursorFirstStreamTakesAll(t *testing.T) {
	var c cursor
	c.reconnect() // nothing seen: nothing to skip
	t0 := time.Unix(100, 0)
	if !c.accept(t0) || !c.accept(t0) || !c.accept(t0.Add(-time.Second)) {
		t.Error("a first stream must take every line, equal and older stamps too")
	}
	if c.last != t0 || c.atLast != 2 {
		t.Errorf("cursor = %v ×%d, want %v ×2", c.last, c.atLast, t0)
	}
}

func TestSplitTimestamp(t *testing.T) {
	ts, text, ok := splitTimestamp([]byte("2026-12-02T10:11:12.123456789Z hello world"))
	if !ok || string(text) != "hello world" || ts.Nanosecond() != 123456789 {
		t.Errorf("got %v %q %v", ts, text, ok)
	}
	if _, text, ok := splitTimestamp([]byte("2026-12-02T10:11:12Z")); !ok || len(text) != 0 {
		t.Errorf("an empty line: got %q %v", text, ok)
	}
	if _, text, ok := splitTimestamp([]byte("unable to retrieve container logs")); ok || string(text) != "unable to retrieve container logs" {
		t.Errorf("no timestamp: got %q %v", text, ok)
	}
}

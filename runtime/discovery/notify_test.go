package discovery

import (
	"testing"
	"time"
)

// A slow reader gets each changed resource once, however many changes piled up, and the
// last change is not lost.
func TestNotifierCoalesces(t *testing.T) {
	var n notifier
	ch, cancel := n.subscribe()
	defer cancel()
	for i := 0; i < 100; i++ {
		n.notify("web")
		n.notify("db")
	}
	// The deliverer may already hold the first "web" when the others arrive: at most one more.
	got := map[string]int{}
	quiet := time.After(300 * time.Millisecond)
drain:
	for {
		select {
		case r := <-ch:
			got[r]++
		case <-quiet:
			break drain
		}
	}
	if got["web"] < 1 || got["web"] > 2 || got["db"] < 1 || got["db"] > 2 || len(got) != 2 {
		t.Fatalf("200 changes of web and db were delivered as %v, want each once or twice", got)
	}
	n.notify("web")
	select {
	case r := <-ch:
		if r != "web" {
			t.Fatalf("got %q, want web", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a change after the reader caught up was lost")
	}
	cancel()
	select {
	case _, ok := <-ch:
		if ok {
			t.Fatal("a notification after cancel")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cancel did not close the channel")
	}
	n.notify("web") // no subscriber left: must not block
}

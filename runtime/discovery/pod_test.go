package discovery

import (
	"testing"
	"time"
)

func TestNewestReady(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pods := []Pod{
		{Name: "old", Ready: true, Created: t0},
		{Name: "newest-not-ready", Ready: false, Created: t0.Add(3 * time.Second)},
		{Name: "terminating", Ready: true, Deleting: true, Created: t0.Add(2 * time.Second)},
		{Name: "new", Ready: true, Created: t0.Add(time.Second)},
	}
	p, ok := NewestReady(pods)
	if !ok || p.Name != "new" {
		t.Fatalf("NewestReady = %q, %v; want new", p.Name, ok)
	}
	if _, ok := NewestReady(pods[1:3]); ok {
		t.Fatalf("NewestReady found a pod among not-ready and terminating ones")
	}
	SortNewestFirst(pods)
	if pods[0].Name != "newest-not-ready" || pods[3].Name != "old" {
		t.Fatalf("SortNewestFirst: %v", pods)
	}
}

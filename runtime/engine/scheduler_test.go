package engine

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/runtime/plan"
)

// testGraph: image a ← resource web (uses a) ← resource api (resource_deps web); image b
// alone; local resource gen ← image a (a local_resource the image's user depends on).
func testGraph(t *testing.T) *plan.Graph {
	t.Helper()
	p := &plan.Plan{
		Images: []plan.Image{{Ref: "a"}, {Ref: "b"}},
		Resources: []plan.Resource{
			{Name: "web", Images: []string{"a"}, ResourceDeps: []string{"gen"}},
			{Name: "api", ResourceDeps: []string{"web"}},
		},
		LocalResources: []plan.LocalResource{{Name: "gen"}},
	}
	g, err := plan.BuildGraph(p)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// recorder is a fake action: it records start and end order and the peak parallelism.
type recorder struct {
	mu           sync.Mutex
	started      []plan.NodeID
	finished     map[plan.NodeID]time.Time
	running, max int32
	delay        time.Duration
	fail         plan.NodeID
}

func (r *recorder) do(ctx context.Context, n plan.NodeID) error {
	now := atomic.AddInt32(&r.running, 1)
	defer atomic.AddInt32(&r.running, -1)
	r.mu.Lock()
	r.started = append(r.started, n)
	if now > r.max {
		r.max = now
	}
	r.mu.Unlock()
	select {
	case <-time.After(r.delay):
	case <-ctx.Done():
		return ctx.Err()
	}
	r.mu.Lock()
	if r.finished == nil {
		r.finished = map[plan.NodeID]time.Time{}
	}
	r.finished[n] = time.Now()
	r.mu.Unlock()
	if n == r.fail {
		return errors.New("boom")
	}
	return nil
}

func TestScheduleOrderAndParallelBound(t *testing.T) {
	g := testGraph(t)
	r := &recorder{delay: 20 * time.Millisecond}
	if err := schedule(context.Background(), g, 2, nil, r.do); err != nil {
		t.Fatal(err)
	}
	if len(r.started) != 5 {
		t.Fatalf("started %v, want all 5 nodes", r.started)
	}
	if r.max > 2 {
		t.Errorf("%d nodes ran at once, the bound is 2", r.max)
	}
	before := func(a, b plan.NodeID) {
		t.Helper()
		if !r.finished[a].Before(r.finished[b]) {
			t.Errorf("%s must finish before %s", a, b)
		}
	}
	before("resource:gen", "image:a") // the image's user depends on the local resource
	before("image:a", "resource:web")
	before("resource:web", "resource:api") // resource_deps
}

func TestScheduleFirstFailureCancelsTheRest(t *testing.T) {
	g := testGraph(t)
	r := &recorder{delay: 10 * time.Millisecond, fail: "resource:gen"}
	err := schedule(context.Background(), g, 1, nil, r.do)
	if err == nil || err.Error() != "boom" {
		t.Fatalf("want the first failure, got %v", err)
	}
	for _, n := range r.started {
		if n == "resource:web" || n == "resource:api" || n == "image:a" {
			t.Errorf("%s started after what it depends on failed", n)
		}
	}
}

// TestScheduleWant: an update of some nodes runs only those, still in graph order, and a
// node left out counts as done for its dependents.
func TestScheduleWant(t *testing.T) {
	g := testGraph(t)
	r := &recorder{delay: time.Millisecond}
	want := func(n plan.NodeID) bool { return n == "resource:api" || n == "image:b" }
	if err := schedule(context.Background(), g, 3, want, r.do); err != nil {
		t.Fatal(err)
	}
	if len(r.started) != 2 {
		t.Fatalf("started %v, want only resource:api and image:b", r.started)
	}
}

func TestScheduleHonoursCancel(t *testing.T) {
	g := testGraph(t)
	ctx, cancel := context.WithCancel(context.Background())
	r := &recorder{delay: time.Hour}
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	start := time.Now()
	err := schedule(ctx, g, 3, nil, r.do)
	if !errors.Is(err, context.Canceled) || time.Since(start) > 5*time.Second {
		t.Fatalf("want a prompt context.Canceled, got %v after %s", err, time.Since(start))
	}
}

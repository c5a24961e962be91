package host

import (
	"runtime/metrics"
	"time"

	"go.starlark.net/starlark"
)

// memoryPoll is how often the heap is sampled. A string that doubles each step reaches a
// gigabyte in thirty steps, so the step budget alone cannot bound memory.
const memoryPoll = 5 * time.Millisecond

// heapObjects counts live objects and garbage not yet collected. Waiting for a collection to
// tell them apart takes seconds on a big heap, in which a doubling value outgrows any bound.
const heapObjects = "/memory/classes/heap/objects:bytes"

// watchMemory cancels t when the heap has grown by more than max since it started. At once,
// not at the thread's next check: a doubling value outgrows any bound within a thousand steps.
func watchMemory(t *starlark.Thread, max int64, stop <-chan struct{}) {
	base := heapBytes()
	tick := time.NewTicker(memoryPoll)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		if heapBytes()-base > max {
			t.Cancel(memoryExceeded(max))
			return
		}
	}
}

func heapBytes() int64 {
	s := []metrics.Sample{{Name: heapObjects}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64())
}

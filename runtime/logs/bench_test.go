package logs

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// BenchmarkStreamThroughput: one container's 20,000 lines of 100 bytes, read from a kubelet
// stream, split, scrubbed (one secret), stored within the memory bound and spilled to disk.
// The figure is the rate kiln can keep up with one chatty container.
func BenchmarkStreamThroughput(b *testing.B) {
	const n = 20000
	base := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	pad := strings.Repeat("x", 80)
	f := newFakeKubelet()
	for i := 0; i < n; i++ {
		f.write(base.Add(time.Duration(i)*time.Millisecond), fmt.Sprintf("line %06d %s", i, pad))
	}
	f.setRunning(false)
	last := fmt.Sprintf("line %06d %s", n-1, pad)
	b.SetBytes(n * 100)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		m := newManager(Options{SpillDir: b.TempDir()}, f.open)
		m.SetPods("api", onePod(Container{Name: "app", Terminated: true}))
		for {
			lines, err := m.Lines(Query{After: uint64(n - 10)})
			if err != nil {
				b.Fatal(err)
			}
			if len(lines) > 0 && lines[len(lines)-1].Text == last {
				break
			}
			time.Sleep(100 * time.Microsecond)
		}
		m.Close()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "lines/s")
}

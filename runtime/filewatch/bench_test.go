package filewatch

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// benchTree writes the tree BenchmarkWatchStart watches: 200,000 files, of which 100,000 are
// under ignored directories.
//
//	src/pNNN/sNN/fNN.go       100 × 50 × 20 = 100,000 files in 5,100 directories, watched
//	node_modules/mNNNN/{lib,dist}/  1,000 × 2 × 45 = 90,000 files, ignored by a pattern
//	.git/objects/NN/          256 directories, 10,000 files, always ignored
func benchTree(b *testing.B, root string) (watchedFiles, ignoredFiles int) {
	content := []byte("package p\n\n// generated for the filewatch benchmark\n")
	var err error
	file := func(p string) {
		if err == nil {
			err = os.WriteFile(p, content, 0o644)
		}
	}
	dir := func(p string) {
		if err == nil {
			err = os.MkdirAll(p, 0o755)
		}
	}
	for p := range 100 {
		for s := range 50 {
			d := filepath.Join(root, "src", fmt.Sprintf("p%03d", p), fmt.Sprintf("s%02d", s))
			dir(d)
			for f := range 20 {
				file(filepath.Join(d, fmt.Sprintf("f%02d.go", f)))
				watchedFiles++
			}
		}
	}
	for m := range 1000 {
		for _, sub := range []string{"lib", "dist"} {
			d := filepath.Join(root, "node_modules", fmt.Sprintf("m%04d", m), sub)
			dir(d)
			for f := range 45 {
				file(filepath.Join(d, fmt.Sprintf("f%02d.js", f)))
				ignoredFiles++
			}
		}
	}
	for o := range 10000 {
		d := filepath.Join(root, ".git", "objects", fmt.Sprintf("%02x", o%256))
		if o < 256 {
			dir(d)
		}
		file(filepath.Join(d, fmt.Sprintf("%038x", o)))
		ignoredFiles++
	}
	if err != nil {
		b.Fatal(err)
	}
	return watchedFiles, ignoredFiles
}

// BenchmarkWatchStart measures New + SetRoots on the generated tree, until every watch is set
// and the state of every watched file recorded (ready), with the ignore patterns of a typical
// .dockerignore. It reports the watches set, the heap the Watcher keeps, and the CPU it uses
// idle afterwards. The tree is generated once, outside the timed part.
func BenchmarkWatchStart(b *testing.B) {
	root := tempDir(b)
	watchedFiles, ignoredFiles := benchTree(b, root)
	// Write the new tree out now, so that the timed runs don't compete with its writeback.
	if fd, err := syscall.Open(root, syscall.O_RDONLY|syscall.O_DIRECTORY, 0); err == nil {
		unix.Syncfs(fd)
		syscall.Close(fd)
	}
	ignore := []string{"node_modules", "**/*.log", "!important.log", "dist/"}
	b.Run(fmt.Sprintf("files=%d/ignored=%d", watchedFiles+ignoredFiles, ignoredFiles), func(b *testing.B) {
		var watches int
		var heap uint64
		var idle, cpu time.Duration
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			b.StartTimer()

			c0 := cpuTime(b)
			w, err := New(Options{})
			if err != nil {
				b.Fatal(err)
			}
			if err := w.SetRoots([]Root{{Path: root, Ignore: ignore}}); err != nil {
				b.Fatal(err)
			}

			b.StopTimer()
			cpu += cpuTime(b) - c0
			watches = len(w.fs.WatchList())
			runtime.GC()
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			heap = after.HeapAlloc - min(after.HeapAlloc, before.HeapAlloc)
			if i == b.N-1 {
				idle = idleCPU(b, time.Second)
			}
			w.Close()
			b.StartTimer()
		}
		b.ReportMetric(float64(cpu)/float64(b.N)/float64(time.Millisecond), "cpu-ms/op")
		b.ReportMetric(float64(watches), "watches")
		b.ReportMetric(float64(heap)/(1<<20), "heap-MB")
		b.ReportMetric(float64(idle)/float64(time.Millisecond), "idle-cpu-ms/s")
	})
	// What an inotify overflow costs on the same tree: a full rescan that finds nothing new.
	b.Run("rescan", func(b *testing.B) {
		w, err := New(Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer w.Close()
		if err := w.SetRoots([]Root{{Path: root, Ignore: ignore}}); err != nil {
			b.Fatal(err)
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			w.rescan()
			if len(w.pending) != 0 {
				b.Fatalf("a rescan of an unchanged tree reported %d paths", len(w.pending))
			}
		}
	})
}

// idleCPU returns the CPU time the process uses over d, doing nothing.
func idleCPU(b *testing.B, d time.Duration) time.Duration {
	start := cpuTime(b)
	time.Sleep(d)
	return cpuTime(b) - start
}

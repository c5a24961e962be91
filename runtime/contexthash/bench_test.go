package contexthash

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	benchOnce sync.Once
	benchDir  string
	benchErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// benchContext generates, once per test binary, a context of 10,000 files
// of about 2 KB in 100 directories, plus an ignored node_modules of 20,000
// small files in 1,000 directories.
func benchContext(b *testing.B) string {
	benchOnce.Do(func() {
		benchDir, benchErr = os.MkdirTemp("", "kiln-contexthash-bench")
		if benchErr != nil {
			return
		}
		content := []byte(strings.Repeat("0123456789abcdef", 128)) // 2 KiB
		write := func(p string, data []byte) {
			if benchErr != nil {
				return
			}
			if err := os.WriteFile(p, data, 0o644); err != nil {
				benchErr = err
				return
			}
			benchErr = os.Chtimes(p, past, past)
		}
		for d := 0; d < 100; d++ {
			dir := filepath.Join(benchDir, fmt.Sprintf("pkg%03d", d))
			if benchErr = os.MkdirAll(dir, 0o755); benchErr != nil {
				return
			}
			for f := 0; f < 100; f++ {
				data := append([]byte(fmt.Sprintf("%d/%d\n", d, f)), content...)
				write(filepath.Join(dir, fmt.Sprintf("file%03d.go", f)), data)
			}
		}
		for d := 0; d < 1000; d++ {
			dir := filepath.Join(benchDir, "node_modules", fmt.Sprintf("mod%04d", d))
			if benchErr = os.MkdirAll(dir, 0o755); benchErr != nil {
				return
			}
			for f := 0; f < 20; f++ {
				write(filepath.Join(dir, fmt.Sprintf("index%02d.js", f)), []byte("module.exports = {}\n"))
			}
		}
		write(filepath.Join(benchDir, ".dockerignore"), []byte("node_modules\n*.log\n"))
		write(filepath.Join(benchDir, "Dockerfile"), []byte("FROM scratch\nCOPY . /\n"))
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchDir
}

func BenchmarkHashCold(b *testing.B) {
	s := Spec{Dir: benchContext(b)}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, _ := Open("")
		_, files, err := c.Hash(s)
		if err != nil {
			b.Fatal(err)
		}
		if len(files) != 10002 {
			b.Fatalf("%d files", len(files))
		}
	}
}

func BenchmarkHashWarm(b *testing.B) {
	s := Spec{Dir: benchContext(b)}
	c, _ := Open("")
	if _, _, err := c.Hash(s); err != nil {
		b.Fatal(err)
	}
	reads := c.Reads()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := c.Hash(s); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if c.Reads() != reads {
		b.Fatalf("warm hash read %d files", c.Reads()-reads)
	}
}

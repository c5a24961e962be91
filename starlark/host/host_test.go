package host

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/internal/testenv"
	"go.starlark.net/starlark"
)

// project writes files (path → content) into a new directory and returns a host for it, whose
// print() output goes to the returned builder.
func project(t *testing.T, files map[string]string) (*Host, string, *strings.Builder) {
	t.Helper()
	dir := t.TempDir()
	testenv.WriteFiles(t, dir, files)
	h := New(dir, starlark.StringDict{})
	var printed strings.Builder
	h.Print = func(msg string) { printed.WriteString(msg + "\n") }
	return h, filepath.Join(dir, "Kilnfile"), &printed
}

// exec runs the main file and returns the error message the user would see ("" if none).
func exec(t *testing.T, h *Host, main string) string {
	t.Helper()
	_, err := h.Exec(context.Background(), main)
	if err == nil {
		return ""
	}
	return ErrorMessage(err)
}

func TestLoadRunsEachFileOnce(t *testing.T) {
	h, main, printed := project(t, map[string]string{
		"Kilnfile": "load('a.star', 'a')\nload('b.star', 'b')\nprint(a + b)\n",
		"a.star":   "print('a runs')\na = 1\n",
		"b.star":   "load('a.star', 'a')\nb = a + 1\n",
	})
	if msg := exec(t, h, main); msg != "" {
		t.Fatal(msg)
	}
	if got := printed.String(); got != "a runs\n3\n" {
		t.Fatalf("printed %q, want a.star to run once", got)
	}
}

func TestLoadResolvesAgainstTheLoadingFile(t *testing.T) {
	h, main, printed := project(t, map[string]string{
		"Kilnfile":       "load('lib/x.star', 'x')\nprint(x)\n",
		"lib/x.star":     "load('y.star', 'y')\nx = y\n",
		"lib/y.star":     "y = 'lib/y'\n",
		"y.star":         "y = 'top-level y'\n",
		"lib/unused.txt": "",
	})
	if msg := exec(t, h, main); msg != "" {
		t.Fatal(msg)
	}
	if got := printed.String(); got != "lib/y\n" {
		t.Fatalf("printed %q, want lib/y.star loaded relative to lib/x.star", got)
	}
	files := strings.Join(h.FilesRead(), " ")
	if files != "Kilnfile lib/x.star lib/y.star" {
		t.Fatalf("FilesRead = %s", files)
	}
}

// A load() leading back to the main file used to run the main file a second time, side
// effects included, and named the cycle wrongly.
func TestLoadCycleThroughMainRunsItOnce(t *testing.T) {
	h, main, printed := project(t, map[string]string{
		"Kilnfile": "print('main runs')\nload('a.star', 'a')\n",
		"a.star":   "load('Kilnfile', 'b')\na = 1\n",
	})
	msg := exec(t, h, main)
	if !strings.Contains(msg, "load cycle: Kilnfile -> a.star -> Kilnfile;") {
		t.Fatalf("error does not name the cycle:\n%s", msg)
	}
	if !strings.Contains(msg, "a.star:1:1: in <toplevel>") {
		t.Fatalf("error does not name the load in a.star:\n%s", msg)
	}
	if got := printed.String(); got != "main runs\n" {
		t.Fatalf("printed %q: the main file ran more than once", got)
	}
}

func TestLoadCycleNamesTheChain(t *testing.T) {
	h, main, _ := project(t, map[string]string{
		"Kilnfile": "load('a.star', 'x')\n",
		"a.star":   "load('b.star', 'y')\nx = 1\n",
		"b.star":   "load('a.star', 'x')\ny = 2\n",
	})
	msg := exec(t, h, main)
	if !strings.Contains(msg, "load cycle: Kilnfile -> a.star -> b.star -> a.star;") {
		t.Fatalf("error does not name the cycle:\n%s", msg)
	}
}

// An error inside a loaded file names that file's line, not only the load statement.
func TestErrorInLoadedFileNamesItsLine(t *testing.T) {
	h, main, _ := project(t, map[string]string{
		"Kilnfile": "load('a.star', 'x')\n",
		"a.star":   "x = 1\ny = x + 'one'\n",
	})
	msg := exec(t, h, main)
	want := "Traceback (most recent call last):\n  Kilnfile:1:1: in <toplevel>\n  a.star:2:7: in <toplevel>\nError: unknown binary op: int + string"
	if msg != want {
		t.Fatalf("got:\n%s\nwant:\n%s", msg, want)
	}
}

func TestReadFileRefusesFIFO(t *testing.T) {
	h, _, _ := project(t, map[string]string{})
	fifo := filepath.Join(h.Dir, "pipe")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan error, 1)
	go func() { _, err := h.ReadFile(fifo); done <- err }()
	select {
	case err := <-done:
		if err == nil || err.Error() != "file pipe is a named pipe (FIFO), not a regular file; kiln reads only regular files" {
			t.Fatalf("err = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReadFile blocked on a FIFO")
	}
	if files := h.FilesRead(); len(files) != 1 || files[0] != "pipe" {
		t.Fatalf("FilesRead = %v, want the FIFO recorded, so that replacing it re-evaluates", files)
	}
}

func TestReadFileSizeLimit(t *testing.T) {
	h, _, _ := project(t, map[string]string{"big.yaml": strings.Repeat("x", 4096)})
	h.Limits.MaxFileSize = 1024
	_, err := h.ReadFile(filepath.Join(h.Dir, "big.yaml"))
	if err == nil || !strings.Contains(err.Error(), "file big.yaml is larger than 1 KiB") {
		t.Fatalf("err = %v", err)
	}
}

func TestFilesOutsideTheProjectAreShownAbsolute(t *testing.T) {
	h, _, _ := project(t, map[string]string{})
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	_, err := h.ReadFile("/dev/zero")
	if err == nil || !strings.HasPrefix(err.Error(), "file /dev/zero is a character device") {
		t.Fatalf("err = %v", err)
	}
}

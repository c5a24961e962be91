// Package host runs a project's Starlark files: the main Kilnfile (or Tiltfile) and every file
// it load()s, with the dialect options real Tiltfiles rely on. It records every file the
// evaluation reads, so that `kiln watch` can re-evaluate when one of them changes.
package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/kiln-dev/kiln/internal/filememo"
	"github.com/kiln-dev/kiln/internal/safefile"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// ProjectFiles are the names of a project's main file, in order of preference.
var ProjectFiles = []string{"Kilnfile", "Tiltfile"}

// FileOptions are the Starlark dialect options Tiltfiles use: set, while, recursion, top-level
// control flow and global reassignment.
var FileOptions = &syntax.FileOptions{
	Set:             true,
	While:           true,
	TopLevelControl: true,
	GlobalReassign:  true,
	Recursion:       true,
}

// FindMain returns the project file for path: path itself if it is a file, otherwise the first
// of ProjectFiles inside the directory path.
func FindMain(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("no project file at %s: %w", path, err)
	}
	if !st.IsDir() {
		return abs, nil
	}
	for _, name := range ProjectFiles {
		candidate := filepath.Join(abs, name)
		if _, err := os.Stat(candidate); err == nil {
			return candidate, nil
		}
	}
	return "", fmt.Errorf("no Kilnfile or Tiltfile in %s: create one, or pass -f FILE", path)
}

// Host evaluates a project. Create one per evaluation.
type Host struct {
	// Dir is the project directory: the main file's directory. Paths in errors and in the
	// recorded file list are relative to it.
	Dir string
	// Predeclared are the builtins every file sees.
	Predeclared starlark.StringDict
	// Print receives print() output.
	Print func(msg string)
	// Limits bound the evaluation: steps, call depth, file sizes, memory.
	Limits Limits

	// Ext resolves ext:// loads (see starlark/ext); nil: only Tilt's vendored tilt_modules/NAME.
	Ext ExtResolver
	// Native, when set, answers an ext:// load with kiln's own implementation of that
	// extension (ok=false: resolve and run the extension's script as usual). Native
	// extensions need no fetch, no lock entry and none of the helper programs their scripts
	// call.
	Native func(thread *starlark.Thread, name string) (starlark.StringDict, bool)

	// Overrides are predeclared names that differ for one file (by absolute path): an
	// extension run with args of its own gets its own config module.
	Overrides map[string]starlark.StringDict

	// Memo, under kiln watch, holds the bytes of files read before that the file watcher
	// vouches are unchanged (nil: every read goes to the disk).
	Memo *filememo.Memo

	mu       sync.Mutex
	read     map[string]bool
	modules  map[string]*module
	extFiles map[string]string // an extension's Tiltfile → its load name
}

// ExtResolver returns the Tiltfile of the extension name (what follows ext://). loader is the
// load name of the extension that loads it ("" for a project file); at is the load()'s
// file:line.
type ExtResolver interface {
	Resolve(ctx context.Context, name, loader, at string) (string, error)
}

type module struct {
	globals starlark.StringDict
	err     error
	loading bool
}

// New returns a host for the project whose main file is in dir.
func New(dir string, predeclared starlark.StringDict) *Host {
	return &Host{
		Dir:         dir,
		Predeclared: predeclared,
		Print:       func(msg string) { fmt.Fprintln(os.Stderr, msg) },
		read:        map[string]bool{},
		modules:     map[string]*module{},
		extFiles:    map[string]string{},
	}
}

// threadKey is the thread-local key of the stack of files being executed.
const threadKey = "kiln.host.execstack"

// Exec runs the main file and returns its globals, under the host's limits (see Run). The
// main file is a module like the others: a load() that leads back to it is a cycle, not a
// second run. Errors carry the Starlark backtrace with file:line.
func (h *Host) Exec(ctx context.Context, mainPath string) (globals starlark.StringDict, err error) {
	err = h.Run(ctx, "main", func(t *starlark.Thread) error {
		globals, err = h.execModule(t, mainPath)
		return err
	})
	return globals, err
}

// CurrentFile returns the absolute path of the file the thread is executing (the innermost
// load), which is what relative paths in builtins resolve against, as in Tilt.
func CurrentFile(t *starlark.Thread) string {
	stack, _ := t.Local(threadKey).(*[]string)
	if stack == nil || len(*stack) == 0 {
		return ""
	}
	return (*stack)[len(*stack)-1]
}

// MainFile returns the absolute path of the main file being executed on this thread.
func MainFile(t *starlark.Thread) string {
	stack, _ := t.Local(threadKey).(*[]string)
	if stack == nil || len(*stack) == 0 {
		return ""
	}
	return (*stack)[0]
}

// AbsPath resolves path against the directory of the file the thread is executing.
func AbsPath(t *starlark.Thread, path string) string {
	if filepath.IsAbs(path) {
		return filepath.Clean(path)
	}
	return filepath.Join(filepath.Dir(CurrentFile(t)), path)
}

// Rel returns path relative to the project dir with '/' separators, for messages and plans.
// Paths outside the project keep their relative "../" form.
func (h *Host) Rel(path string) string {
	rel, err := filepath.Rel(h.Dir, path)
	if err != nil {
		return filepath.ToSlash(path)
	}
	return filepath.ToSlash(rel)
}

// RecordRead notes that the evaluation depends on path (a file or a directory).
func (h *Host) RecordRead(path string) {
	h.mu.Lock()
	h.read[filepath.Clean(path)] = true
	h.mu.Unlock()
}

// FilesRead returns every recorded file, project-relative, sorted.
func (h *Host) FilesRead() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, 0, len(h.read))
	for p := range h.read {
		out = append(out, h.Rel(p))
	}
	sort.Strings(out)
	return out
}

// ReadFile reads path and records it. Only regular files are read, and none larger than
// Limits.MaxFileSize: a FIFO or a device named by mistake (or malice) fails at once.
func (h *Host) ReadFile(path string) ([]byte, error) {
	h.RecordRead(path)
	return h.ReadUnwatched(path)
}

// ReadUnwatched is ReadFile without recording the file: a change to it does not re-evaluate
// (configmap_create(watch=False)). The bytes returned may be shared: callers must not modify
// them.
func (h *Host) ReadUnwatched(path string) ([]byte, error) {
	path = filepath.Clean(path)
	limit := h.Limits.withDefaults().MaxFileSize
	// The limit is part of the key: bytes read under a larger one must not pass a smaller one.
	key := fmt.Sprintf("read %d %s", limit, path)
	v, ticket, ok := h.Memo.Get(key, path)
	if ok {
		return v.([]byte), nil
	}
	data, err := safefile.ReadFile(path, limit)
	if err != nil {
		return nil, h.fileError(path, err)
	}
	h.Memo.Put(ticket, data, int64(len(data)))
	return data, nil
}

// fileError rewrites a filesystem error so that it names the file as Shown. The result still
// matches errors.Is(err, fs.ErrNotExist) and the like.
func (h *Host) fileError(path string, err error) error {
	var notRegular *safefile.NotRegularError
	var tooLarge *safefile.TooLargeError
	var pe *os.PathError
	name := h.Shown(path)
	switch {
	case errors.As(err, &notRegular):
		return &safefile.NotRegularError{Path: name, Mode: notRegular.Mode}
	case errors.As(err, &tooLarge):
		return &safefile.TooLargeError{Path: name, Limit: tooLarge.Limit}
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("file %s does not exist%w", name, silent{err})
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("file %s cannot be read: permission denied%w", name, silent{err})
	case errors.As(err, &pe):
		return fmt.Errorf("%s %s: %v%w", pe.Op, name, pe.Err, silent{err})
	}
	return err
}

// Shown is how messages name a file: project-relative inside the project, absolute outside
// it ("/dev/zero", not "../../../dev/zero").
func (h *Host) Shown(path string) string {
	rel := h.Rel(path)
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return filepath.ToSlash(path)
	}
	return rel
}

// silent wraps an error for errors.Is and errors.As without adding to the message.
type silent struct{ err error }

func (s silent) Error() string { return "" }
func (s silent) Unwrap() error { return s.err }

func (h *Host) execFile(thread *starlark.Thread, path string) (starlark.StringDict, error) {
	src, err := h.ReadFile(path)
	if err != nil {
		return nil, err
	}
	stack := thread.Local(threadKey).(*[]string)
	*stack = append(*stack, path)
	defer func() { *stack = (*stack)[:len(*stack)-1] }()

	predeclared := Guard(sized(h.Limits.withDefaults().MaxMemory))
	// True, False and None, predeclared rather than universal, compile to lookups that carry
	// their position: a stopped `while True: pass` can then name its line.
	predeclared["True"], predeclared["False"], predeclared["None"] = starlark.True, starlark.False, starlark.None
	for k, v := range h.Predeclared {
		predeclared[k] = v
	}
	for k, v := range Guard(h.Overrides[path]) {
		predeclared[k] = v
	}
	predeclared["__file__"] = starlark.String(path)
	// As in Tilt: "__main__" in the main file, so `if __name__ == "__main__":` works; a loaded
	// or included file sees its project-relative path.
	predeclared["__name__"] = starlark.String(h.Rel(path))
	if len(*stack) == 1 {
		predeclared["__name__"] = starlark.String("__main__")
	}
	globals, err := starlark.ExecFileOptions(FileOptions, thread, h.Rel(path), src, predeclared)
	return globals, err
}

// load implements load(): relative paths resolve against the loading file; each module runs
// once; a cycle is an error naming the chain.
func (h *Host) load(thread *starlark.Thread, name string) (starlark.StringDict, error) {
	var path string
	switch {
	case strings.HasPrefix(name, "ext://"):
		if h.Native != nil {
			if globals, ok := h.Native(thread, strings.TrimPrefix(name, "ext://")); ok {
				return globals, nil
			}
		}
		p, err := h.resolveExt(thread, strings.TrimPrefix(name, "ext://"))
		if err != nil {
			return nil, err
		}
		path = p
	case strings.Contains(name, "://"):
		return nil, fmt.Errorf("load(%q): only local files and ext:// extensions can be loaded", name)
	default:
		path = AbsPath(thread, name)
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		// Tilt loads <dir>/Tiltfile when given a directory.
		main, err := FindMain(path)
		if err != nil {
			return nil, err
		}
		path = main
	}
	h.mu.Lock()
	m := h.modules[path]
	if m != nil && m.loading {
		h.mu.Unlock()
		stack := *thread.Local(threadKey).(*[]string)
		chain := make([]string, 0, len(stack)+1)
		for _, s := range stack {
			chain = append(chain, h.Rel(s))
		}
		chain = append(chain, h.Rel(path))
		return nil, fmt.Errorf("load cycle: %s; a file cannot load itself through its own loads", strings.Join(chain, " -> "))
	}
	if m != nil {
		h.mu.Unlock()
		return m.globals, m.err
	}
	h.mu.Unlock()
	return h.execModule(thread, path)
}

// resolveExt finds an extension's Tiltfile through h.Ext, or, without one, vendored under
// tilt_modules/ as Tilt keeps them.
func (h *Host) resolveExt(thread *starlark.Thread, ext string) (string, error) {
	if h.Ext == nil {
		path := filepath.Join(h.Dir, "tilt_modules", filepath.FromSlash(ext), "Tiltfile")
		h.RecordRead(path)
		if _, err := os.Stat(path); err != nil {
			return "", fmt.Errorf("load(\"ext://%s\"): extension %q is not vendored at %s; copy the extension's Tiltfile there, or into your project and load() it by relative path", ext, ext, h.Rel(path))
		}
		return path, nil
	}
	at := ""
	if thread.CallStackDepth() > 0 {
		at = thread.CallFrame(0).Pos.String()
	}
	h.mu.Lock()
	loader := h.extFiles[CurrentFile(thread)]
	h.mu.Unlock()
	path, err := h.Ext.Resolve(Context(thread), ext, loader, at)
	if err != nil {
		if at != "" {
			return "", fmt.Errorf("%s: %w", at, err)
		}
		return "", err
	}
	path = filepath.Clean(path)
	h.RecordRead(path)
	h.mu.Lock()
	h.extFiles[path] = ext
	h.mu.Unlock()
	return path, nil
}

// RunFile runs the file at path as a module of its own (once, like a load()), on a thread of
// Run: for a Tiltfile the project registers but does not load (an extension run with args).
func (h *Host) RunFile(thread *starlark.Thread, path string) error {
	_, err := h.load(thread, path)
	return err
}

// execModule runs the file at path once, marked as loading while it runs so that a load()
// leading back to it is reported as a cycle.
func (h *Host) execModule(thread *starlark.Thread, path string) (starlark.StringDict, error) {
	m := &module{loading: true}
	h.mu.Lock()
	h.modules[path] = m
	h.mu.Unlock()

	globals, err := h.execFile(thread, path)
	h.mu.Lock()
	m.globals, m.err, m.loading = globals, err, false
	h.mu.Unlock()
	return globals, err
}

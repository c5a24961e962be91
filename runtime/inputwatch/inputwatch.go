// Package inputwatch watches the inputs of a kiln plan, for kiln watch: every file the
// evaluation read, and each build context with its exclude list, minus what watch_settings(ignore=),
// .kilnignore and .tiltignore leave out. It keeps a filememo.Memo in step with what it sees, so
// that the next evaluation reads and hashes only what changed.
package inputwatch

import (
	"path/filepath"
	"slices"
	"sync"

	"github.com/kiln-dev/kiln/internal/filememo"
	"github.com/kiln-dev/kiln/runtime/filewatch"
	"github.com/kiln-dev/kiln/runtime/plan"
)

// Watcher is a filewatch.Watcher over a plan's inputs, with the Memo its batches keep current.
type Watcher struct {
	fw      *filewatch.Watcher
	memo    *filememo.Memo
	batches chan filewatch.Batch
	closing chan struct{}
	done    chan struct{}
	once    sync.Once
}

// New starts watching nothing yet: SetPlan gives the inputs. opts.IgnoreDir and opts.Ignore
// are filled in from p.
func New(p *plan.Plan, opts filewatch.Options) (*Watcher, error) {
	opts.IgnoreDir = p.Dir
	opts.Ignore = Ignore(p)
	fw, err := filewatch.New(opts)
	if err != nil {
		return nil, err
	}
	w := &Watcher{fw: fw, memo: filememo.New(fw.Vouch), batches: make(chan filewatch.Batch), closing: make(chan struct{}), done: make(chan struct{})}
	go w.forward()
	return w, nil
}

// Memo is what the next evaluation may reuse (builtins.Options.Memo).
func (w *Watcher) Memo() *filememo.Memo { return w.memo }

// Batches delivers the watcher's batches, each after the Memo dropped what it changed. It is
// closed by Close.
func (w *Watcher) Batches() <-chan filewatch.Batch { return w.batches }

// SetPlan watches p's inputs instead of the previous plan's.
func (w *Watcher) SetPlan(p *plan.Plan) error {
	if err := w.fw.SetIgnore(Ignore(p)); err != nil {
		return err
	}
	return w.fw.SetRoots(Roots(p))
}

// Close stops watching and closes Batches.
func (w *Watcher) Close() error {
	var err error
	w.once.Do(func() {
		close(w.closing)
		err = w.fw.Close()
		<-w.done
	})
	return err
}

func (w *Watcher) forward() {
	defer close(w.done)
	defer close(w.batches)
	for b := range w.fw.Batches() {
		if b.Rescanned || b.Err != nil {
			w.memo.Reset() // events may be missing: trust nothing kept
		} else {
			w.memo.Changed(b.Paths)
		}
		select {
		case w.batches <- b:
		case <-w.closing:
			return
		}
	}
}

// Ignore is what kiln watch never watches beyond the built-in rules: watch_settings(ignore=)
// and the lines of .kilnignore and .tiltignore beside the project file.
func Ignore(p *plan.Plan) []string {
	out := append([]string{}, p.Settings.WatchIgnore...)
	if more, err := filewatch.ReadIgnoreFile(p.Dir); err == nil {
		out = append(out, more...)
	}
	return out
}

// Roots are the inputs of a plan to watch: every file and directory the evaluation read (the
// Kilnfile and what it loads, manifests, charts, build contexts, local_resource deps), each
// build context with its exclude list. A tree that is more than one image's context with
// different excludes, or also a dep of a local_resource or custom_build, is watched whole:
// what one of them excludes, another reads.
func Roots(p *plan.Plan) []filewatch.Root {
	excludes := map[string][]string{}
	whole := map[string]bool{}
	for _, img := range p.Images {
		if img.Custom != nil {
			for _, d := range img.Custom.Deps {
				whole[d] = true
			}
			continue
		}
		if prev, ok := excludes[img.Context]; ok && !slices.Equal(prev, img.Excludes) {
			whole[img.Context] = true
		}
		excludes[img.Context] = img.Excludes
	}
	for _, lr := range p.LocalResources {
		for _, d := range lr.Deps {
			whole[d] = true
		}
	}
	roots := make([]filewatch.Root, 0, len(p.WatchedFiles))
	for _, f := range p.WatchedFiles {
		r := filewatch.Root{Path: filepath.Join(p.Dir, filepath.FromSlash(f))}
		if !whole[f] {
			r.Ignore = excludes[f]
		}
		roots = append(roots, r)
	}
	return roots
}

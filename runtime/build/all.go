package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/kiln-dev/kiln/runtime/plan"
)

// BuildAll builds the plan's images, or, when only is not empty, only the
// images whose refs are in it and the images they build FROM, in dependency order: an image starts
// once every image of its ImageDeps is built, and at most maxParallel
// (p.Settings.MaxParallelUpdates; < 1 means 1) build at once. Each image's
// progress lines go to out prefixed with its ref ("example/web │ ").
//
// It stops at the first error: the builds in flight are cancelled and that
// error is returned, with the results of the images finished so far. The
// results are in plan order.
func (b *Builder) BuildAll(ctx context.Context, p *plan.Plan, only []string, maxParallel int, out io.Writer) ([]Result, error) {
	if maxParallel < 1 {
		maxParallel = 1
	}
	byRef := make(map[string]*plan.Image, len(p.Images))
	for i := range p.Images {
		byRef[p.Images[i].Ref] = &p.Images[i]
	}

	// The images to build: only and their image deps, transitively.
	selected := map[string]bool{}
	var visit func(ref, from string) error
	visit = func(ref, from string) error {
		if selected[ref] {
			return nil
		}
		img := byRef[ref]
		if img == nil {
			if from == "" {
				return fmt.Errorf("no image %q in the plan (images: %s)", ref, strings.Join(imageRefs(p), ", "))
			}
			return fmt.Errorf("image %q builds FROM %q, which is not an image of the plan", from, ref)
		}
		selected[ref] = true
		for _, d := range img.ImageDeps {
			if err := visit(d, ref); err != nil {
				return err
			}
		}
		return nil
	}
	if len(only) == 0 {
		for i := range p.Images {
			if err := visit(p.Images[i].Ref, ""); err != nil {
				return nil, err
			}
		}
	} else {
		for _, r := range only {
			if err := visit(r, ""); err != nil {
				return nil, err
			}
		}
	}
	var order []*plan.Image
	for i := range p.Images {
		if selected[p.Images[i].Ref] {
			order = append(order, &p.Images[i])
		}
	}
	if err := checkCycles(order, byRef); err != nil {
		return nil, err
	}

	width := 0
	for _, img := range order {
		width = max(width, utf8.RuneCountInString(img.Ref))
	}
	lw := &lockedWriter{w: out}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	type state struct {
		done   chan struct{}
		res    Result
		err    error
		finish bool
	}
	states := make(map[string]*state, len(order))
	for _, img := range order {
		states[img.Ref] = &state{done: make(chan struct{})}
	}
	sem := make(chan struct{}, maxParallel)
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	fail := func(err error) {
		errOnce.Do(func() {
			firstErr = err
			cancel(err)
		})
	}
	for _, img := range order {
		st := states[img.Ref]
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(st.done)
			deps := make(map[string]string, len(img.ImageDeps))
			for _, d := range img.ImageDeps {
				ds := states[d]
				select {
				case <-ds.done:
				case <-ctx.Done():
					return
				}
				if !ds.finish {
					return // the dep failed or was cancelled
				}
				deps[d] = byRef[d].FullRef()
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			if ctx.Err() != nil {
				return
			}
			prefix := img.Ref + strings.Repeat(" ", width-utf8.RuneCountInString(img.Ref)) + " │ "
			st.res, st.err = b.Build(ctx, p, img, deps, lw, prefix)
			if st.err != nil {
				if ctx.Err() == nil || !errors.Is(st.err, context.Canceled) {
					fail(st.err)
				}
				return
			}
			st.finish = true
		}()
	}
	wg.Wait()

	var results []Result
	for _, img := range order {
		if st := states[img.Ref]; st.finish {
			results = append(results, st.res)
		}
	}
	if firstErr != nil {
		return results, firstErr
	}
	if err := context.Cause(ctx); err != nil {
		return results, err
	}
	return results, nil
}

// checkCycles reports a cycle among the selected images' ImageDeps (the
// plan is checked at evaluation; this keeps BuildAll from waiting forever
// on a hand-made plan).
func checkCycles(order []*plan.Image, byRef map[string]*plan.Image) error {
	const (
		visiting = 1
		done     = 2
	)
	state := map[string]int{}
	var stack []string
	var visit func(ref string) error
	visit = func(ref string) error {
		switch state[ref] {
		case done:
			return nil
		case visiting:
			i := 0
			for stack[i] != ref {
				i++
			}
			return fmt.Errorf("dependency cycle between images: %s -> %s", strings.Join(stack[i:], " -> "), ref)
		}
		state[ref] = visiting
		stack = append(stack, ref)
		for _, d := range byRef[ref].ImageDeps {
			if err := visit(d); err != nil {
				return err
			}
		}
		stack = stack[:len(stack)-1]
		state[ref] = done
		return nil
	}
	for _, img := range order {
		if err := visit(img.Ref); err != nil {
			return err
		}
	}
	return nil
}

func imageRefs(p *plan.Plan) []string {
	refs := make([]string, len(p.Images))
	for i := range p.Images {
		refs[i] = p.Images[i].Ref
	}
	return refs
}

// lockedWriter serialises writes from parallel builds; each build writes
// whole lines, so lines never interleave.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	if l.w == nil {
		return len(b), nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

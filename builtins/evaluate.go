package builtins

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/kiln-dev/kiln/runtime/contexthash"
	"github.com/kiln-dev/kiln/runtime/plan"
	"github.com/kiln-dev/kiln/starlark/ext"
	"github.com/kiln-dev/kiln/starlark/host"
	"go.starlark.net/starlark"
)

// Evaluate runs the project file at path (a Kilnfile, a Tiltfile, or a directory holding one)
// and returns its plan. Errors name file:line; a Starlark error carries its backtrace.
func Evaluate(path string, opts Options) (*plan.Plan, error) {
	return EvaluateContext(context.Background(), path, opts)
}

// EvaluateContext is Evaluate, stopped when ctx ends (Ctrl-C, --timeout) with an error naming
// the file:line it had reached, and bounded by opts.Limits.
func EvaluateContext(ctx context.Context, path string, opts Options) (*plan.Plan, error) {
	main, err := host.FindMain(path)
	if err != nil {
		return nil, err
	}
	h := host.New(filepath.Dir(main), nil)
	h.Limits = opts.Limits
	s := newState(h, opts)
	s.mainPath = main
	defer s.closeKube()
	s.renders = openRenderCache(opts.CacheDir)
	eo := opts.Ext
	if eo.ProjectDir == "" {
		eo.ProjectDir = h.Dir
	}
	if eo.CacheDir == "" {
		eo.CacheDir = opts.CacheDir
	}
	if eo.Getenv == nil {
		eo.Getenv = func(k string) string { v, _ := s.getenv(k); return v }
	}
	if s.ext, err = ext.New(eo); err != nil {
		return nil, &EvalError{Err: err}
	}
	h.Ext = s.ext
	h.Native = s.native
	h.Memo = s.opts.Memo
	h.Predeclared = host.Guard(s.predeclared(main))
	h.Print = func(msg string) { fmt.Fprintln(s.opts.Stdout, msg) }

	if _, err := h.Exec(ctx, main); err != nil {
		if code, ok := isExit(err); !ok || code != 0 {
			return nil, &EvalError{Err: err}
		}
	}
	if ctx.Err() != nil {
		return nil, &EvalError{Err: fmt.Errorf("evaluation stopped: %v", context.Cause(ctx))}
	}
	if err := s.runExtensions(ctx); err != nil {
		return nil, &EvalError{Err: err}
	}
	if err := s.ext.Finish(); err != nil {
		return nil, &EvalError{Err: err}
	}
	if s.opts.CacheDir != "" {
		if s.hashCache, err = contexthash.Open(s.opts.CacheDir); err != nil {
			s.hashCache = nil // a broken cache is only slower: hash from scratch
		}
	}
	var p *plan.Plan
	err = h.Run(ctx, "assemble", func(t *starlark.Thread) error {
		p, err = s.assemble(t)
		return err
	})
	if err != nil {
		return nil, &EvalError{Err: err}
	}
	if s.hashCache != nil {
		_ = s.hashCache.Save()
	}
	s.renders.save()
	return p, nil
}

// EvalError is an evaluation failure. Its message is what the user sees: a Starlark
// backtrace with file:line, or an assembly error that names its call site.
type EvalError struct{ Err error }

func (e *EvalError) Error() string { return host.ErrorMessage(e.Err) }
func (e *EvalError) Unwrap() error { return e.Err }

// predeclared returns every builtin a project file sees.
func (s *State) predeclared(mainPath string) starlark.StringDict {
	all := starlark.StringDict{}
	for _, group := range []starlark.StringDict{
		s.fileBuiltins(), s.osModules(), s.settingsBuiltins(), s.imageBuiltins(),
		s.k8sBuiltins(), s.chartBuiltins(), s.localBuiltins(), s.clusterBuiltins(),
		s.includeBuiltins(), s.composeBuiltins(), {"config": s.config.module(mainPath), "v1alpha1": s.v1alpha1Module()},
	} {
		for k, v := range group {
			all[k] = v
		}
	}
	withTiltAPI(all)
	return all
}

package builtins

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/kiln-dev/kiln/starlark/ext"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// v1alpha1Module holds the v1alpha1 members kiln implements: extension_repo and extension,
// which register before the load('ext://…') that needs them, as in Tilt, and the buttons
// (buttons.go). withTiltAPI adds the rest. See docs/reference/extensions.md.
func (s *State) v1alpha1Module() *starlarkstruct.Module {
	members := s.buttonBuiltins()
	members["extension_repo"] = starlark.NewBuiltin("v1alpha1.extension_repo", s.extensionRepo)
	members["extension"] = starlark.NewBuiltin("v1alpha1.extension", s.extension)
	return &starlarkstruct.Module{Name: "v1alpha1", Members: members}
}

func (s *State) extensionRepo(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var r ext.Repo
	var labels, annotations *starlark.Dict
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &r.Name, "labels?", &labels, "annotations?", &annotations,
		"url?", &r.URL, "ref?", &r.Ref, "load_host?", &r.LoadHost, "git_subpath?", &r.GitSubpath); err != nil {
		return nil, err
	}
	r.At = pos(t)
	if s.ext == nil {
		return starlark.None, nil
	}
	if err := s.ext.AddRepo(r); err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	return starlark.None, nil
}

func (s *State) extension(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var e ext.Extension
	var labels, annotations *starlark.Dict
	var extArgs stringList
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &e.Name, "labels?", &labels, "annotations?", &annotations,
		"repo_name?", &e.RepoName, "repo_path?", &e.RepoPath, "args?", &extArgs); err != nil {
		return nil, err
	}
	e.Args, e.At = extArgs, pos(t)
	if s.ext == nil {
		return starlark.None, nil
	}
	if err := s.ext.AddExtension(e); err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	return starlark.None, nil
}

// runExtensions runs, as Tilt does, each extension the project registered with
// v1alpha1.extension() but no load() asked for: as a Tiltfile of its own, whose config.parse()
// reads the registration's args. What it declares joins the project.
func (s *State) runExtensions(ctx context.Context) error {
	if s.ext == nil {
		return nil
	}
	for _, e := range s.ext.Unloaded() {
		path, err := s.ext.Resolve(ctx, e.Name, "", e.At)
		if err != nil {
			return fmt.Errorf("%s: v1alpha1.extension(%q): %v", e.At, e.Name, err)
		}
		path = filepath.Clean(path)
		s.host.RecordRead(path)
		cfg := newConfigState(s)
		args := append([]string{}, e.Args...)
		cfg.extArgs = &args
		if s.host.Overrides == nil {
			s.host.Overrides = map[string]starlark.StringDict{}
		}
		s.host.Overrides[path] = starlark.StringDict{"config": cfg.module(path)}
		if err := s.host.Run(ctx, "extension "+e.Name, func(t *starlark.Thread) error { return s.host.RunFile(t, path) }); err != nil {
			return err
		}
	}
	return nil
}

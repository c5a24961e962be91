package builtins

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// osModules returns the os, os.path, sys and shlex modules.
func (s *State) osModules() starlark.StringDict {
	environ := starlark.NewDict(0)
	for _, kv := range s.environ() {
		k, v, _ := strings.Cut(kv, "=")
		_ = environ.SetKey(starlark.String(k), starlark.String(v))
	}
	path := &starlarkstruct.Module{Name: "os.path", Members: starlark.StringDict{
		"abspath": starlark.NewBuiltin("os.path.abspath", s.pathFunc(func(t *starlark.Thread, p string) (starlark.Value, error) { return starlark.String(s.abs(t, p)), nil })),
		"basename": starlark.NewBuiltin("os.path.basename", s.pathFunc(func(_ *starlark.Thread, p string) (starlark.Value, error) {
			return starlark.String(filepath.Base(p)), nil
		})),
		"dirname": starlark.NewBuiltin("os.path.dirname", s.pathFunc(func(_ *starlark.Thread, p string) (starlark.Value, error) {
			return starlark.String(filepath.Dir(p)), nil
		})),
		"exists": starlark.NewBuiltin("os.path.exists", s.pathFunc(func(t *starlark.Thread, p string) (starlark.Value, error) {
			abs := s.abs(t, p)
			s.host.RecordRead(abs) // the answer changes when the file appears or goes
			_, err := os.Stat(abs)
			return starlark.Bool(err == nil), nil
		})),
		"realpath": starlark.NewBuiltin("os.path.realpath", s.pathFunc(func(t *starlark.Thread, p string) (starlark.Value, error) {
			abs := s.abs(t, p)
			real, err := filepath.EvalSymlinks(abs)
			if err != nil {
				return starlark.String(abs), nil
			}
			return starlark.String(real), nil
		})),
		"join":    starlark.NewBuiltin("os.path.join", pathJoin),
		"relpath": starlark.NewBuiltin("os.path.relpath", s.relpath),
	}}
	osMod := &starlarkstruct.Module{Name: "os", Members: starlark.StringDict{
		"getcwd": starlark.NewBuiltin("os.getcwd", func(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			return starlark.String(dirOf(t)), starlark.UnpackArgs(b.Name(), args, kwargs)
		}),
		"getenv":   starlark.NewBuiltin("os.getenv", s.osGetenv),
		"putenv":   starlark.NewBuiltin("os.putenv", s.osPutenv),
		"unsetenv": starlark.NewBuiltin("os.unsetenv", s.osUnsetenv),
		"environ":  environ,
		"name":     starlark.String(map[bool]string{true: "nt", false: "posix"}[runtime.GOOS == "windows"]),
		"path":     path,
	}}
	sysMod := &starlarkstruct.Module{Name: "sys", Members: starlark.StringDict{
		"argv":       stringListValue(append([]string{filepath.Base(s.mainPath)}, s.opts.Args...)),
		"executable": starlark.String("kiln"),
	}}
	shlex := &starlarkstruct.Module{Name: "shlex", Members: starlark.StringDict{
		"quote": starlark.NewBuiltin("shlex.quote", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			var str string
			if err := starlark.UnpackArgs(b.Name(), args, kwargs, "s", &str); err != nil {
				return nil, err
			}
			return starlark.String(shellQuote(str)), nil
		}),
	}}
	return starlark.StringDict{"os": osMod, "sys": sysMod, "shlex": shlex}
}

func (s *State) pathFunc(fn func(*starlark.Thread, string) (starlark.Value, error)) func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
	return func(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var p string
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "path", &p); err != nil {
			return nil, err
		}
		return fn(t, p)
	}
}

func pathJoin(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(kwargs) > 0 {
		return nil, fmt.Errorf("%s: unexpected keyword arguments", b.Name())
	}
	parts := make([]string, len(args))
	for i, a := range args {
		str, ok := starlark.AsString(a)
		if !ok {
			return nil, fmt.Errorf("%s: argument %d is %s, want string", b.Name(), i+1, a.Type())
		}
		parts[i] = str
	}
	// Like Python: an absolute component discards everything before it.
	out := ""
	for _, p := range parts {
		if filepath.IsAbs(p) || out == "" {
			out = p
			continue
		}
		out = filepath.Join(out, p)
	}
	return starlark.String(out), nil
}

func (s *State) relpath(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var target, start string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "path", &target, "start?", &start); err != nil {
		return nil, err
	}
	base := dirOf(t)
	if start != "" {
		base = s.abs(t, start)
	}
	rel, err := filepath.Rel(base, s.abs(t, target))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	return starlark.String(rel), nil
}

func (s *State) osGetenv(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var key string
	var def starlark.Value = starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "key", &key, "default?", &def); err != nil {
		return nil, err
	}
	if v, ok := s.getenv(key); ok {
		return starlark.String(v), nil
	}
	return def, nil
}

func (s *State) osPutenv(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var key, value string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "key", &key, "value", &value); err != nil {
		return nil, err
	}
	s.env[key] = &value
	return starlark.None, nil
}

func (s *State) osUnsetenv(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var key string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "key", &key); err != nil {
		return nil, err
	}
	s.env[key] = nil
	return starlark.None, nil
}

// shellQuote quotes s for a POSIX shell, as Python's shlex.quote does.
func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./-_", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

func stringListValue(items []string) *starlark.List {
	out := make([]starlark.Value, len(items))
	for i, s := range items {
		out[i] = starlark.String(s)
	}
	return starlark.NewList(out)
}

package builtins

import (
	"go.starlark.net/starlark"
)

// includeBuiltins are include() and load_dynamic(): Tilt's ways of running another file
// without load()'s string-literal path. Both go through the host's load machinery (the
// thread's Load), so each file still runs once, relative paths resolve against the calling
// file, ext:// works as in load(), and a cycle is an error naming the chain.
func (s *State) includeBuiltins() starlark.StringDict {
	return starlark.StringDict{
		"include":      starlark.NewBuiltin("include", include),
		"load_dynamic": starlark.NewBuiltin("load_dynamic", loadDynamic),
	}
}

// include is include(path): run the file for its effects (its resources, images, settings).
// Its globals are not bound in the caller. Including a file a second time, or one already
// load()ed, does nothing.
func include(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var path string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "path", &path); err != nil {
		return nil, err
	}
	if _, err := t.Load(t, path); err != nil {
		return nil, err
	}
	return starlark.None, nil
}

// loadDynamic is load_dynamic(path): load() with a path computed at run time. It returns the
// file's globals as a frozen dict, name to value.
func loadDynamic(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var path string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "path", &path); err != nil {
		return nil, err
	}
	globals, err := t.Load(t, path)
	if err != nil {
		return nil, err
	}
	out := starlark.NewDict(len(globals))
	for _, name := range globals.Keys() { // sorted: the dict's order is deterministic
		if err := out.SetKey(starlark.String(name), globals[name]); err != nil {
			return nil, err
		}
	}
	out.Freeze()
	return out, nil
}

package builtins

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/kiln-dev/kiln/builtins/k8syaml"
	"github.com/kiln-dev/kiln/runtime/plan"
	"go.starlark.net/starlark"
)

// fileBuiltins are the file and data builtins: read_file, watch_file, listdir, blob, and the
// JSON and YAML readers, decoders and encoders.
func (s *State) fileBuiltins() starlark.StringDict {
	return starlark.StringDict{
		"read_file":          starlark.NewBuiltin("read_file", s.readFile),
		"watch_file":         starlark.NewBuiltin("watch_file", s.watchFile),
		"listdir":            starlark.NewBuiltin("listdir", s.listdir),
		"blob":               starlark.NewBuiltin("blob", makeBlob),
		"read_json":          starlark.NewBuiltin("read_json", s.readData(decodeJSON)),
		"read_yaml":          starlark.NewBuiltin("read_yaml", s.readData(decodeYAML)),
		"read_yaml_stream":   starlark.NewBuiltin("read_yaml_stream", s.readData(decodeYAMLStream)),
		"decode_json":        starlark.NewBuiltin("decode_json", decodeBuiltin(decodeJSON)),
		"decode_yaml":        starlark.NewBuiltin("decode_yaml", decodeBuiltin(decodeYAML)),
		"decode_yaml_stream": starlark.NewBuiltin("decode_yaml_stream", decodeBuiltin(decodeYAMLStream)),
		"encode_json":        starlark.NewBuiltin("encode_json", encodeJSON),
		"encode_yaml":        starlark.NewBuiltin("encode_yaml", encodeYAML),
		"encode_yaml_stream": starlark.NewBuiltin("encode_yaml_stream", encodeYAMLStream),
	}
}

// readFile is read_file(file_path, default=None): the file's contents as a blob. A missing file
// with a default gives the default; the file is watched either way, so creating it re-evaluates.
func (s *State) readFile(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var path string
	var def starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "file_path", &path, "default?", &def); err != nil {
		return nil, err
	}
	abs := s.abs(t, path)
	data, err := s.host.ReadFile(abs)
	if err != nil {
		if def != nil && os.IsNotExist(statErr(abs)) {
			if str, ok := starlark.AsString(def); ok {
				return Blob{Text: str, Source: s.rel(abs)}, nil
			}
			return def, nil
		}
		return nil, err
	}
	return Blob{Text: string(data), Source: s.rel(abs)}, nil
}

func statErr(path string) error { _, err := os.Stat(path); return err }

// watchFile is watch_file(file_path): re-evaluate when the file or directory changes.
func (s *State) watchFile(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var path string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "file_path", &path); err != nil {
		return nil, err
	}
	s.host.RecordRead(s.abs(t, path))
	return starlark.None, nil
}

// listdir is listdir(directory, recursive=False): the absolute paths of the files in a
// directory, sorted. The directory is watched. A directory that does not exist lists as []
// (as in Tilt: real files loop over an optional folder) and is still watched, so creating it
// re-evaluates.
func (s *State) listdir(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var dir string
	var recursive bool
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "directory", &dir, "recursive?", &recursive); err != nil {
		return nil, err
	}
	abs := s.abs(t, dir)
	s.host.RecordRead(abs)
	if _, err := os.Lstat(abs); errors.Is(err, fs.ErrNotExist) {
		return starlark.NewList(nil), nil
	}
	var files []string
	if recursive {
		err := filepath.WalkDir(abs, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == ".git" {
				return filepath.SkipDir
			}
			if !d.IsDir() {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("listdir %s: %v", s.rel(abs), err)
		}
	} else {
		entries, err := os.ReadDir(abs)
		if err != nil {
			return nil, fmt.Errorf("listdir: directory %s cannot be read: %v", s.rel(abs), errors.Unwrap(err))
		}
		for _, e := range entries {
			if !e.IsDir() {
				files = append(files, filepath.Join(abs, e.Name()))
			}
		}
	}
	sort.Strings(files)
	out := make([]starlark.Value, len(files))
	for i, f := range files {
		out[i] = starlark.String(f)
	}
	return starlark.NewList(out), nil
}

func makeBlob(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var input starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "input", &input); err != nil {
		return nil, err
	}
	switch v := input.(type) {
	case starlark.String:
		return Blob{Text: string(v)}, nil
	case Blob:
		return v, nil
	}
	return nil, fmt.Errorf("%s: want a string, got %s", b.Name(), input.Type())
}

type decoder func(source, text string) (starlark.Value, error)

// readData makes read_json, read_yaml and read_yaml_stream: read a file (watched) and decode it.
func (s *State) readData(decode decoder) func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
	return func(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var path string
		var def starlark.Value
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "path", &path, "default?", &def); err != nil {
			return nil, err
		}
		abs := s.abs(t, path)
		data, err := s.host.ReadFile(abs)
		if err != nil {
			if def != nil && os.IsNotExist(statErr(abs)) {
				return def, nil
			}
			return nil, err
		}
		return decode(s.rel(abs), string(data))
	}
}

func decodeBuiltin(decode decoder) func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
	return func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var text starlark.Value
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "text", &text); err != nil {
			return nil, err
		}
		str, ok := starlark.AsString(text)
		if !ok {
			if blob, isBlob := text.(Blob); isBlob {
				str = blob.Text
			} else {
				return nil, fmt.Errorf("%s: want a string or blob, got %s", b.Name(), text.Type())
			}
		}
		return decode(b.Name()+" input", str)
	}
}

func decodeJSON(source, text string) (starlark.Value, error) {
	var v any
	if err := unmarshalJSON(text, &v); err != nil {
		return nil, fmt.Errorf("%s: invalid JSON: %v", source, err)
	}
	return fromGo(numbersToGo(v)), nil
}

func decodeYAML(source, text string) (starlark.Value, error) {
	docs, err := k8syaml.DecodeStream(source, []byte(text))
	if err != nil {
		return nil, err
	}
	switch len(docs) {
	case 0:
		return starlark.None, nil
	case 1:
		return fromGo(numbersToGo(docs[0])), nil
	}
	return nil, fmt.Errorf("%s: expected one YAML document, found %d; use read_yaml_stream or decode_yaml_stream", source, len(docs))
}

func decodeYAMLStream(source, text string) (starlark.Value, error) {
	docs, err := k8syaml.DecodeStream(source, []byte(text))
	if err != nil {
		return nil, err
	}
	out := make([]starlark.Value, len(docs))
	for i, d := range docs {
		out[i] = fromGo(numbersToGo(d))
	}
	return starlark.NewList(out), nil
}

func encodeJSON(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var v starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "obj", &v); err != nil {
		return nil, err
	}
	g, err := toGo(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	out, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return nil, err
	}
	return starlark.String(string(out) + "\n"), nil
}

func encodeYAML(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var v starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "obj", &v); err != nil {
		return nil, err
	}
	g, err := toGo(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	out, err := plan.EncodeYAML(g)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	return Blob{Text: string(out)}, nil
}

func encodeYAMLStream(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var list starlark.Iterable
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "objs", &list); err != nil {
		return nil, err
	}
	var docs []any
	it := list.Iterate()
	defer it.Done()
	var x starlark.Value
	for it.Next(&x) {
		g, err := toGo(x)
		if err != nil {
			return nil, fmt.Errorf("%s: item %d: %v", b.Name(), len(docs), err)
		}
		docs = append(docs, g)
	}
	out, err := plan.EncodeYAMLStream(docs)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	return Blob{Text: string(out)}, nil
}

// numbersToGo turns json.Number values into int64 or float64.
func numbersToGo(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		f, _ := v.Float64()
		return f
	case map[string]any:
		for k, x := range v {
			v[k] = numbersToGo(x)
		}
	case []any:
		for i, x := range v {
			v[i] = numbersToGo(x)
		}
	}
	return v
}

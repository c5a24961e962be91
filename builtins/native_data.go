package builtins

import (
	"encoding/base64"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"go.starlark.net/starlark"
	"sigs.k8s.io/yaml"
)

// ext://secret and ext://configmap: the real extensions build their YAML with
// `kubectl create secret|configmap ... --dry-run=client -o yaml` through local(), which needs
// kubectl. kiln builds the same objects itself, with the same function names and parameters.

func (s *State) secretExt() starlark.StringDict {
	return starlark.StringDict{
		"secret_yaml_generic":    starlark.NewBuiltin("secret_yaml_generic", s.dataObject("Secret", false)),
		"secret_create_generic":  starlark.NewBuiltin("secret_create_generic", s.dataObject("Secret", true)),
		"secret_from_dict":       starlark.NewBuiltin("secret_from_dict", s.fromDict("Secret")),
		"secret_yaml_tls":        starlark.NewBuiltin("secret_yaml_tls", s.tlsSecret(false)),
		"secret_create_tls":      starlark.NewBuiltin("secret_create_tls", s.tlsSecret(true)),
		"secret_yaml_registry":   starlark.NewBuiltin("secret_yaml_registry", s.registrySecret(false)),
		"secret_create_registry": starlark.NewBuiltin("secret_create_registry", s.registrySecret(true)),
	}
}

func (s *State) configmapExt() starlark.StringDict {
	return starlark.StringDict{
		"configmap_yaml":      starlark.NewBuiltin("configmap_yaml", s.dataObject("ConfigMap", false)),
		"configmap_create":    starlark.NewBuiltin("configmap_create", s.dataObject("ConfigMap", true)),
		"configmap_from_dict": starlark.NewBuiltin("configmap_from_dict", s.fromDict("ConfigMap")),
	}
}

// dataObject is secret_yaml_generic / configmap_yaml(name, namespace=”, from_file=None,
// secret_type=None (Secret) or watch=True (ConfigMap), from_env_file=None), returning the
// YAML, and the *_create forms, which k8s_yaml() it. from_file entries are 'path' (the key
// is the file's name) or 'key=path'; a directory gives one key per regular file in it.
func (s *State) dataObject(kind string, create bool) builtinFunc {
	return func(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var name, namespace, secretType string
		var fromFile, fromEnvFile stringList
		watch := true
		params := []any{"name", &name, "namespace?", &namespace, "from_file?", &fromFile}
		if kind == "Secret" {
			params = append(params, "secret_type?", &secretType)
		} else {
			params = append(params, "watch?", &watch)
		}
		params = append(params, "from_env_file?", &fromEnvFile)
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, params...); err != nil {
			return nil, err
		}
		data := map[string]string{}
		for _, f := range fromFile {
			key, path, keyed := strings.Cut(f, "=")
			if !keyed {
				path, key = key, ""
			}
			if err := s.readInto(t, data, key, s.abs(t, path), watch); err != nil {
				return nil, fmt.Errorf("%s(%q): from_file %q: %v", b.Name(), name, f, err)
			}
		}
		for _, f := range fromEnvFile {
			text, err := s.readSource(t, s.abs(t, f), watch)
			if err != nil {
				return nil, fmt.Errorf("%s(%q): from_env_file %q: %v", b.Name(), name, f, err)
			}
			for i, line := range strings.Split(text, "\n") {
				line = strings.TrimSpace(line)
				if line == "" || strings.HasPrefix(line, "#") {
					continue
				}
				k, v, ok := strings.Cut(line, "=")
				if !ok {
					return nil, fmt.Errorf("%s(%q): %s:%d: want KEY=VALUE", b.Name(), name, f, i+1)
				}
				data[strings.TrimSpace(k)] = v
			}
		}
		return s.emitData(t, b, kind, name, namespace, secretType, data, create)
	}
}

// fromDict is secret_from_dict / configmap_from_dict(name, namespace=”, inputs={}): the YAML
// of an object holding inputs.
func (s *State) fromDict(kind string) builtinFunc {
	return func(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var name, namespace string
		var inputs *starlark.Dict
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "namespace?", &namespace, "inputs?", &inputs); err != nil {
			return nil, err
		}
		data := map[string]string{}
		if inputs != nil {
			for _, kv := range inputs.Items() {
				k, ok1 := starlark.AsString(kv[0])
				v, ok2 := starlark.AsString(kv[1])
				if !ok1 || !ok2 {
					return nil, fmt.Errorf("%s(%q): inputs must map strings to strings, got %s: %s", b.Name(), name, kv[0].Type(), kv[1].Type())
				}
				data[k] = v
			}
		}
		return s.emitData(t, b, kind, name, namespace, "", data, false)
	}
}

// tlsSecret is secret_yaml_tls / secret_create_tls(name, cert, key, namespace=”).
func (s *State) tlsSecret(create bool) builtinFunc {
	return func(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var name, cert, key, namespace string
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "cert", &cert, "key", &key, "namespace?", &namespace); err != nil {
			return nil, err
		}
		data := map[string]string{}
		if err := s.readInto(t, data, "tls.crt", s.abs(t, cert), true); err != nil {
			return nil, fmt.Errorf("%s(%q): cert: %v", b.Name(), name, err)
		}
		if err := s.readInto(t, data, "tls.key", s.abs(t, key), true); err != nil {
			return nil, fmt.Errorf("%s(%q): key: %v", b.Name(), name, err)
		}
		return s.emitData(t, b, "Secret", name, namespace, "kubernetes.io/tls", data, create)
	}
}

// registrySecret is secret_yaml_registry / secret_create_registry(name, namespace=”,
// flags_dict={}): a kubernetes.io/dockerconfigjson Secret from kubectl's docker-registry flags
// (docker-server, docker-username, docker-password, docker-email).
func (s *State) registrySecret(create bool) builtinFunc {
	return func(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var name, namespace string
		var flags *starlark.Dict
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "namespace?", &namespace, "flags_dict?", &flags); err != nil {
			return nil, err
		}
		f := map[string]string{"docker-server": "https://index.docker.io/v1/"}
		if flags != nil {
			for _, kv := range flags.Items() {
				k, _ := starlark.AsString(kv[0])
				v, _ := starlark.AsString(kv[1])
				f[strings.TrimPrefix(k, "--")] = v
			}
		}
		auth := base64.StdEncoding.EncodeToString([]byte(f["docker-username"] + ":" + f["docker-password"]))
		entry := map[string]string{"username": f["docker-username"], "password": f["docker-password"], "auth": auth}
		if f["docker-email"] != "" {
			entry["email"] = f["docker-email"]
		}
		cfg, err := yaml.Marshal(map[string]any{"auths": map[string]any{f["docker-server"]: entry}})
		if err != nil {
			return nil, err
		}
		js, err := yaml.YAMLToJSON(cfg)
		if err != nil {
			return nil, err
		}
		return s.emitData(t, b, "Secret", name, namespace, "kubernetes.io/dockerconfigjson", map[string]string{".dockerconfigjson": string(js)}, create)
	}
}

// readInto reads path into data under key (its base name when key is ""), or, for a
// directory, each regular file in it under its name.
func (s *State) readInto(t *starlark.Thread, data map[string]string, key, path string, watch bool) error {
	if isDir(path) {
		entries, err := filepathGlob(path)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := s.readInto(t, data, "", e, watch); err != nil {
				return err
			}
		}
		return nil
	}
	text, err := s.readSource(t, path, watch)
	if err != nil {
		return err
	}
	if key == "" {
		key = filepath.Base(path)
	}
	data[key] = text
	return nil
}

// readSource reads a file, recorded for watching unless watch is false.
func (s *State) readSource(t *starlark.Thread, path string, watch bool) (string, error) {
	read := s.host.ReadFile
	if !watch {
		read = s.host.ReadUnwatched
	}
	data, err := read(path)
	if err != nil {
		return "", err
	}
	return string(data), nil
}

// filepathGlob lists the regular files directly in dir, sorted.
func filepathGlob(dir string) ([]string, error) {
	matches, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range matches {
		if isFile(m) {
			out = append(out, m)
		}
	}
	sort.Strings(out)
	return out, nil
}

// emitData builds the object as kubectl create --dry-run=client -o yaml would, and returns
// its YAML, or, for create, adds it with k8s_yaml().
func (s *State) emitData(t *starlark.Thread, b *starlark.Builtin, kind, name, namespace, secretType string, data map[string]string, create bool) (starlark.Value, error) {
	meta := map[string]any{"name": name}
	if namespace != "" {
		meta["namespace"] = namespace
	}
	obj := map[string]any{"apiVersion": "v1", "kind": kind, "metadata": meta}
	if kind == "Secret" {
		enc := map[string]any{}
		for k, v := range data {
			enc[k] = base64.StdEncoding.EncodeToString([]byte(v))
		}
		obj["data"] = enc
		if secretType != "" {
			obj["type"] = secretType
		}
	} else {
		d := map[string]any{}
		for k, v := range data {
			d[k] = v
		}
		obj["data"] = d
	}
	text, err := yaml.Marshal(obj)
	if err != nil {
		return nil, err
	}
	blob := Blob{Text: string(text), Source: b.Name() + " " + name}
	if !create {
		return blob, nil
	}
	if _, err := s.k8sYAML(t, b, starlark.Tuple{blob}, nil); err != nil {
		return nil, err
	}
	return starlark.None, nil
}

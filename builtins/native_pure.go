package builtins

import (
	"fmt"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/kiln-dev/kiln/builtins/k8syaml"
	"github.com/kiln-dev/kiln/runtime/plan"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// Native versions of popular extensions whose scripts need no helper program, so that a
// project using them evaluates with no network and no lock entry (the real scripts must be
// fetched): namespace, uibutton, min_tilt_version, color and dotenv.

func (s *State) namespaceExt() starlark.StringDict {
	return starlark.StringDict{
		"namespace_yaml":   starlark.NewBuiltin("namespace_yaml", s.namespaceYAML),
		"namespace_create": starlark.NewBuiltin("namespace_create", s.namespaceCreate),
		"namespace_inject": starlark.NewBuiltin("namespace_inject", s.namespaceInject),
	}
}

// namespaceObject is namespace_yaml(name, annotations=[], labels=[]): labels and annotations
// are 'key: value' strings, as in the real extension.
func namespaceObject(fn, name string, annotations, labels []string) (Blob, error) {
	meta := map[string]any{"name": name}
	for _, kv := range []struct {
		field string
		list  []string
	}{{"annotations", annotations}, {"labels", labels}} {
		if len(kv.list) == 0 {
			continue
		}
		m := map[string]any{}
		for _, entry := range kv.list {
			k, v, ok := strings.Cut(entry, ":")
			if !ok {
				return Blob{}, fmt.Errorf("%s(%q): %s entry %q: want 'key: value'", fn, name, kv.field, entry)
			}
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
		meta[kv.field] = m
	}
	text, err := k8syaml.EncodeObjects([]plan.Object{{"apiVersion": "v1", "kind": "Namespace", "metadata": meta}})
	if err != nil {
		return Blob{}, err
	}
	return Blob{Text: string(text), Source: "namespace " + name}, nil
}

func (s *State) namespaceYAML(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	var annotations, labels stringList
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "annotations?", &annotations, "labels?", &labels); err != nil {
		return nil, err
	}
	return namespaceObject(b.Name(), name, annotations, labels)
}

func (s *State) namespaceCreate(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	var allowDup bool
	var annotations, labels stringList
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "allow_duplicates?", &allowDup, "annotations?", &annotations, "labels?", &labels); err != nil {
		return nil, err
	}
	blob, err := namespaceObject(b.Name(), name, annotations, labels)
	if err != nil {
		return nil, err
	}
	if _, err := s.k8sYAML(t, b, starlark.Tuple{blob}, []starlark.Tuple{{starlark.String("allow_duplicates"), starlark.Bool(allowDup)}}); err != nil {
		return nil, err
	}
	return starlark.None, nil
}

// namespaceInject is namespace_inject(objects, namespace): the YAML with every namespaced
// object moved to namespace (cluster-scoped kinds are left as they are).
func (s *State) namespaceInject(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var objects starlark.Value
	var namespace string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "x", &objects, "ns", &namespace); err != nil {
		return nil, err
	}
	var text, source string
	switch v := objects.(type) {
	case Blob:
		text, source = v.Text, v.Source
	case starlark.String:
		text, source = string(v), "namespace_inject input"
	default:
		return nil, fmt.Errorf("%s: want YAML as a string or a blob, got %s", b.Name(), objects.Type())
	}
	objs, err := k8syaml.DecodeObjects(source, []byte(text))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	for _, o := range objs {
		if meta, ok := o["metadata"].(map[string]any); ok && !clusterScoped[o.Kind()] {
			meta["namespace"] = namespace
		}
	}
	out, err := k8syaml.EncodeObjects(objs)
	if err != nil {
		return nil, err
	}
	return Blob{Text: string(out), Source: source}, nil
}

// uibuttonExt is ext://uibutton: cmd_button and the input helpers, recorded as buttons
// (see buttons.go). As the real extension does, buttons exist only under kiln watch (Tilt's
// `tilt up`): other commands have no view to show them.
func (s *State) uibuttonExt() starlark.StringDict {
	return starlark.StringDict{
		"cmd_button":   starlark.NewBuiltin("cmd_button", s.cmdButton),
		"text_input":   starlark.NewBuiltin("text_input", inputBuilder("text")),
		"bool_input":   starlark.NewBuiltin("bool_input", inputBuilder("bool")),
		"choice_input": starlark.NewBuiltin("choice_input", inputBuilder("choice")),
		"location": starlarkstruct.FromStringDict(starlark.String("location"), starlark.StringDict{
			"RESOURCE": starlark.String("resource"), "NAV": starlark.String("nav"),
		}),
	}
}

// inputBuilder makes text_input(name, label=”, default=”, placeholder=”),
// bool_input(name, label=”, default=False, true_string=None, false_string=None) and
// choice_input(name, label=”, choices=[]): a ui_input_spec value.
func inputBuilder(kind string) builtinFunc {
	return func(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var name, label, placeholder string
		var def starlark.Value = starlark.None
		var trueS, falseS starlark.Value
		var choices stringList
		params := []any{"name", &name, "label?", &label}
		switch kind {
		case "text":
			params = append(params, "default?", &def, "placeholder?", &placeholder)
		case "bool":
			params = append(params, "default?", &def, "true_string?", &trueS, "false_string?", &falseS)
		case "choice":
			params = append(params, "choices?", &choices)
		}
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, params...); err != nil {
			return nil, err
		}
		spec := starlark.StringDict{}
		switch kind {
		case "text":
			spec["default_value"], spec["placeholder"] = def, starlark.String(placeholder)
		case "bool":
			spec["default_value"] = def
		case "choice":
			spec["choices"] = toStarlarkList(choices)
		}
		return starlarkstruct.FromStringDict(starlark.String("v1alpha1.ui_input_spec"), starlark.StringDict{
			"name": starlark.String(name), "label": starlark.String(label),
			kind: starlarkstruct.FromStringDict(starlark.String("v1alpha1.ui_"+kind+"_input_spec"), spec),
		}), nil
	}
}

// cmdButton is cmd_button(name, resource=”, argv=[], text=None, location='resource',
// icon_name=”, icon_svg=”, dir=”, env=[], inputs=[], requires_confirmation=False).
func (s *State) cmdButton(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name, resource, iconName, location, dir string
	var text starlark.Value = starlark.None
	var iconSVG starlark.Value
	var argv, env stringList
	var inputs starlark.Value
	var confirm bool
	location = "resource"
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "resource?", &resource, "argv?", &argv,
		"text?", &text, "location?", &location, "icon_name?", &iconName, "icon_svg?", &iconSVG, "dir?", &dir,
		"env?", &env, "inputs?", &inputs, "requires_confirmation?", &confirm); err != nil {
		return nil, err
	}
	if s.opts.Subcommand != "watch" {
		return starlark.None, nil
	}
	if len(argv) == 0 {
		return nil, fmt.Errorf("%s(%q): argv is empty; give the command to run as a list", b.Name(), name)
	}
	label, _ := starlark.AsString(text)
	if label == "" {
		label = name
	}
	btn := &plan.Button{Name: name, Text: label, IconName: iconName, RequiresConfirmation: confirm, Pos: pos(t), Location: "global"}
	if location == "resource" && resource != "" {
		btn.Location, btn.Resource = "resource", resource
	}
	var err error
	if btn.Inputs, err = s.buttonInputs(b, name, inputs); err != nil {
		return nil, err
	}
	c, err := s.buttonCommand(t, b, name, argv, dir, env)
	if err != nil {
		return nil, err
	}
	s.buttons = append(s.buttons, btn)
	s.buttonCmds = append(s.buttonCmds, buttonCmd{button: name, cmd: c, pos: pos(t)})
	return starlark.None, nil
}

// minTiltVersionExt is ext://min_tilt_version: min_tilt_version(version) fails when the
// Tilt API kiln follows (TiltVersion) is older than version.
func (s *State) minTiltVersionExt() starlark.StringDict {
	return starlark.StringDict{"min_tilt_version": starlark.NewBuiltin("min_tilt_version", func(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var want string
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "version", &want); err != nil {
			return nil, err
		}
		min, err := semver.NewVersion(strings.TrimPrefix(want, "v"))
		if err != nil {
			return nil, fmt.Errorf("%s(%q): not a version: %v", b.Name(), want, err)
		}
		if semver.MustParse(TiltVersion).LessThan(min) {
			return nil, fmt.Errorf("%s: this project needs Tilt %s or newer; kiln follows the Tiltfile API of Tilt %s", b.Name(), want, TiltVersion)
		}
		return starlark.None, nil
	})}
}

// colorExt is ext://color: color.red(text) and the like wrap text in ANSI colors, unless
// NO_COLOR is set (or TERM=dumb under kiln run, without FORCE_COLOR), as the real one does.
func (s *State) colorExt() starlark.StringDict {
	on := true
	if v, ok := s.getenv("NO_COLOR"); ok && v != "" {
		on = false
	} else if term, _ := s.getenv("TERM"); term == "dumb" && s.opts.Subcommand != "watch" {
		if f, _ := s.getenv("FORCE_COLOR"); f == "" {
			on = false
		}
	}
	funcs := starlark.StringDict{}
	for i, name := range []string{"black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"} {
		code := 30 + i
		funcs[name] = starlark.NewBuiltin("color."+name, func(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			var text string
			if err := starlark.UnpackArgs(b.Name(), args, kwargs, "s", &text); err != nil {
				return nil, err
			}
			if !on {
				return starlark.String(text), nil
			}
			return starlark.String(fmt.Sprintf("\x1b[%dm%s\x1b[0m", code, text)), nil
		})
	}
	return starlark.StringDict{"color": starlarkstruct.FromStringDict(starlark.String("color"), funcs)}
}

// dotenvExt is ext://dotenv: dotenv(fn='.env') sets each KEY=VALUE of the file (relative to
// the calling file; quotes and multi-line double-quoted values as docker compose reads them)
// as os.putenv would, for the rest of the evaluation and the commands it starts.
func (s *State) dotenvExt() starlark.StringDict {
	return starlark.StringDict{"dotenv": starlark.NewBuiltin("dotenv", func(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		fn := ".env"
		var showValues bool
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "fn?", &fn, "showValues?", &showValues); err != nil {
			return nil, err
		}
		path := s.abs(t, fn)
		data, err := s.host.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", b.Name(), err)
		}
		values, err := dotenv.UnmarshalBytesWithLookup(data, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %v", b.Name(), s.rel(path), err)
		}
		for k, v := range values {
			v := v
			s.env[k] = &v
		}
		return starlark.None, nil
	})}
}

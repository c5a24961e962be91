package builtins

import (
	"fmt"
	"sort"
	"strings"

	"github.com/kiln-dev/kiln/builtins/k8syaml"
	"github.com/kiln-dev/kiln/runtime/plan"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// Tilt's v1alpha1 UI objects: ui_button() and the cmd() a button starts, and the builders of
// their field values. kiln records each button, with its command, in the plan (plan.Button).

// buttonBuiltins are the v1alpha1 members for buttons.
func (s *State) buttonBuiltins() starlark.StringDict {
	return starlark.StringDict{
		"ui_button":             starlark.NewBuiltin("v1alpha1.ui_button", s.uiButton),
		"cmd":                   starlark.NewBuiltin("v1alpha1.cmd", s.v1alpha1Cmd),
		"start_on_spec":         specBuilder("v1alpha1.start_on_spec", "start_after", "ui_buttons", "file_watches"),
		"restart_on_spec":       specBuilder("v1alpha1.restart_on_spec", "file_watches", "ui_buttons"),
		"ui_component_location": specBuilder("v1alpha1.ui_component_location", "component_id", "component_type"),
		"ui_input_spec":         specBuilder("v1alpha1.ui_input_spec", "name", "label", "text", "bool", "hidden", "choice"),
		"ui_text_input_spec":    specBuilder("v1alpha1.ui_text_input_spec", "default_value", "placeholder", "multiline"),
		"ui_bool_input_spec":    specBuilder("v1alpha1.ui_bool_input_spec", "default_value", "true_string", "false_string"),
		"ui_hidden_input_spec":  specBuilder("v1alpha1.ui_hidden_input_spec", "value"),
		"ui_choice_input_spec":  specBuilder("v1alpha1.ui_choice_input_spec", "choices"),
	}
}

// specBuilder makes a constructor of a v1alpha1 field value: keyword arguments among fields,
// returned as a struct of them (what Tilt's objects hold, and what ui_button and cmd read).
func specBuilder(name string, fields ...string) *starlark.Builtin {
	return starlark.NewBuiltin(name, func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		if len(args) > 0 {
			return nil, fmt.Errorf("%s: give the fields by name (%s)", b.Name(), strings.Join(fields, ", "))
		}
		for _, kv := range kwargs {
			k := string(kv[0].(starlark.String))
			if !contains(fields, k) {
				return nil, fmt.Errorf("%s: unexpected keyword argument %q; the fields are %s", b.Name(), k, strings.Join(fields, ", "))
			}
		}
		return starlarkstruct.FromKeywords(starlark.String(name), kwargs), nil
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// field reads a field of a spec value: a struct from a builder, or a dict as Tiltfiles
// often pass (location={'component_type': 'resource', ...}). None when absent.
func field(v starlark.Value, name string) starlark.Value {
	switch v := v.(type) {
	case *starlarkstruct.Struct:
		x, err := v.Attr(name)
		if err != nil {
			return starlark.None
		}
		return x
	case *starlark.Dict:
		x, found, _ := v.Get(starlark.String(name))
		if !found {
			return starlark.None
		}
		return x
	}
	return starlark.None
}

func fieldString(v starlark.Value, name string) string {
	s, _ := starlark.AsString(field(v, name))
	return s
}

// uiButton is v1alpha1.ui_button(name, text, location, icon_name, disabled,
// requires_confirmation, inputs, ...).
func (s *State) uiButton(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name, text, iconName, iconSVG string
	var location, inputs, labels, annotations starlark.Value
	var disabled, confirm bool
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "labels?", &labels, "annotations?", &annotations,
		"text?", &text, "icon_name?", &iconName, "icon_svg?", &iconSVG, "location?", &location,
		"disabled?", &disabled, "requires_confirmation?", &confirm, "inputs?", &inputs); err != nil {
		return nil, err
	}
	btn := plan.Button{Name: name, Text: text, IconName: iconName, Disabled: disabled, RequiresConfirmation: confirm, Pos: pos(t), Location: "global"}
	if location != nil && location != starlark.None {
		kind := strings.ToLower(fieldString(location, "component_type"))
		switch kind {
		case "resource":
			btn.Location, btn.Resource = "resource", fieldString(location, "component_id")
			if btn.Resource == "" {
				return nil, fmt.Errorf("%s(%q): a location of type resource needs component_id, the resource's name", b.Name(), name)
			}
		case "global", "nav", "":
		default:
			return nil, fmt.Errorf("%s(%q): location component_type %q: want 'resource' or 'global'", b.Name(), name, kind)
		}
	}
	var err error
	if btn.Inputs, err = s.buttonInputs(b, name, inputs); err != nil {
		return nil, err
	}
	s.buttons = append(s.buttons, &btn)
	return starlark.None, nil
}

// buttonInputs reads a button's inputs (a list of ui_input_spec values) and checks that no
// button of that name exists yet.
func (s *State) buttonInputs(b *starlark.Builtin, name string, inputs starlark.Value) ([]plan.ButtonInput, error) {
	for _, prev := range s.buttons {
		if prev.Name == name {
			return nil, fmt.Errorf("%s(%q): a button of that name was declared at %s", b.Name(), name, prev.Pos)
		}
	}
	if inputs == nil || inputs == starlark.None {
		return nil, nil
	}
	seq, ok := inputs.(starlark.Indexable)
	if !ok {
		return nil, fmt.Errorf("%s(%q): inputs must be a list of v1alpha1.ui_input_spec(), got %s", b.Name(), name, inputs.Type())
	}
	var out []plan.ButtonInput
	for i := 0; i < seq.Len(); i++ {
		in, err := buttonInput(seq.Index(i))
		if err != nil {
			return nil, fmt.Errorf("%s(%q): inputs[%d]: %v", b.Name(), name, i, err)
		}
		out = append(out, in)
	}
	return out, nil
}

// buttonCommand is the command a button starts: argv in dir (relative to the calling file),
// with env given as KEY=VALUE entries.
func (s *State) buttonCommand(t *starlark.Thread, b *starlark.Builtin, name string, argv []string, dir string, env []string) (*plan.Command, error) {
	c := &plan.Command{Argv: argv}
	if dir != "" {
		c.Dir = s.rel(s.abs(t, dir))
	}
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("%s(%q): env entry %q: want KEY=VALUE", b.Name(), name, kv)
		}
		if c.Env == nil {
			c.Env = map[string]string{}
		}
		c.Env[k] = v
	}
	return c, nil
}

// buttonInput reads a ui_input_spec: exactly one of text, bool, hidden, choice.
func buttonInput(v starlark.Value) (plan.ButtonInput, error) {
	in := plan.ButtonInput{Name: fieldString(v, "name"), Label: fieldString(v, "label")}
	if in.Name == "" {
		return in, fmt.Errorf("an input needs a name (v1alpha1.ui_input_spec(name=...)): it is the environment variable the command sees")
	}
	for _, kind := range []string{"text", "bool", "hidden", "choice"} {
		spec := field(v, kind)
		if spec == starlark.None {
			continue
		}
		if in.Type != "" {
			return in, fmt.Errorf("input %q has both %s and %s; give one", in.Name, in.Type, kind)
		}
		in.Type = kind
		switch kind {
		case "text":
			in.Default, in.Placeholder = fieldString(spec, "default_value"), fieldString(spec, "placeholder")
		case "bool":
			in.Default = "false"
			if field(spec, "default_value").Truth() {
				in.Default = "true"
			}
		case "hidden":
			in.Default = fieldString(spec, "value")
		case "choice":
			choices, err := toStringList(field(spec, "choices"))
			if err != nil {
				return in, fmt.Errorf("input %q: choices: %v", in.Name, err)
			}
			in.Choices = choices
			if len(choices) > 0 {
				in.Default = choices[0]
			}
		}
	}
	if in.Type == "" {
		in.Type = "text"
	}
	return in, nil
}

// v1alpha1Cmd is v1alpha1.cmd(name, args, dir, env, start_on, ...): a command. kiln runs it
// when a button its start_on names is pressed; a cmd started otherwise gets a warning.
func (s *State) v1alpha1Cmd(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name, dir string
	var argv, env stringList
	var labels, annotations, readiness, restartOn, startOn, disableSource starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "labels?", &labels, "annotations?", &annotations,
		"args?", &argv, "dir?", &dir, "env?", &env, "readiness_probe?", &readiness, "restart_on?", &restartOn,
		"start_on?", &startOn, "disable_source?", &disableSource); err != nil {
		return nil, err
	}
	if len(argv) == 0 {
		return nil, fmt.Errorf("%s(%q): args is empty; give the command to run as a list", b.Name(), name)
	}
	buttons, err := toStringList(field(startOn, "ui_buttons"))
	if err != nil {
		return nil, fmt.Errorf("%s(%q): start_on.ui_buttons: %v", b.Name(), name, err)
	}
	if len(buttons) == 0 {
		s.warn("%s: %s(%q): only a command started by a button (start_on=v1alpha1.start_on_spec(ui_buttons=[...])) is run by kiln; use local_resource() for anything else", pos(t), b.Name(), name)
		return starlark.None, nil
	}
	c, err := s.buttonCommand(t, b, name, argv, dir, env)
	if err != nil {
		return nil, err
	}
	for _, bn := range buttons {
		s.buttonCmds = append(s.buttonCmds, buttonCmd{button: bn, cmd: c, pos: pos(t)})
	}
	return starlark.None, nil
}

type buttonCmd struct {
	button string
	cmd    *plan.Command
	pos    string
}

// planButtons joins buttons and their commands, sorted by name. A button for a resource the
// project lacks, or a command for no button, is a warning.
func (s *State) planButtons(known map[string]bool) []plan.Button {
	byName := map[string]*plan.Button{}
	for _, b := range s.buttons {
		byName[b.Name] = b
	}
	for _, bc := range s.buttonCmds {
		b := byName[bc.button]
		if b == nil {
			s.warn("%s: v1alpha1.cmd: start_on names button %q, which no v1alpha1.ui_button declares; the command never runs", bc.pos, bc.button)
			continue
		}
		b.Command = bc.cmd
	}
	out := make([]plan.Button, 0, len(s.buttons))
	for _, b := range s.buttons {
		if b.Location == "resource" && !known[b.Resource] {
			s.warn("%s: v1alpha1.ui_button(%q): resource %q is not a resource of this project; the button is shown with the global ones", b.Pos, b.Name, b.Resource)
			b.Location = "global"
		}
		out = append(out, *b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// tiltApplyInput recognizes the way extensions create Tilt API objects (the real uibutton):
// `echo "${TILT_APPLY_YAML}" | EXE apply -f -`, where EXE is sys.executable (kiln) or tilt,
// with the YAML in the command's environment. It returns that YAML.
func tiltApplyInput(display string, env map[string]string) (string, bool) {
	fields := strings.Fields(display)
	if len(fields) != 7 || fields[0] != "echo" || fields[2] != "|" || fields[4] != "apply" || fields[5] != "-f" || fields[6] != "-" {
		return "", false
	}
	if exe := fields[3]; fields[1] != `"${TILT_APPLY_YAML}"` || exe != "kiln" && exe != "tilt" {
		return "", false
	}
	yaml, ok := env["TILT_APPLY_YAML"]
	return yaml, ok
}

// applyTiltObjects records the UIButton and Cmd objects of a `tilt apply` (see
// tiltApplyInput) as buttons; any other kind is an error, since kiln has no API server.
func (s *State) applyTiltObjects(t *starlark.Thread, b *starlark.Builtin, text string) error {
	objs, err := k8syaml.DecodeObjects("tilt apply input at "+pos(t), []byte(text))
	if err != nil {
		return fmt.Errorf("%s: %v", b.Name(), err)
	}
	str := func(m map[string]any, keys ...string) string {
		var v any = m
		for _, k := range keys {
			mm, _ := v.(map[string]any)
			v = mm[k]
		}
		x, _ := v.(string)
		return x
	}
	for _, o := range objs {
		spec, _ := o["spec"].(map[string]any)
		if spec == nil {
			spec = map[string]any{}
		}
		switch {
		case o.Kind() == "UIButton":
			btn := &plan.Button{Name: o.Name(), Text: str(spec, "text"), IconName: str(spec, "iconName"), Pos: pos(t), Location: "global"}
			btn.Disabled, _ = spec["disabled"].(bool)
			btn.RequiresConfirmation, _ = spec["requiresConfirmation"].(bool)
			if strings.EqualFold(str(spec, "location", "componentType"), "resource") {
				btn.Location, btn.Resource = "resource", str(spec, "location", "componentID")
			}
			inputs, _ := spec["inputs"].([]any)
			for _, x := range inputs {
				in, _ := x.(map[string]any)
				bi := plan.ButtonInput{Name: str(in, "name"), Label: str(in, "label"), Type: "text"}
				switch {
				case in["bool"] != nil:
					bi.Type = "bool"
					if d, _ := in["bool"].(map[string]any)["defaultValue"].(bool); d {
						bi.Default = "true"
					} else {
						bi.Default = "false"
					}
				case in["hidden"] != nil:
					bi.Type, bi.Default = "hidden", str(in, "hidden", "value")
				case in["choice"] != nil:
					bi.Type = "choice"
					choices, _ := in["choice"].(map[string]any)["choices"].([]any)
					for _, c := range choices {
						if cs, ok := c.(string); ok {
							bi.Choices = append(bi.Choices, cs)
						}
					}
				default:
					bi.Default, bi.Placeholder = str(in, "text", "defaultValue"), str(in, "text", "placeholder")
				}
				btn.Inputs = append(btn.Inputs, bi)
			}
			for _, prev := range s.buttons {
				if prev.Name == btn.Name {
					return fmt.Errorf("%s: tilt apply: a button named %q was declared at %s", b.Name(), btn.Name, prev.Pos)
				}
			}
			s.buttons = append(s.buttons, btn)
		case o.Kind() == "Cmd":
			argv := []string{}
			list, _ := spec["args"].([]any)
			for _, a := range list {
				if as, ok := a.(string); ok {
					argv = append(argv, as)
				}
			}
			c := &plan.Command{Argv: argv}
			if dir := str(spec, "dir"); dir != "" {
				c.Dir = s.rel(dir)
			}
			envList, _ := spec["env"].([]any)
			for _, e := range envList {
				if es, ok := e.(string); ok {
					if k, v, ok := strings.Cut(es, "="); ok {
						if c.Env == nil {
							c.Env = map[string]string{}
						}
						c.Env[k] = v
					}
				}
			}
			startOn, _ := spec["startOn"].(map[string]any)
			buttons, _ := startOn["uiButtons"].([]any)
			for _, bn := range buttons {
				if name, ok := bn.(string); ok {
					s.buttonCmds = append(s.buttonCmds, buttonCmd{button: name, cmd: c, pos: pos(t)})
				}
			}
		default:
			return fmt.Errorf("%s: tilt apply of %s %q: kiln has no API server for Tilt's objects; only UIButton and Cmd are recorded (as buttons)", b.Name(), o.Kind(), o.Name())
		}
	}
	return nil
}
